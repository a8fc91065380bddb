"""The receptive-field measurement: convolutions see t-k..t+k, self-attention sees everything."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minitransformer.experiments import receptive_field as rf


@pytest.mark.parametrize("k", [1, 2, 3])
def test_conv_stack_sees_exactly_k_positions_each_side(k: int) -> None:
    x = torch.randn(1, 11, 8)
    mask = rf.influence(rf.ConvStack(8, k), x) > 0
    for t in range(11):
        expected = [abs(s - t) <= k for s in range(11)]
        np.testing.assert_array_equal(mask[t], expected)
        assert rf.reach(mask[t], t) == (max(0, t - k), min(10, t + k))


def test_self_attention_sees_every_position() -> None:
    x = torch.randn(1, 9, 8)
    influence = rf.influence(rf.SelfAttentionLayer(8, 2), x)
    assert influence.shape == (9, 9)
    assert (influence > 0).all()


def test_compare_counts_and_normalises() -> None:
    result = rf.compare(length=12, d_model=8, conv_layers=(1, 2, 4), num_heads=2)
    assert result.names == ["conv x1", "conv x2", "conv x4", "self-attention x1"]
    assert result.seen == [3, 5, 9, 12]
    for normalised in result.normalised():
        np.testing.assert_allclose(normalised.max(axis=1), 1.0)


def test_influence_matches_a_linear_map() -> None:
    """For y = x A (no mixing across positions) only the diagonal is nonzero."""
    A = torch.randn(4, 4)
    influence = rf.influence(lambda x: x @ A, torch.randn(1, 5, 4))
    np.testing.assert_array_equal(influence > 0, np.eye(5, dtype=bool))


def test_layers_needed() -> None:
    assert [rf.layers_needed(d) for d in range(6)] == [0, 1, 2, 3, 4, 5]
    assert rf.layers_needed(4, width=5) == 2
    assert rf.reach(np.zeros(4), 2) == (2, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rf.ConvStack(4, 1, width=2), "odd"),
        (lambda: rf.ConvStack(4, 0), "at least 1"),
        (lambda: rf.layers_needed(-1), ">= 0"),
        (lambda: rf.layers_needed(3, width=1), "never widens"),
        (lambda: rf.influence(lambda x: x, torch.randn(2, 3, 4)), r"\(1, L, D\)"),
        (lambda: rf.influence(lambda x: x[:, :2], torch.randn(1, 3, 4)), "keep the shape"),
    ],
)
def test_bad_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_influence_slider_labels_positions_plainly() -> None:
    result = rf.compare(length=6, d_model=8, conv_layers=(1, 2), num_heads=2)
    fig = rf.influence_slider(result)
    assert list(fig.layout.xaxis.ticktext) == [str(i) for i in range(6)]
    assert list(fig.layout.yaxis.ticktext) == [str(i) for i in range(6)]
    assert len(fig.layout.sliders[0].steps) == 3  # two conv stacks and self-attention
