"""Queries, keys and values step by step: the measurements and widgets of chapter 4.

- :class:`Table`: rows of dicts displayed as a table.
- :func:`matrix_sizes`: the shape of every matrix in softmax(Q K^T / sqrt(d_k)) V, read off
  a real run of the computation (not typed in by hand).
- :func:`dot_product_variance`: the variance of q . k for random unit-variance vectors, with
  and without the division by sqrt(d_k), measured for several d_k.
- :func:`softmax_saturation`: how peaked softmax gets, and how small its gradient, when the
  scores are not scaled.
- :func:`row_table`: one query word's attention row in every layer and head of a model.
- :func:`product_figure`: a matrix product drawn as heatmaps, ``x @ W = q``.
- :func:`live_softmax_explorer`, :func:`live_row_explorer`: ipywidgets (need a kernel).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from minitransformer.reference import softmax


def matrix_sizes(seq_len: int, d_model: int, num_heads: int, *, seed: int = 0) -> list[dict]:
    """Run one head of self-attention in numpy on random inputs and report every shape.

    Returns rows ``{"matrix", "meaning", "shape"}`` in the order of the computation.
    """
    if d_model % num_heads:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    rng = np.random.default_rng(seed)
    d_head = d_model // num_heads
    X = rng.standard_normal((seq_len, d_model))
    W_Q, W_K, W_V = (rng.standard_normal((d_model, d_head)) for _ in range(3))
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    scores = Q @ K.T / np.sqrt(d_head)
    weights = softmax(scores)
    Z = weights @ V
    named = [
        ("X", "word vectors, one row per word", X),
        ("W_Q, W_K, W_V", "projections D -> Dh (one head)", W_Q),
        ("Q, K, V", "queries, keys, values", Q),
        ("K^T", "keys, transposed", K.T),
        ("Q K^T / sqrt(d_k)", "scaled scores, query x key", scores),
        ("softmax(...)", "attention weights, rows sum to 1", weights),
        ("softmax(...) V", "output of the head", Z),
    ]
    return [{"matrix": n, "meaning": m, "shape": tuple(a.shape)} for n, m, a in named]


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts), for ``IPython.display.Markdown``."""
    if not rows:
        raise ValueError("no rows")
    columns = list(columns or rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [str(row[c]).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Table:
    """Rows of dicts shown as a table: HTML in the book and in Jupyter, Markdown elsewhere.

    (The book renders a cell's Markdown output as CommonMark, which has no tables.)"""

    def __init__(self, rows: Sequence[dict], columns: Sequence[str] | None = None) -> None:
        if not rows:
            raise ValueError("no rows")
        self.rows = list(rows)
        self.columns = list(columns or self.rows[0])

    def _repr_markdown_(self) -> str:
        return markdown_table(self.rows, self.columns)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in self.columns) + "</tr>"
            for row in self.rows
        )
        return f"<table class='table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return markdown_table(self.rows, self.columns)


