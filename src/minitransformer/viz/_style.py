"""The book's one figure style, the Hangul font, and the chapter setup call."""

from __future__ import annotations

import io
import random
import warnings
from importlib.util import find_spec
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure

# NanumGothic arrives with `pip install koreanize-matplotlib`: no system font is needed.
HANGUL_FONT = "NanumGothic"
# DejaVu Sans first: its maths signs (the square root of "softmax(QK^T/√Dh)", ×, −) are drawn
# properly, NanumGothic's √ is a cramped glyph with a broken bar. matplotlib takes every glyph
# DejaVu Sans lacks (Hangul) from the next family in the list.
MPL_FONT_FAMILY = ["DejaVu Sans", HANGUL_FONT]
# Plotly text is drawn by the reader's browser: name fonts most systems have, Korean ones first.
PLOTLY_FONT_FAMILY = (
    '"Noto Sans KR", "Noto Sans CJK KR", "NanumGothic", "Nanum Gothic", "Malgun Gothic", '
    '"Apple SD Gothic Neo", "Open Sans", "Helvetica Neue", Arial, sans-serif'
)
PROBABILITY_COLORSCALE = "Viridis"  # plotly; matplotlib: "viridis"
PROBABILITY_CMAP = "viridis"
SIGNED_CMAP = "RdBu_r"  # values in [-1, 1], e.g. positional encodings
PNG_DPI = 110


def hangul_font_path() -> Path:
    """Path of NanumGothic.ttf inside the installed koreanize-matplotlib package."""
    spec = find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "koreanize-matplotlib is not installed: `pip install -r requirements.txt`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "NanumGothic.ttf"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from koreanize-matplotlib")
    return path


SYSTEM_HANGUL_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic",
                       "AppleGothic", "Apple SD Gothic Neo")  # fmt: skip


def register_hangul_font() -> str:
    """Make a Hangul font known to matplotlib (idempotent) and return its family name.

    NanumGothic from koreanize-matplotlib (a dependency of the book) first; without that
    package, a Korean font installed on the system.
    """
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    if HANGUL_FONT in names:
        return HANGUL_FONT
    try:
        font_manager.fontManager.addfont(str(hangul_font_path()))
        return HANGUL_FONT
    except (ModuleNotFoundError, FileNotFoundError):
        for name in SYSTEM_HANGUL_FONTS:
            if name in names:
                return name
        raise


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free Figure (no global state) with the Hangul font registered."""
    register_hangul_font()
    return Figure(figsize=(width, height), layout="constrained")


def finish(fig: Figure) -> Figure:
    """Lay the figure out now, so a missing glyph is reported in the cell that drew it."""
    fig.draw_without_rendering()
    return fig


def figure_description(fig: Figure) -> str:
    """What a figure shows, from its own words: titles, then each panel's axis labels.

    ``"Figure: attention weights. Panel 1: x key (S), y query (T)."`` The PNG carries it as
    its ``Description``; the book's build turns it into the image's alt text.
    """

    def clean(text: str) -> str:
        return " ".join(text.replace("$", "").split())

    parts: list[str] = []
    titles = [fig.get_suptitle()] if hasattr(fig, "get_suptitle") else []
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles += [ax.get_title(loc) for ax in axes for loc in ("left", "center", "right")]
    titles = list(dict.fromkeys(clean(t) for t in titles if clean(t)))
    if titles:
        parts.append("Figure: " + "; ".join(titles) + ".")
    for index, ax in enumerate(axes, start=1):
        labels = [f"{axis} {clean(label)}" for axis, label in
                  (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if clean(label)]  # fmt: skip
        if labels:
            where = f"Panel {index}: " if len(axes) > 1 else "Axes: "
            parts.append(where + ", ".join(labels) + ".")
    return " ".join(parts)


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes, with :func:`figure_description` as its ``Description``."""
    buffer = io.BytesIO()
    metadata = {"Description": figure_description(fig) or None}
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata=metadata)
    return buffer.getvalue()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the package
        return
    torch.manual_seed(seed)


def _plotly_template():
    import plotly.graph_objects as go
    import plotly.io as pio

    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.font = dict(family=PLOTLY_FONT_FAMILY, size=13, color="#222222")
    template.layout.paper_bgcolor = "white"
    template.layout.plot_bgcolor = "white"
    # Tick labels and axis titles get the room they need (long token labels, narrow screens:
    # book/_static/plotly-narrow.js shrinks fonts and margins below 640 px).
    template.layout.xaxis.automargin = True
    template.layout.yaxis.automargin = True
    template.layout.title.automargin = True
    template.layout.colorway = [
        "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
    ]  # fmt: skip
    return template


def setup(seed: int = 0, *, threads: int = 1) -> None:
    """The one setup call at the top of every chapter.

    - seeds Python's ``random``, NumPy and torch with ``seed``;
    - runs torch on ``threads`` CPU threads (default 1): the book's models are tiny, one thread
      is as fast as several and never fights other work for the cores, and the same thread
      count gives the same floating-point sums, so a chapter prints the same numbers on every
      machine;
    - registers the bundled Hangul font (NanumGothic) and makes it matplotlib's font for every
      glyph DejaVu Sans lacks (Hangul), so Latin text and maths signs keep DejaVu's shapes;
    - turns matplotlib's "Glyph ... missing" warning into an error, so a figure that would
      draw boxes instead of Hangul fails the cell (and the book build);
    - sets the book's plot defaults: matplotlib rcParams (font, colour map, dpi) and a plotly
      template named ``"book"`` (Korean font list, white card that stays legible in dark mode);
    - in IPython, displays a bare ``matplotlib.figure.Figure`` as a PNG.
    Changing global defaults is this function's job and no other helper's.
    """
    _seed_everything(seed)
    import torch

    torch.set_num_threads(threads)
    hangul = register_hangul_font()
    matplotlib.rcParams.update(
        {
            "font.family": [MPL_FONT_FAMILY[0], hangul],
            "mathtext.fontset": "dejavusans",  # $...$ in labels matches the text font
            "image.cmap": PROBABILITY_CMAP,
            "figure.dpi": PNG_DPI,
            "savefig.dpi": PNG_DPI,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    warnings.filterwarnings("error", message="Glyph", category=UserWarning)

    import plotly.io as pio

    pio.templates["book"] = _plotly_template()
    pio.templates.default = "book"
    _register_ipython_figure_formatter()


def _register_ipython_figure_formatter() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, figure_png)
