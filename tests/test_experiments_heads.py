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
    assert heads.decode_limit(data) == max(len(t) for t in data.target) - 1
    exact, accuracy = heads.greedy_scores(model, data)  # decodes at most decode_limit words
    assert exact == mt.exact_match(model, data)  # the package decodes further: same scores
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


def _run(seed: int, num_heads: int, loss: float, em: float) -> heads.HeadCountResult:
    return heads.HeadCountResult(
        num_heads=num_heads, d_head=16 // num_heads, parameters=100, final_loss=loss,
        exact_match=em, token_accuracy=em, held_out_loss=loss, loss_curve=[loss],
        seconds=0.0, model=None, seed=seed,
    )  # fmt: skip


def test_seed_spread_verdict_and_table() -> None:
    runs = [_run(0, 1, 1.0, 0.5), _run(0, 4, 0.8, 0.6), _run(1, 1, 1.2, 0.4),
            _run(1, 4, 0.7, 0.5), _run(2, 1, 0.9, 0.7), _run(2, 4, 1.0, 0.9)]  # fmt: skip
    loss = heads.seed_spread(runs, "held_out_loss")
    assert loss[1].values == (1.0, 1.2, 0.9) and loss[4].values == (0.8, 0.7, 1.0)
    assert loss[1].mean == pytest.approx(31 / 30) and (loss[1].low, loss[1].high) == (0.9, 1.2)
    assert heads.verdict(loss, 1, 4, lower_is_better=True) == "no clear difference"
    assert heads.paired_wins(runs, "held_out_loss", 4, 1) == (2, 3)
    assert heads.paired_wins(runs, "exact_match", 4, 1) == (3, 3)
    apart = {1: heads.Spread(2.0, 1.9, 2.1, ()), 4: heads.Spread(1.0, 0.9, 1.1, ())}
    assert heads.verdict(apart, 1, 4, lower_is_better=True) == "H = 4 better"
    assert heads.verdict(apart, 1, 4, lower_is_better=False) == "H = 1 better"
    table = heads.seed_table(runs).splitlines()
    assert table[0].startswith("| H | Dh | parameters | training loss (label-smoothed")
    assert table[2].startswith("| 1 | 16 | 100 | 1.033 [0.900, 1.200] |")
    assert "3 seeds" in table[-1]
    bullets = heads.seed_verdicts(runs, 1, 4).splitlines()
    assert len(bullets) == len(heads.METRICS)
    assert bullets[1].startswith("- held-out loss") and "lower in 2 of 3 seeds" in bullets[1]
    assert bullets[1].endswith("**no clear difference**.")
    assert "[0.900, 1.200] for H = 1, [0.700, 1.000] for H = 4" in bullets[1]
    from minitransformer import viz

    viz.setup()
    fig = heads.seed_curves_figure(runs, smooth=1)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 2
    assert "3 seeds" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="metric"):
        heads.seed_spread(runs, "speed")


def test_compare_head_counts_over_seeds(corpus: mt.Corpus) -> None:
    results = heads.compare_head_counts_over_seeds(
        corpus, (1, 2), seeds=(0, 1), steps=2, batch_size=8, held_out=3, d_model=16, d_ff=32
    )
    assert [(r.seed, r.num_heads) for r in results] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert results[0].loss_curve != results[2].loss_curve  # another seed, another run
    with pytest.raises(ValueError, match="seeds"):
        heads.compare_head_counts_over_seeds(corpus, (1,), seeds=(0, 0), steps=1)


def test_zero_heads_hook_zeroes_one_slice() -> None:
    hook = heads.zero_heads_hook([1], d_head=2)
    concat = torch.arange(1.0, 7.0).reshape(1, 1, 6)
    (out,) = hook(None, (concat,))
    assert out.tolist() == [[[1.0, 2.0, 0.0, 0.0, 5.0, 6.0]]]
    assert concat[0, 0, 2] == 3.0  # the input itself is left alone


def _pair(source: str, target: str = "x") -> mt.Pair:
    return mt.Pair(tuple(source.split()), tuple(target.split()))


def test_constructions_read_off_the_korean_words() -> None:
    found = heads.constructions
    assert found(_pair("어제 카페 갔었어 거기 사람 많더라")) == {"all", "none of these"}
    assert found(_pair("어제 공원 에서 영화 를 민수 가 봤어")) == {
        "all", "봤어 + 영화", "patient first"}  # fmt: skip
    assert found(_pair("어제 공원 에서 민수 가 고양이 를 봤어 걔 귀엽더라")) == {
        "all", "봤어 + person or animal", "걔"}  # fmt: skip
    assert found(_pair("민수 는 어제 도서관 에서 영화 를 봤어 그리고 오늘 공원 에서 지수 를 "
                       "동생 이 만났어")) == {"all", "봤어 + 영화", "patient first"}  # fmt: skip
    # 봤어 + 영화 in one clause and a person in the other: both labels, each from its clause
    assert found(_pair("어제 카페 에서 영화 를 봤어 그리고 오늘 공원 에서 민수 를 봤어")) == {
        "all", "봤어 + 영화", "봤어 + person or animal"}  # fmt: skip
    assert set(heads.CONSTRUCTIONS) >= {"all", "none of these"}


def test_construction_study_counts_and_matches_exact_match() -> None:
    corpus = mt.make_corpus(60, 30, seed=0, grammar="rich", num_longer=0)
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(
        len(corpus.src_vocab), len(corpus.tgt_vocab), d_model=16, num_heads=2, d_ff=32, max_len=48
    )
    model = mt.Transformer(config).eval()
    pairs = corpus.held_out
    conditions = {"all heads": {}, "no encoder self": {"enc0.self": [0, 1], "enc1.self": [0, 1]}}
    result = heads.construction_study(model, pairs, corpus.src_vocab, corpus.tgt_vocab, conditions)
    assert result.sentences["all"] == len(pairs)
    labels = [heads.constructions(pair) for pair in pairs]
    for label in heads.CONSTRUCTIONS:
        assert result.sentences[label] == sum(label in found for found in labels)
    data = corpus.encoded("held_out")
    assert result.exact_match("all heads", "all") == pytest.approx(
        mt.exact_match(model, data, max_len=heads.decode_limit(data)))  # fmt: skip
    with heads.ablated(model, conditions["no encoder self"]):
        removed = mt.exact_match(model, data, max_len=heads.decode_limit(data))
    assert result.exact_match("no encoder self", "all") == pytest.approx(removed)
    assert not heads.attention_modules(model)["enc0.self"].w_o._forward_pre_hooks
    table = heads.construction_table(result)
    assert table.count("\n") == len(heads.CONSTRUCTIONS) + 1 and "no encoder self" in table
