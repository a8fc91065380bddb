"""plotly figures whose sliders work in the static HTML: every state is precomputed.

Each helper returns a ``plotly.graph_objects.Figure``. Token axes use unique labels
(``"0:the"``) because plotly merges repeated category labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minitransformer.viz._style import PLOTLY_FONT_FAMILY, PROBABILITY_COLORSCALE
from minitransformer.viz.static import _check_tokens, as_array

_DECIMALS = 4  # rounding keeps pages small; a weight of 0.00005 is drawn as 0 anyway


def unique_labels(tokens: Sequence[Any]) -> list[str]:
    """``["the", "cat", "the"]`` -> ``["0:the", "1:cat", "2:the"]``."""
    return [f"{index}:{token}" for index, token in enumerate(tokens)]


def _layout(fig: go.Figure, *, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left"),
        height=height,
        margin=dict(l=70, r=30, t=60 if title else 30, b=40),
        font=dict(family=PLOTLY_FONT_FAMILY, size=13, color="#222222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    return fig


def _rounded(array: np.ndarray) -> list:
    return np.round(array, _DECIMALS).tolist()


def attention_heatmap_plotly(
    weights: Any,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str = "",
    zmax: float = 1.0,
    colorscale: str = PROBABILITY_COLORSCALE,
    annotate: bool | None = None,
    height: int | None = None,
) -> go.Figure:
    """One head's weights, shape (T, S), as a hoverable plotly heatmap on the range [0, zmax]."""
    weights = as_array(weights, 2, "weights")
    queries, keys = _check_tokens(weights, query_tokens, key_tokens)
    return slider_heatmap(
        [weights], ["-"], keys, queries, title=title, zmax=zmax, colorscale=colorscale,
        annotate=annotate, height=height,
    )  # fmt: skip


def slider_heatmap(
    states: Sequence[Any],
    labels: Sequence[Any],
    x_tokens: Sequence[str],
    y_tokens: Sequence[str],
    *,
    title: str = "",
    slider_name: str = "state",
    x_title: str = "key",
    y_title: str = "query",
    zmin: float = 0.0,
    zmax: float | None = 1.0,
    colorscale: str = PROBABILITY_COLORSCALE,
    annotate: bool | None = None,
    active: int = 0,
    height: int | None = None,
) -> go.Figure:
    """A heatmap with its own slider over precomputed states (no kernel needed).

    ``states``: a list of 2-D arrays, all of shape (len(y_tokens), len(x_tokens)), e.g. one
    per layer, head, temperature, training step or decoding step; ``labels``: one slider
    label per state. Colours are fixed to [zmin, zmax] (probabilities: [0, 1]); with
    ``zmax=None`` the range is the min/max over every state, so frames still compare.
    A single state draws no slider.
    """
    arrays = [as_array(state, 2, f"states[{i}]") for i, state in enumerate(states)]
    if not arrays:
        raise ValueError("slider_heatmap needs at least one state")
    if len(labels) != len(arrays):
        raise ValueError(f"{len(arrays)} states but {len(labels)} labels")
    for i, array in enumerate(arrays):
        if array.shape != (len(y_tokens), len(x_tokens)):
            raise ValueError(
                f"states[{i}] has shape {array.shape}, expected (len(y_tokens), len(x_tokens))"
                f" = ({len(y_tokens)}, {len(x_tokens)})"
            )
    if not 0 <= active < len(arrays):
        raise ValueError(f"active={active} is outside 0..{len(arrays) - 1}")
    if zmax is None:
        zmin = float(min(a.min() for a in arrays))
        zmax = float(max(a.max() for a in arrays))
    xs, ys = unique_labels(x_tokens), unique_labels(y_tokens)
    if annotate is None:
        annotate = len(xs) <= 12 and len(ys) <= 12
    heatmap = go.Heatmap(
        z=_rounded(arrays[active]),
        x=xs,
        y=ys,
        zmin=zmin,
        zmax=zmax,
        colorscale=colorscale,
        colorbar=dict(thickness=14),
        hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>%{{z:.3f}}<extra></extra>",
        texttemplate="%{z:.2f}" if annotate else None,
        textfont=dict(size=11),
    )
    fig = go.Figure(heatmap)
    fig.update_xaxes(title_text=x_title, type="category", tickangle=-45 if len(xs) > 8 else 0)
    fig.update_yaxes(title_text=y_title, type="category", autorange="reversed")
    if height is None:
        height = int(min(max(260 + 28 * len(ys), 360), 760)) + (70 if len(arrays) > 1 else 0)
    _layout(fig, title=title, height=height)
    if len(arrays) > 1:
        steps = [
            dict(method="restyle", label=str(label), args=[{"z": [_rounded(array)]}, [0]])
            for label, array in zip(labels, arrays, strict=True)
        ]
        fig.update_layout(
            sliders=[
                dict(
                    active=active,
                    currentvalue=dict(prefix=f"{slider_name}: "),
                    pad=dict(t=50),
                    steps=steps,
                )
            ]
        )
    return fig


