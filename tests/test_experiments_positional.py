"""Chapter 5's properties of the sinusoidal encoding, checked on the package's table."""

from __future__ import annotations

import pytest
import torch

import minitransformer as mt
from minitransformer.experiments import positional


def test_frequencies_match_the_formula() -> None:
    omega = positional.frequencies(8)
    expected = torch.tensor([10000.0 ** (-2 * i / 8) for i in range(4)], dtype=torch.float64)
    torch.testing.assert_close(omega, expected)
    with pytest.raises(ValueError, match="even"):
        positional.frequencies(7)


@pytest.mark.parametrize("k", [0, 1, 5, -3])
def test_shift_matrix_moves_every_position_by_k(k: int) -> None:
    table = mt.sinusoidal_encoding(60, 16, dtype=torch.float64)
    matrix = positional.shift_matrix(k, 16)
    start, stop = max(0, -k), 60 - max(0, k)
    moved = table[start:stop] @ matrix.T  # row p -> row p + k
    torch.testing.assert_close(moved, table[start + k : stop + k])
    torch.testing.assert_close(matrix @ matrix.T, torch.eye(16, dtype=torch.float64))


def test_dot_products_depend_on_distance_only() -> None:
    profile = positional.distance_profile(mt.sinusoidal_encoding(40, 32))
    assert profile["max_spread"] < 1e-4
    assert profile["similarity"].shape == (40, 40)
    assert profile["by_distance"][0] == pytest.approx(16.0)  # |PE(p)|^2 = D/2
    random_table = torch.randn(40, 32, generator=torch.Generator().manual_seed(0))
    assert positional.distance_profile(random_table)["max_spread"] > 1.0


def test_concatenated_layout_is_a_permutation_of_the_paper() -> None:
    perm = positional.halves_permutation(8)
    assert perm.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    torch.testing.assert_close(
        positional.concatenated_encoding(10, 8), mt.sinusoidal_encoding(10, 8)[:, perm]
    )
    with pytest.raises(ValueError):
        positional.halves_permutation(5)


def test_permuted_layer_computes_the_same_function() -> None:
    torch.manual_seed(0)
    layer = mt.EncoderLayer(16, 4, 32, dropout=0.0).eval()
    perm = torch.randperm(16)
    permuted = positional.permute_encoder_layer(layer, perm)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        expected = layer(x)[0][..., perm]
        actual = permuted(x[..., perm])[0]
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    assert not torch.equal(permuted.self_attention.w_q.weight, layer.self_attention.w_q.weight)


def test_same_word_two_positions() -> None:
    table = mt.sinusoidal_encoding(10, 8)
    embedding = torch.randn(8, generator=torch.Generator().manual_seed(1)) / 8**0.5
    same = positional.same_input_two_positions(embedding, (3, 3), table)
    assert same["cosine"] == pytest.approx(1.0) and same["distance"] == pytest.approx(0.0)
    apart = positional.same_input_two_positions(embedding, (1, 4), table)
    assert apart["cosine"] < 0.99 and apart["distance"] > 0.5


def test_figures() -> None:
    from matplotlib.figure import Figure

    from minitransformer import viz

    viz.setup()
    table = mt.sinusoidal_encoding(3, 8)
    fig = positional.input_figure(torch.randn(3, 8), table, ["어제", "카페", "갔었어"])
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert isinstance(positional.layouts_figure(10, 8), Figure)
    slider = positional.similarity_slider((4, 8), length=6)
    assert len(slider.layout.sliders[0].steps) == 2
    z = slider.layout.sliders[0].steps[0].args[0]["z"][0]
    assert z[0][0] == pytest.approx(1.0) and z[2][3] == pytest.approx(z[0][1], abs=1e-3)


# --- positions beyond the training length ------------------------------------------------

TINY = positional.LengthBudget(d_model=8, num_heads=1, num_layers=1, d_ff=16, steps=3,
                               batch_size=8, warmup=2)  # fmt: skip


def _copy_split(threshold: int = 4, longest: int = 7):
    pairs = mt.toy_task(200, tuple(range(2, longest + 1)), num_symbols=6, seed=0)
    return positional.split_by_length(pairs, threshold, num_test=5, seed=1)


def test_split_trains_short_and_tests_every_length() -> None:
    split = _copy_split()
    assert split.lengths == (2, 3, 4, 5, 6, 7)
    assert split.longest_train <= 4 and split.threshold == 4
    assert all(len(group) <= 5 for group in split.test.values())
    test_sources = {pair.source for group in split.test.values() for pair in group}
    assert not test_sources & {pair.source for pair in split.train}  # held out
    assert all(positional.pair_length(p) == length
               for length, group in split.test.items() for p in group)  # fmt: skip


