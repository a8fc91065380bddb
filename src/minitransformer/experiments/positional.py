"""Chapter 5's measurements: properties of the sinusoidal positional encoding.

- :func:`shift_matrix`: the fixed (D, D) matrix M_k with PE(pos + k) = M_k PE(pos) for every
  pos: one 2 x 2 rotation per sin/cos pair.
- :func:`distance_profile`: how far the dot products PE(p) . PE(q) are from depending on
  |p - q| alone.
- :func:`halves_permutation`, :func:`concatenated_encoding`: the "first all sines, then all
  cosines" layout that many implementations use instead of the paper's interleaving.
- :func:`permute_encoder_layer`: an encoder layer whose residual stream is relabelled by a
  permutation of the D dimensions; it computes exactly the same function in the new labels,
  which is why the layout of the encoding does not matter to a model that learns its weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from matplotlib.figure import Figure
from torch import Tensor

from minitransformer.layers import EncoderLayer
from minitransformer.positional import sinusoidal_encoding
from minitransformer.viz import slider_heatmap
from minitransformer.viz._style import SIGNED_CMAP, finish, new_figure
from minitransformer.viz.static import as_array


def frequencies(d_model: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """omega_i = 1 / 10000^(2i / D) for i = 0 .. D/2 - 1: the angular speed of pair i."""
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model={d_model} must be a positive even integer")
    two_i = torch.arange(0, d_model, 2, dtype=dtype)
    return torch.exp(-math.log(10000.0) * two_i / d_model)  # (D/2,)


def shift_matrix(k: int, d_model: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """M_k, (D, D), with PE(pos + k) = M_k @ PE(pos) for every position pos.

    Pair i holds (sin(omega_i pos), cos(omega_i pos)); the angle-sum formulas give
    sin(a + b) = sin a cos b + cos a sin b and cos(a + b) = cos a cos b - sin a sin b, so moving
    k positions rotates that pair by the angle omega_i k, whatever pos is. M_k is block
    diagonal with one 2 x 2 rotation per pair; it depends on k and D only.
    """
    angles = frequencies(d_model, dtype=dtype) * k  # (D/2,)
    cos, sin = torch.cos(angles), torch.sin(angles)
    matrix = torch.zeros(d_model, d_model, dtype=dtype)
    even = torch.arange(0, d_model, 2)
    matrix[even, even] = cos  # new sin = cos(wk) sin + sin(wk) cos
    matrix[even, even + 1] = sin
    matrix[even + 1, even] = -sin  # new cos = -sin(wk) sin + cos(wk) cos
    matrix[even + 1, even + 1] = cos
    return matrix


def distance_profile(table: Tensor) -> dict[str, Tensor | float]:
    """Dot products of every pair of rows of a (L, D) encoding, grouped by distance.

    Returns ``similarity`` (L, L), ``by_distance`` (L,) the mean of the dot products at each
    distance |p - q|, and ``max_spread``: the largest difference between two dot products at
    the same distance (0 when they depend on the distance alone).
    """
    table = table.to(torch.float64)
    similarity = table @ table.T  # (L, L)
    L = table.size(0)
    distance = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs()
    means, spread = torch.zeros(L, dtype=torch.float64), 0.0
    for d in range(L):
        values = similarity[distance == d]
        means[d] = values.mean()
        spread = max(spread, float(values.max() - values.min()))
    return {"similarity": similarity, "by_distance": means, "max_spread": spread}


def halves_permutation(d_model: int) -> Tensor:
    """Indices that turn the interleaved layout (sin, cos, sin, cos, ...) into the
    concatenated one (all sines, then all cosines): ``interleaved[:, perm]``."""
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model={d_model} must be a positive even integer")
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def concatenated_encoding(length: int, d_model: int) -> Tensor:
    """The (L, D) table with sin(pos * omega_i) in columns 0..D/2-1 and cos in the rest,
    computed from the formula (not by permuting the package's table)."""
    angles = torch.arange(length, dtype=torch.float64)[:, None] * frequencies(d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()  # (L, D)


def permute_encoder_layer(layer: EncoderLayer, perm: Tensor) -> EncoderLayer:
    """A copy of ``layer`` that reads and writes the residual stream in the order ``perm``.

    If ``y = layer(x)`` then ``permuted(x[..., perm]) == y[..., perm]``: every matrix that
    reads the stream has its input columns permuted, every matrix that writes it has its
    output rows permuted, and the LayerNorm gains and biases follow their dimensions. Inside
    the attention heads and the feed-forward hidden layer nothing changes.
    """
    new = copy.deepcopy(layer)
    attention, feed_forward = new.self_attention, new.feed_forward
    with torch.no_grad():
        for linear in (attention.w_q, attention.w_k, attention.w_v, feed_forward.linear1):
            linear.weight.copy_(linear.weight[:, perm])  # reads the stream: columns
        for linear in (attention.w_o, feed_forward.linear2):
            linear.weight.copy_(linear.weight[perm])  # writes the stream: rows
            if linear.bias is not None:
                linear.bias.copy_(linear.bias[perm])
        for block in (new.attention_block, new.feed_forward_block):
            block.norm.weight.copy_(block.norm.weight[perm])
            block.norm.bias.copy_(block.norm.bias[perm])
    return new


def same_input_two_positions(
    embedding: Tensor, positions: tuple[int, int], table: Tensor
) -> dict[str, float]:
    """One word's embedding (D,) placed at two positions: embedding * sqrt(D) + PE[pos].

    Returns the cosine similarity of the two inputs and the distance between them (the
    embedding alone would give similarity 1 and distance 0).
    """
    D = embedding.numel()
    first, second = (embedding * math.sqrt(D) + table[p] for p in positions)
    return {
        "cosine": float(torch.nn.functional.cosine_similarity(first, second, dim=0)),
        "distance": float((first - second).norm()),
    }


def input_figure(scaled: Tensor, table: Tensor, tokens: Sequence[str]) -> Figure:
    """Three heatmaps side by side: embedding * sqrt(D), PE, and their sum (the real input).

    (Titles use mathtext for the square root: the glyph renders poorly in the figure fonts.)

    scaled, table: (S, D). Rows are the words of the sentence, columns the D dimensions; the
    colour range is shared so the three panels compare.
    """
    panels = [as_array(scaled, 2), as_array(table, 2)]
    panels.append(panels[0] + panels[1])
    limit = float(max(np.abs(panel).max() for panel in panels))
    fig = new_figure(11.0, 2.2 + 0.3 * len(tokens))
    axes = fig.subplots(1, 3, sharey=True)
    titles = (
        r"embedding × $\sqrt{D}$ (임베딩)",
        "+ PE (포지셔널 인코딩)",
        "= input of the first layer (입력)",
    )
    for ax, panel, title in zip(axes, panels, titles, strict=True):
        image = ax.imshow(panel, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, aspect="auto")
        ax.set(title=title, xlabel="dimension i")
    axes[0].set_yticks(range(len(tokens)), [f"{p}:{w}" for p, w in enumerate(tokens)])
    axes[0].set_ylabel("position: word")
    fig.colorbar(image, ax=axes, shrink=0.85, label="value")
    return finish(fig)


def layouts_figure(length: int = 50, d_model: int = 32) -> Figure:
    """The paper's interleaved table beside the concatenated-halves table."""
    tables = (sinusoidal_encoding(length, d_model), concatenated_encoding(length, d_model))
    fig = new_figure(10.0, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    titles = ("interleaved: sin, cos, sin, cos, ... (paper)", "concatenated: all sin | all cos")
    for ax, table, title in zip(axes, tables, titles, strict=True):
        image = ax.imshow(as_array(table), cmap=SIGNED_CMAP, vmin=-1, vmax=1, aspect="auto")
        ax.set(title=title, xlabel="dimension i")
    axes[0].set_ylabel("position pos")
    fig.colorbar(image, ax=axes, shrink=0.85, label="PE(pos, i)")
    return finish(fig)


def similarity_slider(d_models: Sequence[int] = (4, 16, 64, 128), length: int = 30) -> go.Figure:
    """PE(p) . PE(q) / (D/2) for every pair of positions, one slider state per D.

    Dividing by D/2 = |PE(p)|^2 puts every state on [-1, 1] (it is the cosine similarity).
    """
    states = [
        as_array(distance_profile(sinusoidal_encoding(length, d))["similarity"]) / (d / 2)
        for d in d_models
    ]
    positions = [str(p) for p in range(length)]
    return slider_heatmap(
        states, [f"D = {d}" for d in d_models], positions, positions,
        slider_name="d_model", x_title="position q", y_title="position p", zmin=-1.0,
        zmax=1.0, colorscale="RdBu_r", annotate=False, active=len(states) - 1,
        title="Similarity of the encodings of two positions: PE(p)·PE(q) / (D/2)",
    )  # fmt: skip


__all__ = [
    "concatenated_encoding",
    "distance_profile",
    "frequencies",
    "halves_permutation",
    "input_figure",
    "layouts_figure",
    "permute_encoder_layer",
    "same_input_two_positions",
    "shift_matrix",
    "similarity_slider",
]
