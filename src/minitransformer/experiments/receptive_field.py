"""Which input positions can change an output position? Convolutions against self-attention.

A stack of ``k`` 1-D convolutions of width 3 lets output position ``t`` depend on inputs
``t - k .. t + k`` only; one self-attention layer lets it depend on every input. This module
measures that instead of asserting it: it feeds a random sequence ``x`` (1, L, D) through a
network, takes the gradient of output position ``t`` with respect to every input position,
and reports the size of that gradient per input position. A gradient of exactly zero means
"no change of this input can move that output" (for these weights).

    influence(f, x)[t, s] = || d <r, f(x)[t]> / d x[s] ||    (r: a fixed random direction)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from minitransformer.attention import MultiHeadAttention

SequenceFn = Callable[[Tensor], Tensor]  # (1, L, D) -> (1, L, D)


class ConvStack(nn.Module):
    """``num_layers`` 1-D convolutions of odd ``width`` with zero padding ("same" length) and
    a tanh after each, acting on (B, L, D) sequences as a CNN text model would."""

    def __init__(self, d_model: int, num_layers: int, width: int = 3) -> None:
        super().__init__()
        if width < 1 or width % 2 == 0:
            raise ValueError(f"width={width} must be a positive odd number")
        if num_layers < 1:
            raise ValueError(f"num_layers={num_layers} must be at least 1")
        self.width = width
        self.convolutions = nn.ModuleList(
            nn.Conv1d(d_model, d_model, width, padding=width // 2) for _ in range(num_layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = x.transpose(1, 2)  # (B, D, L): Conv1d wants channels first
        for convolution in self.convolutions:
            h = torch.tanh(convolution(h))  # (B, D, L)
        return h.transpose(1, 2)  # (B, L, D)


class SelfAttentionLayer(nn.Module):
    """One multi-head self-attention sublayer, query = key = value = x (no mask)."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(d_model, num_heads)

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(x, x, x)[0]  # (B, L, D)


def influence(f: SequenceFn, x: Tensor, *, seed: int = 0) -> np.ndarray:
    """(L, L) array: entry [t, s] is the norm of the gradient of output t w.r.t. input s.

    x: (1, L, D). The output vector at t is reduced to one number along a fixed random
    direction (seeded), so a single backward pass per output position suffices.
    """
    if x.dim() != 3 or x.size(0) != 1:
        raise ValueError(f"x must have shape (1, L, D), got {tuple(x.shape)}")
    generator = torch.Generator().manual_seed(seed)
    x = x.detach().clone().requires_grad_(True)
    y = f(x)  # (1, L, D)
    if y.shape != x.shape:
        raise ValueError(f"f must keep the shape (1, L, D); got {tuple(y.shape)}")
    L = x.size(1)
    direction = torch.randn(y.size(-1), generator=generator, dtype=y.dtype)
    rows = []
    for t in range(L):
        (gradient,) = torch.autograd.grad(y[0, t] @ direction, x, retain_graph=t < L - 1)
        rows.append(gradient[0].norm(dim=-1))  # (L,)
    return torch.stack(rows).detach().double().numpy()


def reach(row: np.ndarray, t: int, *, tolerance: float = 0.0) -> tuple[int, int]:
    """The leftmost and rightmost input positions whose influence on output t exceeds
    ``tolerance`` (the row's own output position counts)."""
    positions = np.flatnonzero(np.asarray(row) > tolerance)
    if positions.size == 0:
        return (t, t)
    return int(positions.min()), int(positions.max())


@dataclass(frozen=True)
class ReceptiveFieldResult:
    """Influence maps of one sequence through several networks.

    names: one label per network (e.g. "conv x1", ..., "self-attention x1").
    maps: one (L, L) influence array per network; masks: the same, as "nonzero" booleans.
    seen: for each network, how many input positions can influence the middle output.
    """

    length: int
    names: list[str]
    maps: list[np.ndarray]

    @property
    def masks(self) -> list[np.ndarray]:
        return [m > 0.0 for m in self.maps]

    @property
    def middle(self) -> int:
        return self.length // 2

    @property
    def seen(self) -> list[int]:
        return [int(mask[self.middle].sum()) for mask in self.masks]

    def normalised(self) -> list[np.ndarray]:
        """Each map divided by its row maxima, so every row's strongest input is 1."""
        return [m / m.max(axis=1, keepdims=True) for m in self.maps]


def compare(
    length: int = 16,
    d_model: int = 16,
    conv_layers: Sequence[int] = (1, 2, 3, 4, 6),
    num_heads: int = 2,
    *,
    seed: int = 0,
) -> ReceptiveFieldResult:
    """Influence maps of width-3 convolution stacks of each depth in ``conv_layers`` and of
    one self-attention layer, all untrained (seeded), on one random sequence (1, L, D)."""
    torch.manual_seed(seed)
    x = torch.randn(1, length, d_model)
    names, maps = [], []
    for k in conv_layers:
        names.append(f"conv x{k}")
        maps.append(influence(ConvStack(d_model, k).eval(), x, seed=seed))
    names.append("self-attention x1")
    maps.append(influence(SelfAttentionLayer(d_model, num_heads).eval(), x, seed=seed))
    return ReceptiveFieldResult(length, names, maps)


def influence_slider(result: ReceptiveFieldResult):
    """plotly heatmap of the row-normalised influence maps, a slider over the networks; the
    axes are labelled by position (0 .. L - 1)."""
    from minitransformer.viz.interactive import slider_heatmap

    positions = [str(i) for i in range(result.length)]
    fig = slider_heatmap(
        result.normalised(), result.names, positions, positions, slider_name="network",
        x_title="input position s", y_title="output position t",
        title="Which inputs can move each output? (gradient size, row-normalised)",
    )  # fmt: skip
    # the heatmap's categories are made unique by the helper; show the bare positions
    fig.update_xaxes(tickvals=list(fig.data[0].x), ticktext=positions, tickangle=0)
    fig.update_yaxes(tickvals=list(fig.data[0].y), ticktext=positions)
    return fig


def layers_needed(distance: int, width: int = 3) -> int:
    """Fewest stacked convolutions of ``width`` after which an output can see an input
    ``distance`` positions away: each layer adds (width - 1) / 2 positions on each side."""
    if distance < 0:
        raise ValueError(f"distance={distance} must be >= 0")
    step = (width - 1) // 2
    if step == 0:
        raise ValueError("a width-1 convolution never widens its view")
    return -(-distance // step)


__all__ = [
    "ConvStack",
    "ReceptiveFieldResult",
    "SelfAttentionLayer",
    "compare",
    "influence",
    "influence_slider",
    "layers_needed",
    "reach",
]
