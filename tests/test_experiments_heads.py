"""Chapter 6's head experiment: ablation hooks, head statistics, head-count comparison."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

import minitransformer as mt
from minitransformer.experiments import heads


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread avoids oversubscription on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus() -> mt.Corpus:
    return mt.make_corpus(40, 6, seed=0)


@pytest.fixture
def model(corpus: mt.Corpus) -> mt.Transformer:
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(
        len(corpus.src_vocab), len(corpus.tgt_vocab), d_model=16, num_heads=2, d_ff=32, max_len=16
    )
    return mt.Transformer(config).eval()


def test_attention_modules(model: mt.Transformer) -> None:
    names = list(heads.attention_modules(model))
    assert names == ["enc0.self", "enc1.self", "dec0.self", "dec0.cross", "dec1.self", "dec1.cross"]


def test_ablated_zeroes_the_heads_and_restores(model: mt.Transformer) -> None:
    attention = heads.attention_modules(model)["enc0.self"]
    x = torch.randn(1, 3, 16)
    with torch.no_grad():
        before, _ = attention(x, x, x)
        with heads.ablated(model, {"enc0.self": [0, 1]}):
            removed, _ = attention(x, x, x)
        with heads.ablated(model, {"enc0.self": [1]}):
            one, _ = attention(x, x, x)
        after, _ = attention(x, x, x)
    torch.testing.assert_close(removed, attention.w_o.bias.expand_as(removed))
    assert not torch.allclose(one, before) and not torch.allclose(one, removed)
    torch.testing.assert_close(after, before)
    assert not attention.w_o._forward_pre_hooks
    with pytest.raises(KeyError, match="no attention module"), heads.ablated(model, {"x": [0]}):
        pass
    with pytest.raises(ValueError, match=r"heads 0\.\.1"), heads.ablated(model, {"enc0.self": [2]}):
        pass


def test_head_statistics(model: mt.Transformer, corpus: mt.Corpus) -> None:
    stats = heads.head_statistics(model, corpus.encoded("held_out"))
    assert set(stats.entropy) == set(heads.attention_modules(model))
    for name, overlap in stats.overlap.items():
        assert overlap.shape == (2, 2)
        torch.testing.assert_close(overlap.diagonal(), torch.ones(2), atol=1e-5, rtol=0)
        assert torch.all(stats.entropy[name] <= stats.max_entropy[name] + 1e-5)
        assert torch.all(stats.entropy[name] >= 0)
    from minitransformer import viz

    viz.setup()
    assert isinstance(heads.statistics_figure(stats), Figure)


def test_ablation_study(model: mt.Transformer, corpus: mt.Corpus) -> None:
    held_out = corpus.encoded("held_out")
    data = mt.EncodedPairs(held_out.source[:3], held_out.target[:3])
    result = heads.ablation_study(model, data)
    assert len(result.single_em) == 12 and len(result.cumulative_em) == 12
    assert sorted(result.order) == sorted(result.single_em)
    assert result.baseline_loss == pytest.approx(heads.teacher_forced_loss(model, data))
    assert 0.0 <= result.baseline_em <= 1.0
    assert result.order == heads.kind_order(model)
    assert [name for name, _ in result.order[::2]] == [
        "enc0.self",
        "enc1.self",
        "dec0.self",
        "dec1.self",
        "dec0.cross",
        "dec1.cross",
    ]
    short = heads.ablation_study(model, data, order=[("dec1.cross", 1)])
    assert short.order == [("dec1.cross", 1)] and len(short.cumulative_em) == 1
    from minitransformer import viz

    viz.setup()
    assert isinstance(heads.ablation_figure(result), Figure)


def test_greedy_scores_match_the_package(model: mt.Transformer, corpus: mt.Corpus) -> None:
    held_out = corpus.encoded("held_out")
    data = mt.EncodedPairs(held_out.source[:3], held_out.target[:3])
    exact, accuracy = heads.greedy_scores(model, data)
    assert exact == mt.exact_match(model, data)
    assert accuracy == pytest.approx(mt.token_accuracy(model, data))


def test_compare_head_counts(corpus: mt.Corpus) -> None:
    results = heads.compare_head_counts(
        corpus, (1, 2), steps=3, batch_size=8, held_out=4, d_model=16, d_ff=32
    )
    assert [r.num_heads for r in results] == [1, 2]
    assert [r.d_head for r in results] == [16, 8]
    assert results[0].parameters == results[1].parameters
    assert len(results[0].loss_curve) == 3 and results[0].held_out_loss > 0


def test_multihead_figure() -> None:
    from minitransformer import viz

    viz.setup()
    weights = torch.softmax(torch.randn(2, 3, 3), -1)
    fig = heads.multihead_figure(
        weights, torch.randn(3, 8), torch.randn(3, 8), ["어제", "카페", "갔었어"]
    )
    assert isinstance(fig, Figure)
