"""matplotlib figures. Each helper returns a ``matplotlib.figure.Figure``; none touches pyplot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from minitransformer.viz._style import PROBABILITY_CMAP, SIGNED_CMAP, finish, new_figure


def as_array(values: Any, ndim: int | None = None, name: str = "values") -> np.ndarray:
    """A NumPy copy of a tensor (any device, with or without grad), array or nested list."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=float)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    return array


def _check_tokens(weights: np.ndarray, query_tokens, key_tokens) -> tuple[list[str], list[str]]:
    queries, keys = [str(t) for t in query_tokens], [str(t) for t in key_tokens]
    if weights.shape != (len(queries), len(keys)):
        raise ValueError(
            f"weights have shape {weights.shape} but there are {len(queries)} query tokens "
            f"and {len(keys)} key tokens (expected (T, S) = ({len(queries)}, {len(keys)}))"
        )
    return queries, keys


def attention_heatmap(
    weights: Any,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    *,
    title: str = "",
    annotate: bool | None = None,
    vmax: float = 1.0,
    cmap: str = PROBABILITY_CMAP,
    size: tuple[float, float] | None = None,
) -> Figure:
    """One head's attention weights, shape (T, S): rows are queries, columns are keys.

    Colours run over the fixed range [0, ``vmax``] so that figures compare. ``annotate``
    writes each weight in its cell (default: when the map has at most 12 x 12 cells).
    """
    weights = as_array(weights, 2, "weights")
    queries, keys = _check_tokens(weights, query_tokens, key_tokens)
    T, S = weights.shape
    if size is None:
        size = (min(2.0 + 0.55 * S, 12.0), min(1.6 + 0.45 * T, 10.0))
    fig = new_figure(*size)
    ax = fig.subplots()
    image = ax.imshow(weights, vmin=0.0, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_xticks(range(S), keys, rotation=90 if max(map(len, keys), default=0) > 3 else 0)
    ax.set_yticks(range(T), queries)
    ax.set(xlabel="key (S)", ylabel="query (T)", title=title)
    ax.spines[:].set_visible(False)
    if annotate is None:
        annotate = T <= 12 and S <= 12
    if annotate:
        for (row, col), value in np.ndenumerate(weights):
            colour = "black" if value > 0.6 * vmax else "white"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", color=colour, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.85, label="weight")
    return finish(fig)


def _encoding(encoding: Any, length: int, d_model: int) -> np.ndarray:
    if encoding is not None:
        return as_array(encoding, 2, "encoding")
    from minitransformer.positional import sinusoidal_encoding

    return as_array(sinusoidal_encoding(length, d_model))


def positional_heatmap(
    encoding: Any = None,
    *,
    length: int = 50,
    d_model: int = 128,
    title: str = "",
) -> Figure:
    """The positional-encoding matrix (positions x dimensions), values in [-1, 1].

    Pass ``encoding`` (shape (length, D)) or let the helper compute
    ``sinusoidal_encoding(length, d_model)``.
    """
    table = _encoding(encoding, length, d_model)
    length, d_model = table.shape
    fig = new_figure(8.0, 4.2)
    ax = fig.subplots()
    image = ax.imshow(table, vmin=-1.0, vmax=1.0, cmap=SIGNED_CMAP, aspect="auto")
    ax.set(
        xlabel="dimension i of the encoding",
        ylabel="position pos",
        title=title or f"sinusoidal positional encoding, D = {d_model}",
    )
    fig.colorbar(image, ax=ax, shrink=0.85, label="PE(pos, i)")
    return finish(fig)


def positional_curves(
    dimensions: Sequence[int] = (0, 1, 4, 5, 16, 17),
    *,
    length: int = 100,
    d_model: int = 128,
    encoding: Any = None,
    title: str = "",
) -> Figure:
    """PE(pos, i) against pos for a few dimensions i: even i are sines, odd i cosines."""
    table = _encoding(encoding, length, d_model)
    length, d_model = table.shape
    bad = [i for i in dimensions if not 0 <= i < d_model]
    if bad:
        raise ValueError(f"dimensions {bad} are outside 0..{d_model - 1}")
    fig = new_figure(8.0, 3.6)
    ax = fig.subplots()
    positions = np.arange(length)
    for i in dimensions:
        kind = "sin" if i % 2 == 0 else "cos"
        ax.plot(positions, table[:, i], label=f"i = {i} ({kind})", linewidth=1.6)
    ax.set(
        xlabel="position pos",
        ylabel="PE(pos, i)",
        ylim=(-1.1, 1.1),
        title=title or f"positional encoding curves, D = {d_model}",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return finish(fig)


def _history_columns(history: Any) -> dict[str, np.ndarray]:
    if isinstance(history, Mapping):
        columns = {str(k): as_array(v, 1, str(k)) for k, v in history.items()}
    elif isinstance(history, Sequence) and history and isinstance(history[0], Mapping):
        keys = [k for k in history[0] if all(k in row for row in history)]
        columns = {str(k): as_array([row[k] for row in history], 1, str(k)) for k in keys}
    else:
        raise TypeError(
            "history must be a mapping name -> list of values, or a non-empty list of dicts"
        )
    return columns


def training_curves(
    history: Any,
    *,
    x: str = "step",
    keys: Sequence[str] | None = None,
    logy: bool = False,
    title: str = "",
) -> Figure:
    """Curves of a training run: one panel per quantity (loss, accuracy, learning rate...).

    ``history`` is ``{"step": [...], "train_loss": [...], "val_loss": [...]}`` or a list of
    per-step dicts. Quantities sharing a suffix after ``train_``/``val_`` share a panel; the
    x axis is ``history[x]`` when present, else the index.
    """
    columns = _history_columns(history)
    xs = columns.pop(x, None)
    names = list(keys) if keys is not None else list(columns)
    missing = [k for k in names if k not in columns]
    if missing or not names:
        raise ValueError(f"no curves to draw: missing {missing}, available {list(columns)}")
    panels: dict[str, list[str]] = {}
    for name in names:
        base = name.split("_", 1)[1] if name.split("_", 1)[0] in ("train", "val") else name
        panels.setdefault(base, []).append(name)
    fig = new_figure(4.2 * len(panels), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (panel, members) in zip(axes, panels.items(), strict=True):
        for name in members:
            ys = columns[name]
            xs_here = xs if xs is not None and len(xs) == len(ys) else np.arange(len(ys))
            ax.plot(xs_here, ys, label=name, linewidth=1.6)
        ax.set(xlabel=x if xs is not None else "index", ylabel=panel)
        if logy and np.all(np.concatenate([columns[m] for m in members]) > 0):
            ax.set_yscale("log")
        if len(members) > 1:
            ax.legend(frameon=False)
    if title:
        fig.suptitle(title)
    return finish(fig)


# Okabe-Ito colours: distinguishable with colour-blindness, legible on the figures' white card.
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
SERIES_MARKERS = ("o", "s", "^", "D", "v", "P")


def loglog_times(
    lengths: Sequence[float],
    seconds: Mapping[str, Any],
    *,
    fit_from: float | None = None,
    slopes: Mapping[str, float] | None = None,
    dashed: Sequence[str] = (),
    title: str = "",
    xlabel: str = "sequence length n",
    ylabel: str = "seconds per forward pass",
) -> Figure:
    """Time against length on log-log axes, one curve per name of ``seconds``.

    ``slopes[name]``, fitted over lengths >= ``fit_from``, is drawn as a thin straight line
    through the curve's points there (least squares in log-log, the same fit) and written in
    the legend. Names in ``dashed`` are drawn with dashed lines (e.g. the parts of a layer).
    """
    n = as_array(lengths, 1, "lengths")
    if not len(n) or not (n > 0).all():
        raise ValueError("lengths must be positive (log axes)")
    if not seconds:
        raise ValueError("seconds must name at least one curve")
    slopes = dict(slopes or {})
    unknown = [name for name in [*slopes, *dashed] if name not in seconds]
    if unknown:
        raise ValueError(f"{unknown} are not curves of seconds {list(seconds)}")
    fig = new_figure(7.0, 4.4)
    ax = fig.subplots()
    for index, (name, values) in enumerate(seconds.items()):
        t = as_array(values, 1, f"seconds[{name!r}]")
        if t.shape != n.shape or not (t > 0).all():
            raise ValueError(f"seconds[{name!r}] needs {len(n)} positive values, got {t.shape}")
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        label = name
        if name in slopes:
            keep = n >= (fit_from or 0)
            if keep.sum() < 2:
                raise ValueError(f"fit_from={fit_from} leaves fewer than two lengths")
            slope = slopes[name]
            offset = np.mean(np.log(t[keep]) - slope * np.log(n[keep]))
            ax.plot(n[keep], np.exp(offset) * n[keep] ** slope, color=color, linewidth=4,
                    alpha=0.25, solid_capstyle="round")  # fmt: skip
            label = f"{name}: slope {slope:.2f}"
        ax.plot(n, t, color=color, marker=SERIES_MARKERS[index % len(SERIES_MARKERS)],
                markersize=5, linewidth=1.6, linestyle="--" if name in dashed else "-",
                label=label)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{int(v):,}" if float(v).is_integer() else f"{v:g}" for v in n])
    if fit_from is not None:
        ax.axvspan(fit_from, n.max(), color="#999999", alpha=0.12, linewidth=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return finish(fig)


__all__ = [
    "as_array",
    "attention_heatmap",
    "loglog_times",
    "positional_curves",
    "positional_heatmap",
    "training_curves",
]
