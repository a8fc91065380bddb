"""The seq2seq bottleneck experiment of chapter 1, on a tiny budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from minitransformer.data import encode_pairs, toy_task, toy_vocab
from minitransformer.experiments import bottleneck as bn

TINY = bn.Budget(steps=3, batch_size=8, num_train=64, num_test=4, lengths=(3, 6), hidden=16)


@pytest.fixture(scope="module")
def result() -> bn.BottleneckResult:
    return bn.run(TINY)


def test_build_model_kinds() -> None:
    for kind in bn.KINDS:
        model = bn.build_model(kind, 24, hidden=16, max_len=12)
        out = model(torch.randint(4, 24, (2, 5)), torch.randint(4, 24, (2, 6)))
        assert out.logits.shape == (2, 6, 24)
    with pytest.raises(ValueError, match="kind"):
        bn.build_model("lstm", 24)


def test_run_scores_every_model_at_every_length(result) -> None:
    assert list(result.models) == list(bn.KINDS)
    for model in result.models.values():
        assert set(model.by_position) == {3, 6}
        assert model.by_position[6].shape == (7,)  # 6 symbols + <eos>
        assert all(0.0 <= model.accuracy(length) <= 1.0 for length in (3, 6))
        assert model.parameters > 0 and model.seconds > 0 and np.isfinite(model.final_loss)
        assert model.model is not None
    rows = result.table()
    assert [row["model"] for row in rows] == [bn.LABELS[k] for k in bn.KINDS]
    assert {"L=3", "L=6", "parameters", "train s"} <= set(rows[0])


def test_position_accuracy_counts_right_symbols_and_eos() -> None:
    vocab = toy_vocab()

    class Echo(torch.nn.Module):
        """Copies perfectly: at decoder position t it predicts source token t (then <eos>)."""

        def encode(self, source_ids):
            return source_ids

        def decode(self, target_ids, encoded):
            T = target_ids.size(1)
            logits = torch.full((encoded.size(0), T, len(vocab)), -1e4)
            for t in range(T):
                column = encoded[:, t] if t < encoded.size(1) else torch.full_like(encoded[:, 0], 2)
                logits[torch.arange(encoded.size(0)), t, column] = 0.0
            return type("Out", (), {"logits": logits})()

    pairs = toy_task(5, (4,), seed=1)
    np.testing.assert_allclose(bn.position_accuracy(Echo(), pairs, vocab), np.ones(5))


def test_train_one_is_seeded_and_trains() -> None:
    vocab = toy_vocab()
    data = encode_pairs(toy_task(32, (3,), seed=0), vocab, vocab)
    first = bn.train_one("gru", data, len(vocab), TINY)
    again = bn.train_one("gru", data, len(vocab), TINY)
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # same seed, same weights after training
    other = bn.train_one("gru", data, len(vocab), replace(TINY, seed=1))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(first.model.parameters(), other.model.parameters(), strict=True)
    )
    assert first.seconds > 0 and np.isfinite(first.final_loss)
    untrained = bn.train_one("transformer", data, len(vocab), replace(TINY, steps=0))
    assert np.isnan(untrained.final_loss)


def test_run_seeds_summarises_over_seeds() -> None:
    study = bn.run_seeds(TINY, seeds=(0, 1), kinds=["gru", "transformer"])
    assert study.seeds == (0, 1) and study.kinds == ["gru", "transformer"]
    assert [run.budget.seed for run in study.runs] == [0, 1]
    values = study.accuracies("gru", 6)
    assert values.shape == (2,)
    assert values[1] == study.runs[1].models["gru"].accuracy(6)
    assert study.positions("gru", 3).shape == (2, 4)
    assert study.seconds("transformer").shape == (2,)
    rows = study.table()
    mean, low, high = values.mean(), values.min(), values.max()
    assert rows[0]["L=6"] == f"{mean:.2f} ({low:.2f}-{high:.2f})"
    assert isinstance(bn.accuracy_figure(study), Figure)
    fig = bn.position_slider(study)
    assert len(fig.data) == 2 and len(fig.data[0].customdata) == 7  # 6 positions + <eos>
    assert "2 seeds" in fig.layout.yaxis.title.text
    with pytest.raises(ValueError, match="seeds"):
        bn.run_seeds(TINY, seeds=(1, 1))
    with pytest.raises(ValueError, match="kinds"):
        bn.run(TINY, kinds=["lstm"])


def test_reverse_task_and_figures(result) -> None:
    reverse = bn.run(bn.Budget(**{**vars(TINY), "task": "reverse"}), kinds=["transformer"])
    assert list(reverse.models) == ["transformer"]
    assert isinstance(bn.accuracy_figure(result), Figure)
    fig = bn.position_slider(result)
    assert len(fig.data) == 3 and len(fig.layout.sliders[0].steps) == 2
    step = fig.layout.sliders[0].steps[0]
    assert step.args[0]["x"][0] == ["1", "2", "3", "<eos>"]
    flow = bn.data_flow_figure(list("abc"), list("abc"), np.eye(3))
    assert isinstance(flow, Figure) and len(flow.axes) == 2
    with pytest.raises(ValueError, match="weights"):
        bn.data_flow_figure(list("abc"), list("ab"), np.eye(3))