def test_split_works_on_the_corpus_and_drops_unknown_words() -> None:
    corpus = mt.make_corpus(num_train=300, num_held_out=0, seed=0)
    split = positional.split_by_length(corpus.train, 9, num_test=10)
    assert max(split.lengths) > 9 >= split.longest_train
    short = [mt.Pair(words, words) for words in (("x", "y"), ("y", "x"), ("x", "x"), ("y", "y"))]
    unknown = mt.Pair(("x", "new", "x"), ("x", "new", "x"))  # "new" is in no training pair
    odd = positional.split_by_length([*short, unknown], 2, num_test=1)
    assert odd.dropped == 1 and odd.lengths == (2,) and len(odd.train) == 3


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (("not pairs", 3), TypeError),
        (([], 3), TypeError),
        (([mt.Pair(("a",), ("a",))], 0), ValueError),
        (([mt.Pair(("a",), ("a",))], 2.5), TypeError),
        (([mt.Pair(("a", "b"), ("a", "b"))], 1), ValueError),  # nothing short enough
    ],
)
def test_split_refuses_bad_input(arguments, error) -> None:
    with pytest.raises(error):
        positional.split_by_length(*arguments)
    with pytest.raises(ValueError, match="num_test"):
        positional.split_by_length([mt.Pair(("a",), ("a",))], 1, num_test=0)


def test_scores_agree_with_the_decoding_metrics() -> None:
    split = _copy_split()
    run = positional.train_for_lengths(split, "sinusoidal", TINY, seed=0)
    vocab = mt.Vocab.build(pair.source for pair in split.train)
    for length, pairs in split.test.items():
        data = mt.encode_pairs(pairs, vocab, vocab)
        score = run.scores[length]
        assert score.exact == pytest.approx(mt.exact_match(run.model, data))
        assert score.tokens == pytest.approx(mt.token_accuracy(run.model, data))
        assert score.by_position.shape == (length + 1,)
        assert 0 <= score.output_length <= run.model.config.max_len


def test_learned_rows_past_the_training_lengths_never_change() -> None:
    split = _copy_split()
    run = positional.train_for_lengths(split, "learned", TINY, seed=0)
    assert run.model.config.max_len == 9  # covers the longest test pair
    assert run.untrained_change == 0.0 and run.trained_change > 0.0
    sinusoidal = positional.train_for_lengths(split, "sinusoidal", TINY, seed=0)
    assert sinusoidal.untrained_change is None and sinusoidal.seconds >= 0
    with pytest.raises(ValueError, match="positional"):
        positional.train_for_lengths(split, "rotary", TINY)
    with pytest.raises(TypeError, match="split must be a LengthSplit"):
        positional.train_for_lengths(split.train, "learned", TINY)


def test_study_summaries_table_and_figure() -> None:
    from matplotlib.figure import Figure

    from minitransformer import viz

    viz.setup()
    split = _copy_split()
    study = positional.run_length_study(split, TINY, seeds=(0, 1))
    assert study.kinds == ["sinusoidal", "learned"] and study.threshold == 4
    assert study.metric("learned", "exact").shape == (2, len(split.lengths))
    assert study.over("learned", "tokens", beyond=True).shape == (2,)
    assert study.positions("sinusoidal", 7).shape == (2, 8)
    rows = study.table([2, 7])
    assert [row["in training"] for row in rows] == ["yes", "no: longer"]
    assert "exact match, learned" in rows[0]
    assert isinstance(positional.length_figure(study, unit="symbols"), Figure)
    with pytest.raises(ValueError, match="name"):
        study.metric("learned", "bleu")
    with pytest.raises(ValueError, match="no test length"):
        positional.LengthStudy(
            positional.LengthSplit(split.train, {2: split.test[2]}, 4), TINY, (0, 1), study.runs
        ).over("learned", "exact", beyond=True)
    for bad in ({"seeds": ()}, {"seeds": (1, 1)}, {"kinds": ("rotary",)}):
        with pytest.raises(ValueError):
            positional.run_length_study(split, TINY, **bad)


def test_clear_difference() -> None:
    assert positional.clear_difference([0.8, 0.9], [0.1, 0.2]) == 1
    assert positional.clear_difference([0.1, 0.2], [0.8, 0.9]) == -1
    assert positional.clear_difference([0.1, 0.5], [0.4, 0.9]) == 0
