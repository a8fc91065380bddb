"""Training: the schedule, the loss, determinism, overfitting one batch, callbacks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from minitransformer import Transformer, TransformerConfig
from minitransformer.data import EncodedPairs, encode_pairs, toy_task, toy_vocab
from minitransformer.decoding import exact_match
from minitransformer.training import (
    BatchSampler,
    label_smoothed_cross_entropy,
    noam_lr,
    train,
)


def tiny_model(vocab_size: int, seed: int = 0, dropout: float = 0.0) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        vocab_size, vocab_size, d_model=32, num_heads=2, num_layers=1, d_ff=64,
        dropout=dropout, max_len=32,
    )  # fmt: skip
    return Transformer(config)


@pytest.fixture(scope="module")
def copy_data() -> tuple[EncodedPairs, int]:
    vocab = toy_vocab(8)
    return encode_pairs(toy_task(64, (2, 3, 4), num_symbols=8, seed=0), vocab, vocab), len(vocab)


# -- the schedule ---------------------------------------------------------------------------


def test_noam_lr_at_known_points():
    d, warmup = 512, 4000
    assert noam_lr(0, d, warmup) == 0.0
    assert noam_lr(1, d, warmup) == pytest.approx(512**-0.5 * 4000**-1.5)
    peak = noam_lr(4000, d, warmup)
    assert peak == pytest.approx(6.987712429686844e-4)  # (512 * 4000)^-0.5
    assert noam_lr(2000, d, warmup) == pytest.approx(peak / 2)  # linear warm-up
    assert noam_lr(16000, d, warmup) == pytest.approx(peak / 2)  # 1/sqrt decay
    assert max(noam_lr(s, d, warmup) for s in range(1, 10000, 7)) <= peak
    assert noam_lr(100, 64, 10, factor=2.0) == pytest.approx(2 * noam_lr(100, 64, 10))
    for bad in [(-1, 64, 10), (1, 0, 10), (1, 64, 0)]:
        with pytest.raises(ValueError):
            noam_lr(*bad)


# -- the loss -------------------------------------------------------------------------------


def test_label_smoothing_matches_torch_and_known_values():
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 11)
    labels = torch.randint(1, 11, (3, 5))
    labels[0, 3:] = 0
    for eps in (0.0, 0.1, 0.3):
        expected = F.cross_entropy(
            logits.reshape(-1, 11), labels.reshape(-1), ignore_index=0, label_smoothing=eps
        )
        ours = label_smoothed_cross_entropy(logits, labels, smoothing=eps)
        assert ours.item() == pytest.approx(expected.item(), rel=1e-5)
    # Uniform logits: every word has probability 1/V, the loss is log V whatever eps.
    uniform = torch.zeros(2, 4, 11)
    for eps in (0.0, 0.1):
        value = label_smoothed_cross_entropy(uniform, labels[:2, :4], smoothing=eps)
        assert value.item() == pytest.approx(math.log(11))
    # A confident right answer still pays for smoothing: eps * mean(-log p) > 0.
    confident = torch.full((1, 1, 11), -20.0)
    confident[0, 0, 4] = 20.0
    gold = torch.tensor([[4]])
    assert label_smoothed_cross_entropy(confident, gold, smoothing=0.0).item() < 1e-6
    assert label_smoothed_cross_entropy(confident, gold, smoothing=0.1).item() > 1.0


def test_loss_ignores_padding():
    torch.manual_seed(2)
    logits = torch.randn(2, 6, 9)
    labels = torch.tensor([[5, 6, 7, 0, 0, 0], [4, 4, 4, 4, 4, 2]])
    before = label_smoothed_cross_entropy(logits, labels)
    changed = logits.clone()
    changed[0, 3:] = torch.randn(3, 9) * 100  # garbage where the labels are <pad>
    assert label_smoothed_cross_entropy(changed, labels).item() == pytest.approx(before.item())
    # The mean is over the 9 real labels, not the 12 positions.
    per_row = [label_smoothed_cross_entropy(logits[i : i + 1], labels[i : i + 1]) for i in (0, 1)]
    assert before.item() == pytest.approx((3 * per_row[0] + 6 * per_row[1]).item() / 9)
    assert label_smoothed_cross_entropy(logits, torch.zeros_like(labels)).item() == 0.0


def test_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothed_cross_entropy(torch.zeros(1, 2, 3), torch.ones(1, 2, dtype=torch.long),
                                     smoothing=1.0)  # fmt: skip
    with pytest.raises(ValueError, match="do not match"):
        label_smoothed_cross_entropy(torch.zeros(1, 2, 3), torch.ones(1, 3, dtype=torch.long))


# -- the loop -------------------------------------------------------------------------------


def test_same_seed_same_loss_curve(copy_data):
    data, vocab_size = copy_data
    runs = [
        train(tiny_model(vocab_size, dropout=0.1), data, steps=6, batch_size=8, seed=5,
              progress=False).loss
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]
    other = train(tiny_model(vocab_size, dropout=0.1), data, steps=6, batch_size=8, seed=6,
                  progress=False)  # fmt: skip
    assert other.loss != runs[0]


def test_a_model_overfits_one_batch(copy_data):
    data, vocab_size = copy_data
    batch = EncodedPairs(data.source[:8], data.target[:8])
    model = tiny_model(vocab_size)
    history = train(model, batch, steps=100, batch_size=8, warmup=20, lr_factor=0.5,
                    label_smoothing=0.0, progress=False)  # fmt: skip
    assert history.loss[-1] < 0.01 < 1.0 < history.loss[0]
    assert history.accuracy[-1] == 1.0
    assert exact_match(model, batch) == 1.0
    assert not model.training  # train() leaves the model in eval mode


def test_history_and_schedule(copy_data):
    data, vocab_size = copy_data
    history = train(tiny_model(vocab_size), data, steps=5, batch_size=16, warmup=3,
                    progress=False)  # fmt: skip
    assert history.step == [1, 2, 3, 4, 5] and len(history) == 5
    assert len(history.loss) == len(history.accuracy) == len(history.target_tokens) == 5
    assert history.learning_rate == [pytest.approx(noam_lr(s, 32, 3)) for s in range(1, 6)]
    assert all(0.0 <= a <= 1.0 for a in history.accuracy)
    assert all(n > 0 for n in history.target_tokens)
    assert history.seconds > 0 and not history.stopped_early


def test_callback_snapshots_and_early_stop(copy_data):
    data, vocab_size = copy_data
    seen = []

    def snapshot(step, model, history):
        assert not model.training and not torch.is_grad_enabled()
        seen.append((step, len(history)))
        return step >= 4

    history = train(tiny_model(vocab_size), data, steps=10, batch_size=8, callback=snapshot,
                    callback_every=2, progress=False)  # fmt: skip
    assert seen == [(0, 0), (2, 2), (4, 4)]
    assert history.stopped_early and len(history) == 4

    calls = []
    train(tiny_model(vocab_size), data, steps=5, batch_size=8, progress=False,
          callback=lambda step, model, history: calls.append(step), callback_every=2)  # fmt: skip
    assert calls == [0, 2, 4, 5]  # and after the last step


def test_progress_bar_only_on_stderr(copy_data, capsys):
    data, vocab_size = copy_data
    train(tiny_model(vocab_size), data, steps=3, batch_size=8, progress=False)
    assert capsys.readouterr() == ("", "")
    train(tiny_model(vocab_size), data, steps=3, batch_size=8, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "training" in captured.err


def test_batch_sampler_covers_an_epoch(copy_data):
    data, _ = copy_data
    sampler = BatchSampler(data, 16, seed=0)
    seen = set()
    for _ in range(4):
        source, target = sampler.next_batch()
        assert source.shape[0] == target.shape[0] == 16
        assert (target[:, 0] == 1).all()  # every row starts with <sos>
        seen |= {tuple(row.tolist()) for row in source}
    distinct = {tuple(row) for row in data.source}
    assert len(seen) == len(distinct)  # 4 batches of 16 = one pass over the 64 pairs
    assert BatchSampler(data, 1000).batch_size == len(data)


def test_bad_training_arguments(copy_data):
    data, vocab_size = copy_data
    model = tiny_model(vocab_size)
    with pytest.raises(ValueError, match="empty"):
        train(model, EncodedPairs([], []), steps=1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, data, steps=1, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train(model, data, steps=-1, progress=False)
    with pytest.raises(ValueError, match="callback_every"):
        train(model, data, steps=1, callback_every=0, progress=False)
