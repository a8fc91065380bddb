"""Chapter 3: what a layer costs as the sequence grows (Vaswani et al. 2017, Table 1).

The paper compares three ways to mix the n positions of a sequence of width d::

    layer            work per layer   sequential operations   longest path between positions
    self-attention   O(n^2 d)         O(1)                    O(1)
    recurrent        O(n d^2)         O(n)                    O(n)
    convolution      O(k n d^2)       O(1)                    O(n / k), O(log_k n) dilated

This module measures the first two columns with the package's own layers:

- :func:`make_layers`: the three layers (``MultiHeadAttention``, the GRU of the baseline
  ``GRUSeq2Seq``, a width-``k`` convolution of ``receptive_field.ConvStack``), plus the two
  halves of the attention layer (its linear projections, and the scores-softmax-mix step).
- :func:`time_layers`: seconds of one forward pass of each (processor time, the median of a
  few calls), for each length n.
- :func:`fit_slope`: the slope of log(time) against log(n) (least squares): 1 = linear in n,
  2 = quadratic; :func:`lines_meet`: where two such fitted lines cross.
- :func:`crossing`: the first length from which one curve stays above another.
- :func:`sequential_steps`: the longest chain of operations that must run one after the
  other, counted in the autograd graph of one forward pass.
- :func:`layers_to_connect`: how many stacked convolutions let one end see the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from minitransformer.attention import MultiHeadAttention
from minitransformer.baselines import GRUSeq2Seq
from minitransformer.config import _check_positive_int
from minitransformer.experiments.receptive_field import ConvStack, layers_needed

LayerFn = Callable[[Tensor], Tensor]
Prepared = Callable[[Tensor], Callable[[], Tensor]]  # x -> a call that runs the layer on x

ATTENTION = "self-attention"
PROJECTIONS = "attention: projections"
SCORES = "attention: scores, softmax, mix"
RECURRENT = "recurrent (GRU)"
CONVOLUTION = "convolution"
LAYERS = (ATTENTION, RECURRENT, CONVOLUTION)  # the three rows of the paper's Table 1
PARTS = (PROJECTIONS, SCORES)  # the two halves of one self-attention call
STATISTICS = {"median": np.median, "min": np.min}  # what one point of time_layers reports
CLOCKS = ("cpu", "wall")  # what one call is timed with (see time_layers)


def make_layers(
    d_model: int = 64, *, num_heads: int = 4, width: int = 3, seed: int = 0
) -> dict[str, Prepared]:
    """name -> prepare(x), where x is (B, n, D) and ``prepare(x)()`` runs one forward pass of
    that layer on x (untrained: only the cost matters).

    ``PROJECTIONS`` and ``SCORES`` are the two steps of one ``ATTENTION`` call as its
    ``forward`` runs them: the linear maps x -> Q, K, V (one D -> 3D product) and W^O,
    O(n D^2); and softmax(Q K^T / sqrt(Dh)) V on the heads (the fused kernel), O(n^2 D),
    here on Q, K, V computed once beforehand.
    """
    for name, value in (("d_model", d_model), ("num_heads", num_heads), ("width", width)):
        _check_positive_int(name, value)
    torch.manual_seed(seed)
    attention = MultiHeadAttention(d_model, num_heads).eval()
    gru = GRUSeq2Seq(4, 4, hidden_size=d_model).encoder.eval()  # the baseline's encoder GRU
    conv = ConvStack(d_model, 1, width=width).eval()

    def projections(x: Tensor) -> Tensor:
        q, k, v = attention._project(x, x, x)  # (B, H, n, Dh) x3: the forward's own step
        return attention.w_o(x)  # W^O, on a tensor of the shape of the concatenated heads

    def scores(x: Tensor) -> Callable[[], Tensor]:
        q, k, v = attention._project(x, x, x)  # (B, H, n, Dh) x3, not timed
        return lambda: F.scaled_dot_product_attention(q, k, v)  # (B, H, n, Dh)

    return {
        ATTENTION: lambda x: lambda: attention(x, x, x)[0],
        PROJECTIONS: lambda x: lambda: projections(x),
        SCORES: scores,
        RECURRENT: lambda x: lambda: gru(x)[0],
        CONVOLUTION: lambda x: lambda: conv(x),
    }


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the previous number."""
    _check_positive_int("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class CostResult:
    """Seconds of one forward pass, ``seconds[name][i]`` at length ``lengths[i]``: the median
    (or the fastest, ``statistic="min"``) of the timed calls, on the ``clock`` used."""

    lengths: list[int]
    seconds: dict[str, np.ndarray]  # the statistic of the timed calls
    repeats: dict[str, np.ndarray]  # how many timed calls each figure is over
    samples: dict[str, list[list[float]]]  # every timed call, [name][length index]
    d_model: int
    batch_size: int
    threads: int
    statistic: str = "median"
    clock: str = "cpu"
    total_seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def slope(self, name: str, min_length: int = 1, max_length: int | None = None) -> float:
        """Slope of log(seconds) against log(n) over min_length <= n <= max_length."""
        if name not in self.seconds:
            raise KeyError(f"no layer named {name!r}; measured: {list(self.seconds)}")
        return fit_slope(self.lengths, self.seconds[name], min_length, max_length)


def time_layers(
    lengths: Sequence[int] = (8, 16, 32, 64, 128, 256, 512, 1024),
    *,
    d_model: int = 64,
    num_heads: int = 4,
    width: int = 3,
    batch_size: int = 1,
    repeats: int = 9,
    min_repeats: int = 5,
    budget: float = 0.3,
    threads: int = 1,
    clock: str = "cpu",
    statistic: str = "median",
    names: Sequence[str] | None = None,
    seed: int = 0,
) -> CostResult:
    """Time of one forward pass of each layer of :func:`make_layers` at each length.

    For each n the layers take turns (one call each, ``repeats`` rounds), so a burst of
    machine noise hits them all alike; after ``min_repeats`` rounds the point stops early once
    it has used ``budget`` seconds. One warm-up call per layer and length is not timed.
    Gradients are off (``torch.inference_mode``), and torch runs on ``threads`` threads.
    ``clock="cpu"`` times each call by the processor time spent on it: on a busy machine a call
    can be paused while other programs run, and the wall clock (``"wall"``,
    ``time.perf_counter``) would count the pause. On one thread torch runs every operation on
    the calling thread, so that thread's time (``time.thread_time``) is the call's, and the
    other threads of the process (a Jupyter kernel has several) do not count; on more threads,
    the whole process's (``time.process_time``). Each point is the median of its calls
    (``statistic="min"``: the fastest).
    """
    lengths = _check_lengths(lengths)
    for name, value in (("batch_size", batch_size), ("repeats", repeats),
                        ("min_repeats", min_repeats)):  # fmt: skip
        _check_positive_int(name, value)
    if min_repeats > repeats:
        raise ValueError(f"min_repeats={min_repeats} must be at most repeats={repeats}")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {list(STATISTICS)}, got {statistic!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {list(CLOCKS)}, got {clock!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget > 0:
        raise ValueError(f"budget={budget!r} must be a positive number of seconds")
    layers = make_layers(d_model, num_heads=num_heads, width=width, seed=seed)
    names = list(layers) if names is None else list(names)
    unknown = [name for name in names if name not in layers]
    if unknown or not names:
        raise ValueError(f"names must be some of {list(layers)}, got {names}")
    samples = {name: [[] for _ in lengths] for name in names}
    generator = torch.Generator().manual_seed(seed)
    now = {
        "wall": time.perf_counter,
        "cpu": time.thread_time if threads == 1 else time.process_time,
    }[clock]
    started = time.perf_counter()
    with torch_threads(threads), torch.inference_mode():
        for i, n in enumerate(lengths):
            x = torch.randn(batch_size, n, d_model, generator=generator)  # (B, n, D)
            runs = {name: layers[name](x) for name in names}
            for run in runs.values():
                run()  # warm-up
            point_start = time.perf_counter()
            for round_ in range(repeats):
                for name, run in runs.items():
                    tick = now()
                    run()
                    samples[name][i].append(now() - tick)
                if round_ + 1 >= min_repeats and time.perf_counter() - point_start > budget:
                    break
    return CostResult(
        lengths=lengths,
        seconds={
            name: np.array([STATISTICS[statistic](s) for s in samples[name]]) for name in names
        },
        repeats={name: np.array([len(s) for s in samples[name]]) for name in names},
        samples=samples,
        d_model=d_model,
        batch_size=batch_size,
        threads=threads,
        statistic=statistic,
        clock=clock,
        total_seconds=time.perf_counter() - started,
        settings=dict(num_heads=num_heads, width=width, repeats=repeats, budget=budget),
    )


def _check_lengths(lengths: object) -> list[int]:
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise TypeError(f"lengths must be a non-empty sequence of ints, got {lengths!r}")
    for n in lengths:
        _check_positive_int("lengths[i]", n)
    values = list(lengths)
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"lengths must increase strictly, got {values}")
    return values


def fit_line(
    lengths: Sequence[float],
    seconds: Sequence[float],
    min_length: float = 1,
    max_length: float | None = None,
) -> tuple[float, float]:
    """Least-squares line through log(seconds) against log(length), over the lengths in
    [min_length, max_length]: time ~ exp(offset) * n^slope. Returns (slope, offset). Needs at
    least two distinct lengths in the range."""
    n = np.asarray(lengths, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if n.ndim != 1 or t.shape != n.shape:
        raise ValueError(
            f"lengths and seconds must be 1-D of the same size, got {n.shape} and {t.shape}"
        )
    if not (np.isfinite(n).all() and (n > 0).all()):
        raise ValueError("lengths must be finite and positive (a log-log fit)")
    if not (np.isfinite(t).all() and (t > 0).all()):
        raise ValueError("seconds must be finite and positive (a log-log fit)")
    keep = (n >= min_length) & (n <= (np.inf if max_length is None else max_length))
    if len(np.unique(n[keep])) < 2:
        raise ValueError(
            f"need at least two distinct lengths in [{min_length}, {max_length}], "
            f"got {n[keep].tolist()}"
        )
    slope, offset = np.polyfit(np.log(n[keep]), np.log(t[keep]), 1)
    return float(slope), float(offset)


def fit_slope(
    lengths: Sequence[float],
    seconds: Sequence[float],
    min_length: float = 1,
    max_length: float | None = None,
) -> float:
    """The slope of :func:`fit_line`: time grows as n^slope (1 = linear, 2 = quadratic)."""
    return fit_line(lengths, seconds, min_length, max_length)[0]


def lines_meet(
    lengths: Sequence[float],
    steeper: Sequence[float],
    flatter: Sequence[float],
    min_length: float = 1,
) -> float | None:
    """The length where the fitted lines (:func:`fit_line` over n >= min_length) of two curves
    meet, an extrapolation beyond the measured lengths if need be; None unless ``steeper``
    has the larger slope."""
    slope_a, offset_a = fit_line(lengths, steeper, min_length)
    slope_b, offset_b = fit_line(lengths, flatter, min_length)
    if slope_a <= slope_b:
        return None
    return float(np.exp((offset_b - offset_a) / (slope_a - slope_b)))


def crossing(lengths: Sequence[int], above: Sequence[float], below: Sequence[float]) -> int | None:
    """The smallest length from which ``above`` exceeds ``below`` at every length up to the
    last; None if ``above`` does not exceed ``below`` at the last length."""
    above, below = np.asarray(above, dtype=float), np.asarray(below, dtype=float)
    if above.shape != (len(lengths),) or below.shape != (len(lengths),):
        raise ValueError(
            f"above and below need one value per length ({len(lengths)}), "
            f"got shapes {above.shape} and {below.shape}"
        )
    first = None
    for n, a, b in zip(lengths, above, below, strict=True):
        first = (first or n) if a > b else None
    return first


def sequential_steps(layer: LayerFn, x: Tensor) -> int:
    """Operations on the longest chain from the input x to the output of ``layer(x)``.

    Counted on the autograd graph that one forward pass records: each node is one operation,
    and an edge says "this operation needs that one's result". Operations off the chain can run
    at the same time as it; those on it must wait for each other.
    """
    if not isinstance(x, Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        output = layer(x)
    if isinstance(output, tuple):
        output = output[0]
    if not isinstance(output, Tensor) or output.grad_fn is None:
        raise ValueError("layer(x) must return a tensor that depends on x")
    depth: dict = {}  # node -> longest chain from it down to x (None: does not reach x)
    stack = [(output.grad_fn, False)]
    while stack:  # iterative post-order: a GRU's chain is far deeper than Python's recursion
        node, expanded = stack.pop()
        if node in depth:
            continue
        children = [child for child, _ in node.next_functions if child is not None]
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in children if child not in depth)
            continue
        if getattr(node, "variable", None) is x:
            depth[node] = 0
            continue
        reached = [depth[child] for child in children if depth.get(child) is not None]
        depth[node] = 1 + max(reached) if reached else None
    if depth.get(output.grad_fn) is None:
        raise ValueError("layer(x) must return a tensor that depends on x")
    return depth[output.grad_fn]


def layers_to_connect(length: int, width: int = 3, *, dilated: bool = False) -> int:
    """Fewest stacked width-``width`` convolutions after which the output at one end of a
    ``length``-position sequence depends on the input at the other end (distance n - 1).

    Contiguous kernels centred on their position, as ``receptive_field.ConvStack``: each
    layer widens the view by (width - 1) / 2 positions per side, about 2n / (width - 1) layers,
    O(n / k). Dilated kernels as in WaveNet and ByteNet: layer l looks back at the positions
    t, t - width^l, ..., t - (width - 1) width^l, so L layers see width^L positions: the ends
    meet after ceil(log_width(n)) layers, O(log_k n).
    """
    _check_positive_int("length", length)
    _check_positive_int("width", width)
    if length == 1:
        return 0
    if not dilated:
        return layers_needed(length - 1, width)
    if width < 2:
        raise ValueError(f"width={width} must be at least 2 for a dilated stack")
    layers, seen = 0, 1
    while seen < length:  # integer arithmetic: no rounding of log(n) / log(width)
        layers, seen = layers + 1, seen * width
    return layers


def sequential_table(
    lengths: Sequence[int] = (8, 32, 128), *, d_model: int = 16, width: int = 3, seed: int = 0
) -> list[dict]:
    """One row per length: the longest chain of operations (:func:`sequential_steps`) of each
    layer of Table 1, and the convolutions needed for the ends to meet."""
    lengths = _check_lengths(lengths)
    layers = make_layers(d_model, num_heads=2 if d_model % 2 == 0 else 1, width=width, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        x = torch.randn(1, n, d_model, generator=generator)
        row = {"n": n}
        for name in LAYERS:
            row[name] = sequential_steps(lambda h, name=name: layers[name](h)(), x)
        row[f"width-{width} layers for the ends to meet"] = layers_to_connect(n, width)
        row[f"dilated width-{width} layers"] = layers_to_connect(n, width, dilated=True)
        rows.append(row)
    return rows
