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
