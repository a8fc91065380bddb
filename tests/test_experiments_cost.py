"""The cost measurement of chapter 3 (the paper's Table 1): shapes, fits, chains, bad input.

No timing is asserted here (speed belongs in benchmarks/): the tests check what the timer
returns, that the slope fit recovers known exponents, and the operation counts, which do not
depend on the machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minitransformer.experiments import cost
from minitransformer.experiments import receptive_field as rf


def test_time_layers_returns_one_figure_per_layer_and_length() -> None:
    result = cost.time_layers((4, 8, 16), d_model=8, num_heads=2, repeats=3, min_repeats=2)
    assert result.lengths == [4, 8, 16]
    assert list(result.seconds) == [cost.ATTENTION, *cost.PARTS, cost.RECURRENT, cost.CONVOLUTION]
    for name, seconds in result.seconds.items():
        assert seconds.shape == (3,) and (seconds > 0).all(), name
        assert ((result.repeats[name] >= 2) & (result.repeats[name] <= 3)).all()
        assert [len(s) for s in result.samples[name]] == result.repeats[name].tolist()
        np.testing.assert_allclose(seconds, [np.median(s) for s in result.samples[name]])
    assert result.total_seconds > 0
    assert np.isfinite(result.slope(cost.ATTENTION))
    fastest = cost.time_layers(
        (4, 8), d_model=8, num_heads=2, repeats=3, min_repeats=3, statistic="min", clock="wall"
    )
    for name, seconds in fastest.seconds.items():
        np.testing.assert_allclose(seconds, [min(s) for s in fastest.samples[name]])
    assert fastest.clock == "wall" and fastest.statistic == "min"


def test_time_layers_restores_threads_and_takes_a_subset() -> None:
    before = torch.get_num_threads()
    result = cost.time_layers(
        (4, 8), d_model=8, num_heads=2, repeats=2, min_repeats=1, names=[cost.RECURRENT]
    )
    assert list(result.seconds) == [cost.RECURRENT]
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError, match="no layer named"):
        result.slope(cost.ATTENTION)


def test_layers_compute_what_they_are_named_after() -> None:
    layers = cost.make_layers(8, num_heads=2)
    x = torch.randn(2, 5, 8)
    with torch.inference_mode():
        outputs = {name: prepare(x)() for name, prepare in layers.items()}
    assert outputs[cost.ATTENTION].shape == (2, 5, 8)
    assert outputs[cost.SCORES].shape == (2, 2, 5, 4)  # (B, H, n, Dh)
    assert outputs[cost.PROJECTIONS].shape == (2, 5, 8)
    assert outputs[cost.RECURRENT].shape == (2, 5, 8)
    assert outputs[cost.CONVOLUTION].shape == (2, 5, 8)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 2.0])
def test_fit_slope_recovers_a_power_law(exponent: float) -> None:
    n = np.array([8, 16, 32, 64, 128, 256])
    seconds = 3e-6 * n**exponent
    assert cost.fit_slope(n, seconds) == pytest.approx(exponent, abs=1e-9)


def test_fit_slope_uses_only_the_chosen_range() -> None:
    n = np.array([8, 16, 32, 64, 128, 256, 512])
    seconds = 1e-4 + 1e-8 * n**2  # flat (fixed cost) at small n, quadratic at large n
    large = cost.fit_slope(n, seconds, min_length=128)
    small = cost.fit_slope(n, seconds, max_length=32)
    assert 1.5 < large < 2.0 and small < 0.1
    noisy = 1e-8 * n**2 * np.exp(np.random.default_rng(0).normal(0, 0.05, n.size))
    assert cost.fit_slope(n, noisy) == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("lengths", "seconds", "kwargs", "message"),
    [
        ([8, 16], [1.0], {}, "same size"),
        ([8, 16], [1.0, 0.0], {}, "seconds must be finite and positive"),
        ([8, -16], [1.0, 2.0], {}, "lengths must be finite and positive"),
        ([8, 16, 32], [1.0, 2.0, 3.0], {"min_length": 20}, "at least two distinct lengths"),
        ([8, 16], [1.0, np.nan], {}, "seconds must be finite"),
    ],
)
def test_fit_slope_refuses_bad_input(lengths, seconds, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        cost.fit_slope(lengths, seconds, **kwargs)


def test_lines_meet_where_two_power_laws_cross() -> None:
    n = np.array([64, 128, 256, 512])
    quadratic, linear = 1e-6 * n**2.0, 1e-3 * n  # equal at n = 1,000
    assert cost.lines_meet(n, quadratic, linear) == pytest.approx(1000.0, rel=1e-6)
    assert cost.lines_meet(n, linear, quadratic) is None  # the first is not the steeper
    assert cost.fit_line(n, quadratic)[1] == pytest.approx(np.log(1e-6))


def test_crossing_finds_where_one_curve_stays_above() -> None:
    lengths = [8, 16, 32, 64]
    assert cost.crossing(lengths, [1, 3, 5, 7], [2, 2, 2, 2]) == 16
    assert cost.crossing(lengths, [3, 1, 5, 7], [2, 2, 2, 2]) == 32  # must stay above
    assert cost.crossing(lengths, [1, 1, 1, 3], [2, 2, 2, 2]) == 64
    assert cost.crossing(lengths, [3, 3, 3, 1], [2, 2, 2, 2]) is None
    with pytest.raises(ValueError, match="one value per length"):
        cost.crossing(lengths, [1, 2], [1, 2, 3, 4])


def test_sequential_steps_counts_the_longest_chain() -> None:
    def chain(x):  # three operations after each other, plus a side branch of one
        return (x * 2).exp().sin() + x.cos()

    assert cost.sequential_steps(chain, torch.randn(3)) == 4  # mul, exp, sin, add
    assert cost.sequential_steps(lambda x: x.sum(), torch.randn(3)) == 1
    with pytest.raises(ValueError, match="depends on x"):
        cost.sequential_steps(lambda x: torch.ones(3).exp(), torch.randn(3))
    with pytest.raises(TypeError, match="floating-point"):
        cost.sequential_steps(lambda x: x, torch.arange(3))
    weight = torch.ones(3, requires_grad=True)  # a graph, but one that never meets x
    with pytest.raises(ValueError, match="depends on x"):
        cost.sequential_steps(lambda x: weight.exp(), torch.randn(3))
    assert cost.sequential_steps(lambda x: (x.exp(), None), torch.randn(3)) == 1  # (output, ...)


def test_time_layers_stops_a_point_at_its_budget() -> None:
    result = cost.time_layers((4, 8), d_model=8, num_heads=2, repeats=50, min_repeats=2,
                              budget=1e-9, names=[cost.CONVOLUTION])  # fmt: skip
    assert result.repeats[cost.CONVOLUTION].tolist() == [2, 2]


def test_sequential_steps_grow_with_n_only_for_the_recurrent_layer() -> None:
    rows = cost.sequential_table((4, 8, 16), d_model=8)
    gru = [row[cost.RECURRENT] for row in rows]
    assert gru[2] - gru[1] == 2 * (gru[1] - gru[0]) > 0  # a fixed number of operations per step
    for name in (cost.ATTENTION, cost.CONVOLUTION):
        assert len({row[name] for row in rows}) == 1, name  # the same chain at every length
    assert [row["width-3 layers for the ends to meet"] for row in rows] == [3, 7, 15]


@pytest.mark.parametrize(("length", "width"), [(2, 2), (5, 2), (9, 3), (10, 3), (28, 3), (26, 5)])
def test_dilated_layers_to_connect_matches_the_measured_influence(length: int, width: int) -> None:
    """Dilation width^l in layer l, looking back: the end first sees the other end after L."""
    needed = cost.layers_to_connect(length, width, dilated=True)
    x = torch.randn(1, length, 4)

    def ends_meet(layers: int) -> bool:
        torch.manual_seed(0)
        convs = [nn.Conv1d(4, 4, width, dilation=width**i) for i in range(layers)]

        def net(h):  # (B, n, D) -> (B, n, D), each layer padded on the left only
            h = h.transpose(1, 2)
            for i, conv in enumerate(convs):
                h = conv(F.pad(h, ((width - 1) * width**i, 0)))
            return h.transpose(1, 2)

        return bool((rf.influence(net, x) > 0)[length - 1, 0])

    assert ends_meet(needed) and not ends_meet(needed - 1)


def test_layers_to_connect_contiguous_and_bad_input() -> None:
    assert cost.layers_to_connect(1) == 0
    assert cost.layers_to_connect(16, 3) == 15 and cost.layers_to_connect(16, 5) == 8
    assert cost.layers_to_connect(16, 2, dilated=True) == 4
    assert cost.layers_to_connect(17, 2, dilated=True) == 5
    with pytest.raises(ValueError, match="at least 2"):
        cost.layers_to_connect(16, 1, dilated=True)
    with pytest.raises(ValueError, match="length=0"):
        cost.layers_to_connect(0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lengths": ()}, TypeError, "non-empty sequence"),
        ({"lengths": (8, 8)}, ValueError, "increase strictly"),
        ({"lengths": (8, 4.5)}, TypeError, "must be an int"),
        ({"d_model": 0}, ValueError, "d_model=0"),
        ({"d_model": 6, "num_heads": 4}, ValueError, "not divisible"),
        ({"repeats": 2, "min_repeats": 3}, ValueError, "at most repeats"),
        ({"budget": 0}, ValueError, "budget=0"),
        ({"threads": 0}, ValueError, "threads=0"),
        ({"names": ["transformer"]}, ValueError, "names must be some of"),
        ({"statistic": "mean"}, ValueError, "statistic must be one of"),
        ({"clock": "gpu"}, ValueError, "clock must be one of"),
    ],
)
def test_time_layers_refuses_bad_input(kwargs, error, message) -> None:
    settings = {"lengths": (4, 8), "d_model": 8, "num_heads": 2, "repeats": 2, "min_repeats": 1}
    with pytest.raises(error, match=message):
        cost.time_layers(**{**settings, **kwargs})