def positional_explorer(
    d_models: Sequence[int] = (16, 32, 64, 128),
    *,
    length: int = 50,
    position: int = 10,
    dimension: int = 0,
    title: str = "Sinusoidal positional encoding",
) -> go.Figure:
    """Sliders over precomputed encodings: D (d_model), position and dimension.

    Top: the encoding matrix PE (positions x dimensions) for the chosen D. Bottom left: the vector
    PE(pos, :) that is added to the embedding at the chosen position. Bottom right: PE(:, i), one
    dimension over every position (even i: sine, odd i: cosine; low i turn fast, high i slow).
    Each D has its own position slider and its own dimension slider with D steps (so every step
    of every slider draws data); the D slider redraws the three panels for its D at the start
    ``position`` and ``dimension`` (clipped to D - 1) and shows that D's two sliders.
    """
    from minitransformer.positional import sinusoidal_encoding

    d_models = [int(d) for d in d_models]
    if not d_models or any(d <= 0 or d % 2 for d in d_models):
        raise ValueError(f"d_models must be positive even integers, got {d_models}")
    if not 0 <= position < length:
        raise ValueError(f"position={position} is outside 0..{length - 1}")
    max_d = max(d_models)
    if not 0 <= dimension < max_d:
        raise ValueError(f"dimension={dimension} is outside 0..{max_d - 1}")
    tables = {d: as_array(sinusoidal_encoding(length, d)) for d in d_models}
    fig = make_subplots(
        rows=2, cols=2, specs=[[{"colspan": 2}, None], [{}, {}]], row_heights=[0.55, 0.45],
        vertical_spacing=0.16, horizontal_spacing=0.1,
        subplot_titles=("PE matrix: positions x dimensions", "PE(pos, :) at the chosen position",
                        "PE(:, i) for the chosen dimension"),
    )  # fmt: skip

    def column(table: np.ndarray, i: int) -> list:
        return _rounded(table[:, i])

    # Three traces show the chosen D. Each D has its own position and dimension sliders (D
    # steps for the dimension: every step of every slider draws data); the D slider redraws the
    # traces for its D at the start position and dimension and shows that D's two sliders.
    # (Changing trace visibility and slider visibility in one plotly "update" fails in plotly.js,
    # so the traces stay visible and only their data change.)
    n = len(d_models)
    starts = {d: (position, min(dimension, d - 1)) for d in d_models}

    last = d_models[-1]
    fig.add_trace(
        go.Heatmap(z=_rounded(tables[last]), zmin=-1, zmax=1, colorscale="RdBu_r",
                   colorbar=dict(thickness=12, y=1.0, yanchor="top", len=0.5), name="PE",
                   hovertemplate="pos %{y}, i %{x}: %{z:.3f}<extra></extra>"),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=list(range(last)), y=_rounded(tables[last][position]), mode="lines+markers",
                   marker=dict(size=4), name="PE(pos, :)"),
        row=2, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=list(range(length)), y=column(tables[last], starts[last][1]), mode="lines",
                   name="PE(:, i)"),
        row=2, col=2,
    )  # fmt: skip
    pos_index = {d: 1 + k for k, d in enumerate(d_models)}
    dim_index = {d: 1 + n + k for k, d in enumerate(d_models)}
    d_steps = []
    for d in d_models:
        pos, dim = starts[d]
        layout = {f"sliders[{pos_index[o]}].visible": o == d for o in d_models}
        layout |= {f"sliders[{dim_index[o]}].visible": o == d for o in d_models}
        layout |= {f"sliders[{pos_index[d]}].active": pos, f"sliders[{dim_index[d]}].active": dim}
        data = {
            "z": [_rounded(tables[d]), None, None],
            "x": [list(range(d)), list(range(d)), list(range(length))],
            "y": [list(range(length)), _rounded(tables[d][pos]), column(tables[d], dim)],
        }
        d_steps.append(dict(method="update", label=str(d), args=[data, layout, [0, 1, 2]]))
    hidden = dict(color="rgba(0,0,0,0)", size=8)  # too many steps to label: show the value
    slider = dict(x=0.0, len=1.0, yanchor="top", pad=dict(t=0, b=0), font=hidden, ticklen=3)
    value_font = dict(color="#222222", size=13)
    pos_sliders = [
        dict(slider, active=starts[d][0], y=-0.24, visible=d == last,
             currentvalue=dict(prefix="position pos: ", font=value_font),
             steps=[dict(method="restyle", label=str(p),
                         args=[{"y": [_rounded(tables[d][p])]}, [1]]) for p in range(length)])
        for d in d_models
    ]  # fmt: skip
    dim_sliders = [
        dict(slider, active=starts[d][1], y=-0.38, visible=d == last,
             currentvalue=dict(prefix=f"dimension i (0 to {d - 1}): ", font=value_font),
             steps=[dict(method="restyle", label=str(i),
                         args=[{"y": [column(tables[d], i)]}, [2]]) for i in range(d)])
        for d in d_models
    ]  # fmt: skip
    fig.update_layout(
        showlegend=False,
        sliders=[
            dict(slider, active=n - 1, steps=d_steps, y=-0.1, font=dict(size=11),
                 currentvalue=dict(prefix="D (d_model): ", font=value_font)),
            *pos_sliders,
            *dim_sliders,
        ],
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", title_text="position pos", row=1, col=1)
    fig.update_xaxes(title_text="dimension i", row=1, col=1)
    fig.update_xaxes(title_text="dimension i", row=2, col=1)
    fig.update_yaxes(range=[-1.1, 1.1], row=2, col=1)
    fig.update_xaxes(title_text="position pos", row=2, col=2)
    fig.update_yaxes(range=[-1.1, 1.1], row=2, col=2)
    _layout(fig, title=title, height=860)
    fig.update_layout(margin=dict(b=250))
    return fig


__all__ = ["attention_heatmap_plotly", "positional_explorer", "slider_heatmap", "unique_labels"]
