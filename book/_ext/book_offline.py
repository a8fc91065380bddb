"""Sphinx extension: the book renders offline, and plotly figures render in the HTML.

What it does, and why:

* Sets ``PLOTLY_RENDERER=notebook_connected`` and ``PYTHONWARNINGS=error:Glyph`` in the
  environment of the *build only*. The kernels that execute the notebooks inherit them, so
  plotly emits ``text/html`` (myst-nb can render it; the ``mystnb.unknown_mime_type`` warning
  stays on as the guard) and a matplotlib "Glyph ... missing" warning is an error. (Under a
  kernel, plotly's default renderer is a mimetype that myst-nb cannot render: the build would
  warn ``mystnb.unknown_mime_type`` for every figure.) Jupyter, VS Code and Colab keep their
  own renderer: notebooks never name one.
* Serves ONE copy of ``plotly.min.js`` (from the installed ``plotly`` package) and MathJax 3
  (from the ``django-static-mathjax`` package) from the site's ``_static``; no CDN.
* Removes the CDN ``<script>`` tags that plotly's renderer writes into every figure output and
  adds ``plotly.min.js`` to exactly the pages that hold a plotly figure.
* Fails the build (a warning under ``-W``) if any output still loads a script from the web, if
  an output holds a traceback (an error after the cell ran, e.g. while drawing a figure, which
  nbclient does not count as a failed cell) outside a cell tagged ``raises-exception``, or if a
  matplotlib figure came out as text (``<Figure size ...>``) instead of an image, or if an
  ipywidgets widget was displayed without the "needs a kernel" note of ``viz.live_*``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

PLOTLY_JS = "plotly/plotly.min.js"
MATHJAX_JS = "mathjax/tex-mml-chtml.js"

# Script tags that plotly's notebook_connected renderer writes; each is replaced by nothing.
_CDN_SCRIPTS = [
    re.compile(r'<script type="module">\s*import\s+"https://cdn\.plot\.ly/[^"]*"\s*</script>'),
    re.compile(r'<script[^>]*\ssrc="https://cdn\.plot\.ly/[^"]*"[^>]*>\s*</script>'),
    re.compile(
        r'<script[^>]*\ssrc="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"'
        r"[^>]*>\s*</script>"
    ),
]
_REMOTE = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*\s(?:src|href)=["']?(?:https?:)?//""", re.IGNORECASE
)
_PLOTLY_DIV = 'class="plotly-graph-div"'


def set_kernel_environment() -> None:
    """The environment every kernel of the build inherits (tools/build_book.py sets it too,
    for the notebooks it executes before Sphinx runs)."""
    os.environ["PLOTLY_RENDERER"] = "notebook_connected"
    warnings = [w for w in os.environ.get("PYTHONWARNINGS", "").split(",") if w]
    if "error:Glyph" not in warnings:
        os.environ["PYTHONWARNINGS"] = ",".join([*warnings, "error:Glyph"])


def _copy_static_files(app: Sphinx, exception: Exception | None) -> None:
    """Copy plotly.js and MathJax into the site's ``_static`` (not via ``html_static_path``:
    changing a config value would make Sphinx re-read every page on the next build)."""
    if exception is not None or app.builder.format != "html":
        return
    import mathjax
    import plotly

    staging = Path(app.outdir) / "_static"
    plotly_src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    mathjax_src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    copies = {
        plotly_src: staging / PLOTLY_JS,
        mathjax_src / "tex-mml-chtml.js": staging / MATHJAX_JS,
    }
    for src, dst in copies.items():
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    fonts = staging / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    if not fonts.exists():
        shutil.copytree(mathjax_src / "output" / "chtml" / "fonts" / "woff-v2", fonts)


def _config_inited(app: Sphinx, config) -> None:
    config.mathjax_path = MATHJAX_JS


_UNDRAWN_FIGURE = re.compile(r"^<Figure size \d+x\d+ with \d+ Axes>$")
# The text fallback of an ipywidgets widget, e.g. "interactive(children=(IntSlider(...":
_BARE_WIDGET = re.compile(r"^[A-Za-z]+\(children=\(")


def _intentional_error(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if "tag_raises-exception" in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def _check_outputs(doctree: nodes.document) -> None:
    for node in doctree.findall(nodes.literal_block):
        classes = node.get("classes", [])
        if "output" not in classes:
            continue
        if "traceback" in classes and not _intentional_error(node):
            last = node.astext().strip().splitlines()[-1:] or [""]
            logger.warning(
                "a cell output holds a traceback: %s", last[0], location=node, type="book_offline"
            )
        elif _BARE_WIDGET.match(node.astext().strip()):
            logger.warning(
                "an ipywidgets widget without a 'needs a kernel' note: build it with a "
                "viz.live_* helper (or show viz.live_note_html) and add a static plotly figure",
                location=node,
                type="book_offline",
            )
        elif _UNDRAWN_FIGURE.match(node.astext().strip()):
            logger.warning(
                "a matplotlib figure was shown as text, not drawn: call viz.setup() first",
                location=node,
                type="book_offline",
            )


def _clean_outputs(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    _check_outputs(doctree)
    has_plotly = False
    for node in doctree.findall(nodes.raw):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        cleaned = text
        for pattern in _CDN_SCRIPTS:
            cleaned = pattern.sub("", cleaned)
        if _PLOTLY_DIV in cleaned:
            has_plotly = True
        if _REMOTE.search(cleaned):
            logger.warning(
                "an output loads a file from the web (the book must work offline): %s",
                _REMOTE.search(cleaned).group(0),
                location=node,
                type="book_offline",
            )
        if cleaned != text:
            node.children = [nodes.Text(cleaned)]
            node["rawsource"] = cleaned
    # myst-nb would embed the saved ipywidgets state (~160 kB of dead widgets) in the page.
    nb_metadata = getattr(app.env, "nb_metadata", {}).get(docname, {})
    nb_metadata.get("js_files", {}).pop("ipywidgets_state", None)
    pages = app.env.__dict__.setdefault("book_offline_plotly_pages", set())
    if has_plotly:
        pages.add(docname)
    else:
        pages.discard(docname)


def _page_context(app: Sphinx, pagename: str, templatename: str, context, doctree) -> None:
    if pagename in app.env.__dict__.get("book_offline_plotly_pages", set()):
        app.add_js_file(PLOTLY_JS, priority=200)


def setup(app: Sphinx) -> dict:
    set_kernel_environment()
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _copy_static_files)
    app.connect("doctree-resolved", _clean_outputs)
    app.connect("html-page-context", _page_context)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