def dot_product_variance(
    d_ks: Sequence[int] = (1, 4, 16, 64, 256, 1024), samples: int = 20000, *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Variance of q . k and of q . k / sqrt(d_k) for q, k with independent N(0, 1) entries.

    Theory: var(q . k) = d_k (a sum of d_k products of unit variance), so the scaled version
    has variance 1 whatever d_k is. Returns arrays ``d_k``, ``raw`` and ``scaled``.
    """
    rng = np.random.default_rng(seed)
    raw, scaled = [], []
    for d_k in d_ks:
        q = rng.standard_normal((samples, d_k))
        k = rng.standard_normal((samples, d_k))
        dots = np.einsum("nd,nd->n", q, k)
        raw.append(dots.var())
        scaled.append((dots / np.sqrt(d_k)).var())
    return {"d_k": np.array(d_ks), "raw": np.array(raw), "scaled": np.array(scaled)}


def softmax_saturation(
    d_ks: Sequence[int] = (1, 4, 16, 64, 256, 1024),
    num_keys: int = 6,
    trials: int = 2000,
    *,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """For random queries and ``num_keys`` random keys of width d_k: the mean largest weight
    of softmax(scores) and the mean size (Frobenius norm) of softmax's Jacobian
    diag(p) - p p^T, for raw and for scaled scores. A largest weight near 1 with a Jacobian
    near 0 is a saturated softmax: almost no gradient flows back through it."""
    rng = np.random.default_rng(seed)
    names = ("max_raw", "max_scaled", "grad_raw", "grad_scaled")
    out: dict[str, list[float]] = {name: [] for name in names}
    for d_k in d_ks:
        q = rng.standard_normal((trials, 1, d_k))
        k = rng.standard_normal((trials, num_keys, d_k))
        scores = (q @ np.swapaxes(k, 1, 2))[:, 0]  # (trials, num_keys)
        for name, s in (("raw", scores), ("scaled", scores / np.sqrt(d_k))):
            p = softmax(s)
            jacobian = np.einsum("ni,ij->nij", p, np.eye(num_keys)) - p[:, :, None] * p[:, None]
            out[f"max_{name}"].append(float(p.max(axis=1).mean()))
            out[f"grad_{name}"].append(float(np.linalg.norm(jacobian, axis=(1, 2)).mean()))
    return {"d_k": np.array(d_ks), **{key: np.array(v) for key, v in out.items()}}


def row_table(
    weights: np.ndarray, tokens: Sequence[str], query: str, *, exclude_self: bool = True
) -> list[dict[str, Any]]:
    """The attention row of ``query`` in every layer and head, and the mean over heads.

    weights: (N, H, S, S) self-attention of one sentence; tokens: its S words. Each row gives
    the top key, its weight, and (``exclude_self``) the top key among the *other* words.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 4 or weights.shape[2:] != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be (N, H, S, S) with S={len(tokens)}, got {weights.shape}")
    t = list(tokens).index(query)
    N, H = weights.shape[:2]
    rows = []
    for layer in range(N):
        for head in [*range(H), "mean"]:
            row = weights[layer].mean(axis=0)[t] if head == "mean" else weights[layer, head, t]
            entry: dict[str, Any] = {"layer": layer, "head": head}
            entry["top key"], entry["weight"] = (
                tokens[int(row.argmax())],
                round(float(row.max()), 3),
            )
            if exclude_self:
                others = np.where(np.arange(len(tokens)) == t, -np.inf, row)
                top = int(others.argmax())
                entry["top other key"] = tokens[top]
                entry["other weight"] = round(float(row[top]), 3)
            rows.append(entry)
    return rows


def product_figure(terms: Sequence[tuple[str, np.ndarray]], operators: Sequence[str]) -> Figure:
    """Matrices side by side as heatmaps with the operators between them, e.g.
    ``product_figure([("x", x), ("W_Q", W), ("q", q)], ["@", "="])``; each panel is titled
    with its name and shape. Signed values on a symmetric colour range shared by all panels;
    matrices of at most 40 entries have their values printed in the cells."""
    from minitransformer.viz._style import SIGNED_CMAP, finish, new_figure

    if len(operators) != len(terms) - 1:
        raise ValueError("need exactly one operator between each pair of terms")
    arrays = [np.atleast_2d(np.asarray(a, dtype=float)) for _, a in terms]
    limit = max(float(np.abs(a).max()) for a in arrays) or 1.0
    widths = [max(a.shape[1], 1) for a in arrays]
    fig = new_figure(min(2.0 + 0.45 * sum(widths), 12.0), 3.4)
    axes = fig.subplots(1, len(terms), width_ratios=widths)
    for index, (ax, (name, _), array) in enumerate(zip(axes, terms, arrays, strict=True)):
        ax.imshow(array, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit)
        if array.size <= 40:  # small enough to print every entry
            for (row, col), value in np.ndenumerate(array):
                colour = "white" if abs(value) > 0.6 * limit else "black"
                ax.text(
                    col, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour
                )
        ax.set_title(f"{name}\n{array.shape[0]} x {array.shape[1]}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        if index < len(operators):
            ax.annotate(operators[index], (1.0, 0.5), xycoords="axes fraction", fontsize=16,
                        xytext=(8, 0), textcoords="offset points", va="center")  # fmt: skip
    return finish(fig)


def live_softmax_explorer(scores: np.ndarray, labels: Sequence[str], d_k: int = 4):
    """Sliders for a temperature tau and a width: softmax(scores * sqrt(width / d_k) / tau).

    ``scores``: one row of scaled scores computed with keys of width ``d_k``. Multiplying by
    sqrt(width / d_k) shows how the row would look unscaled at that width; tau divides."""
    from minitransformer.viz.live import _live_only_class, _widgets, live_view
    from minitransformer.viz.live_html import bars_html

    widgets = _widgets()
    scores = np.asarray(scores, dtype=float)
    tau = widgets.FloatLogSlider(description="τ", value=1.0, base=2, min=-3, max=4, step=0.25)
    width = widgets.IntSlider(description="d_k", value=d_k, min=d_k, max=1024, step=1)
    output = live_view()

    def redraw(*_):
        row = softmax(scores * np.sqrt(width.value / d_k) / tau.value)
        title = f"unscaled at d_k = {width.value}, then divided by τ = {tau.value:.2f}"
        output.value = bars_html(row, labels, title=title)

    for control in (tau, width):
        control.observe(redraw, names="value")
    redraw()
    what = "Move the temperature τ and the width d_k and watch the softmax sharpen or flatten."
    return _live_only_class()([widgets.HBox([tau, width]), output], what=what)


def live_row_explorer(weights: np.ndarray, tokens: Sequence[str], query: str | None = None):
    """Pick a query word, a layer and a head (or the mean of heads): its attention row as
    bars. weights: (N, H, S, S) self-attention of one sentence with words ``tokens``."""
    from minitransformer.viz.live import _live_only_class, _widgets, live_view
    from minitransformer.viz.live_html import bars_html

    widgets = _widgets()
    weights = np.asarray(weights, dtype=float)
    N, H = weights.shape[:2]
    word = widgets.Dropdown(description="query", options=list(tokens), value=query or tokens[0])
    layer = widgets.IntSlider(description="layer", min=0, max=N - 1, value=N - 1)
    head = widgets.Dropdown(description="head", options=[*map(str, range(H)), "mean"], value="mean")
    output = live_view()

    def redraw(*_):
        t = list(tokens).index(word.value)
        maps = weights[layer.value]
        row = maps.mean(axis=0)[t] if head.value == "mean" else maps[int(head.value), t]
        title = f"query {word.value}: layer {layer.value}, head {head.value}"
        output.value = bars_html(row, tokens, title=title)

    for control in (word, layer, head):
        control.observe(redraw, names="value")
    redraw()
    what = "Pick a query word, a layer and a head; the bars are that query's attention row."
    return _live_only_class()([widgets.HBox([word, layer, head]), output], what=what)


__all__ = [
    "Table",
    "dot_product_variance",
    "live_row_explorer",
    "live_softmax_explorer",
    "markdown_table",
    "matrix_sizes",
    "product_figure",
    "row_table",
    "softmax_saturation",
]
