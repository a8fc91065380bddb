"""What the live explorers draw: HTML and SVG strings for an ``ipywidgets.HTML`` view.

A matplotlib figure costs a few hundred milliseconds per redraw (layout, rasterising, PNG
encoding), more than a slider may take to answer. These builders return markup the browser
draws itself in a millisecond: the explorer only replaces the HTML widget's ``value``, so a
move sends one small message and changes no widget structure. They follow the book's figure
rules: viridis over a fixed range for probabilities, a caption naming what is shown, dark text
on a white panel (legible in a dark Jupyter theme too), Hangul drawn by the browser's fonts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from minitransformer.viz.static import as_array

PANEL = (
    "background:#fff;color:#111;padding:6px 8px;border-radius:4px;display:inline-block;"
    "max-width:100%;overflow-x:auto;font-family:sans-serif"
)
CAPTION = "caption-side:top;text-align:left;font-weight:bold;white-space:pre-line;padding:2px 0"
# Column labels of a wide map stand upright (one word per column, never run together).
UPRIGHT_FROM = 9  # columns; or any key label longer than 4 characters
BAR_COLOUR = "#0072B2"
LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


@lru_cache(maxsize=4)
def _palette(cmap: str) -> tuple[str, ...]:
    """256 hex colours of a matplotlib colormap, from its low end to its high end."""
    from matplotlib import colormaps

    rgba = colormaps[cmap](np.linspace(0.0, 1.0, 256))
    return tuple("#" + "".join(f"{round(255 * c):02x}" for c in row[:3]) for row in rgba)


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def heatmap_html(
    weights: object,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str = "",
    vmax: float = 1.0,
    cmap: str = "viridis",
    annotate: bool | None = None,
) -> str:
    """One (T, S) attention map as an HTML table: a row per query, a column per key, each cell
    coloured by ``cmap`` over the fixed range [0, ``vmax``] (and its weight written in it when
    the map has at most 12 x 12 cells). Column labels stand upright when there are more than
    eight keys or a key is longer than four characters."""
    weights = as_array(weights, 2, "weights")
    T, S = weights.shape
    if (T, S) != (len(query_tokens), len(key_tokens)):
        raise ValueError(
            f"weights (T, S) = {weights.shape} do not match {len(query_tokens)} query and "
            f"{len(key_tokens)} key tokens"
        )
    if vmax <= 0:
        raise ValueError(f"vmax must be positive, got {vmax}")
    palette = _palette(cmap)
    if annotate is None:
        annotate = T <= 12 and S <= 12
    upright = S >= UPRIGHT_FROM or max(map(len, key_tokens), default=0) > 4
    head_style = "writing-mode:vertical-rl;transform:rotate(180deg);" if upright else ""
    size = "2.6em" if annotate else "1.4em"
    index = np.clip(np.rint(weights / vmax * 255), 0, 255).astype(int)
    cell = f"width:{size};height:{size};min-width:{size};text-align:center;font-size:11px;padding:0"
    rows = []
    for t in range(T):
        cells = []
        for s in range(S):
            colour = palette[index[t, s]]
            text_colour = "#000" if _luminance(colour) > 0.45 else "#fff"
            value = f"{weights[t, s]:.2f}" if annotate else ""
            cells.append(
                f"<td style='{cell};background:{colour};color:{text_colour}' "
                f"title='{html.escape(query_tokens[t])} → {html.escape(key_tokens[s])}: "
                f"{weights[t, s]:.3f}'>{value}</td>"
            )
        label = html.escape(query_tokens[t])
        rows.append(
            f"<tr><th scope='row' style='text-align:right;padding:0 4px;font-weight:normal'>"
            f"{label}</th>{''.join(cells)}</tr>"
        )
    keys = "".join(
        f"<th scope='col' style='{head_style}font-weight:normal;padding:2px 0;font-size:12px'>"
        f"{html.escape(k)}</th>"
        for k in key_tokens
    )
    caption = html.escape(title) if title else "attention weights"
    legend = (
        f"<div style='font-size:11px;margin-top:4px'>rows: query (T), columns: key (S); colour: "
        f"weight from 0 <span style='background:{palette[0]};color:#fff;padding:0 4px'>"
        f"0</span> to {vmax:g} <span style='background:{palette[-1]};padding:0 4px'>"
        f"{vmax:g}</span> ({html.escape(cmap)})</div>"
    )
    return (
        f"<div class='live-figure' style='{PANEL}'><table style='border-collapse:collapse'>"
        f"<caption style='{CAPTION}'>{caption}</caption>"
        f"<thead><tr><td></td>{keys}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{legend}</div>"
    )


def bars_html(values: object, labels: Sequence[str], *, title: str = "", height: int = 150) -> str:
    """A row of bars over the fixed range [0, 1] (attention weights, softmax outputs), each with
    its value above and its label below."""
    values = as_array(values, 1, "values")
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    columns = []
    for value, label in zip(values, labels, strict=True):
        bar = round(float(np.clip(value, 0.0, 1.0)) * height)
        columns.append(
            "<div style='display:flex;flex-direction:column;align-items:center;"
            f"justify-content:flex-end;min-width:2.8em;height:{height + 40}px'>"
            f"<span style='font-size:11px'>{value:.2f}</span>"
            f"<div style='width:1.8em;height:{bar}px;background:{BAR_COLOUR}'></div>"
            f"<span style='font-size:12px;border-top:1px solid #111;width:100%;"
            f"text-align:center'>{html.escape(label)}</span></div>"
        )
    caption = html.escape(title) if title else "weights"
    return (
        f"<figure class='live-figure' style='{PANEL};margin:0'>"
        f"<figcaption style='font-weight:bold'>{caption}</figcaption>"
        f"<div style='display:flex;gap:4px;align-items:flex-end'>{''.join(columns)}</div>"
        f"<div style='font-size:11px'>bar height: weight, 0 to 1</div></figure>"
    )


def curves_svg(
    curves: Mapping[str, object],
    *,
    title: str = "",
    xlabel: str = "",
    ylim: tuple[float, float] = (-1.1, 1.1),
    width: int = 640,
    height: int = 260,
) -> str:
    """Line curves y[x] (x = 0, 1, ...) as an inline SVG with axes, a legend and ``title``."""
    if not curves:
        raise ValueError("curves must hold at least one curve")
    left, right, top, bottom = 44, 150, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = ylim
    arrays = {name: as_array(y, 1, f"curve {name!r}") for name, y in curves.items()}
    n = max(len(y) for y in arrays.values())
    x_scale = plot_w / max(n - 1, 1)

    def py(v: float) -> float:
        return top + (hi - np.clip(v, lo, hi)) / (hi - lo) * plot_h

    parts = [
        f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' "
        "stroke='#888'/>",
        f"<line x1='{left}' x2='{left + plot_w}' y1='{py(0):.1f}' y2='{py(0):.1f}' stroke='#ccc'/>",
    ]
    for tick in (lo, 0.0, hi):
        parts.append(
            f"<text x='{left - 4}' y='{py(tick) + 4:.1f}' text-anchor='end' font-size='11'>"
            f"{tick:g}</text>"
        )
    for tick in np.linspace(0, n - 1, 5).round().astype(int):
        parts.append(
            f"<text x='{left + tick * x_scale:.1f}' y='{top + plot_h + 14}' text-anchor='middle'"
            f" font-size='11'>{tick}</text>"
        )
    for k, (name, y) in enumerate(arrays.items()):
        colour = LINE_COLOURS[k % len(LINE_COLOURS)]
        points = " ".join(f"{left + i * x_scale:.1f},{py(v):.1f}" for i, v in enumerate(y))
        dash = "" if k % 2 == 0 else " stroke-dasharray='6 3'"
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.6'{dash}/>"
        )
        ly = top + 12 + 18 * k
        parts.append(
            f"<line x1='{left + plot_w + 10}' x2='{left + plot_w + 34}' y1='{ly}' y2='{ly}' "
            f"stroke='{colour}' stroke-width='2'{dash}/>"
            f"<text x='{left + plot_w + 38}' y='{ly + 4}' font-size='12'>{html.escape(name)}"
            "</text>"
        )
    parts.append(
        f"<text x='{left + plot_w / 2:.0f}' y='{height - 4}' text-anchor='middle' "
        f"font-size='12'>{html.escape(xlabel)}</text>"
    )
    parts.append(
        f"<text x='{left}' y='16' font-size='13' font-weight='bold'>{html.escape(title)}</text>"
    )
    label = html.escape(title or "curves") + ": " + ", ".join(map(html.escape, arrays))
    return (
        f"<div class='live-figure' style='{PANEL}'><svg role='img' aria-label='{label}' "
        f"viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"style='max-width:100%;height:auto' font-family='sans-serif'>{''.join(parts)}</svg>"
        "</div>"
    )


__all__ = ["bars_html", "curves_svg", "heatmap_html"]
