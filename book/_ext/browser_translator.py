"""Sphinx extension: the shipped translator runs in the reader's browser.

* At the end of an HTML build, exports ``minitransformer.load_pretrained()`` into the site's
  ``_static/translator/`` as ``translator.json`` (config, tensor names and shapes, the two
  vocabularies) and ``translator.bin`` (float32 weights), with
  ``minitransformer.export.export_browser_model``: the page runs the checkpoint itself, so it
  cannot drift from the package. The JavaScript that reads them (``translator.js``, the
  forward pass; ``widget.js``, the widget; ``widget.css``) lives in
  ``book/_static/translator/`` and is copied by Sphinx with the rest of ``_static``.
* Adds those scripts (and plotly.js, which draws the heatmap) to exactly the pages that hold
  the placeholder of ``viz.browser_translator()``.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

MARKER = 'class="mt-browser-translator"'
PLOTLY_JS = "plotly/plotly.min.js"  # served by book_offline
SCRIPTS = ("translator/translator.js", "translator/widget.js")
STYLE = "translator/widget.css"
_PAGES = "browser_translator_pages"


def _export_model(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from minitransformer.export import export_browser_model
    from minitransformer.pretrained import load_pretrained

    target = Path(app.outdir) / "_static" / "translator"
    weights, manifest = export_browser_model(load_pretrained(), target)
    logger.info(
        "browser translator: %s (%d KiB), %s",
        weights.name,
        weights.stat().st_size // 1024,
        manifest.name,
    )


def _find_widgets(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    pages = app.env.__dict__.setdefault(_PAGES, set())
    found = any(
        MARKER in node.astext()
        for node in doctree.findall(nodes.raw)
        if "html" in node.get("format", "").split()
    )
    if found:
        pages.add(docname)
    else:
        pages.discard(docname)


def _page_context(app: Sphinx, pagename: str, templatename: str, context, doctree) -> None:
    if pagename not in app.env.__dict__.get(_PAGES, set()):
        return
    scripts = context.get("script_files", [])
    if not any(str(getattr(script, "filename", script)).endswith(PLOTLY_JS) for script in scripts):
        app.add_js_file(PLOTLY_JS, priority=200)
    for script in SCRIPTS:
        app.add_js_file(script, priority=600, loading_method="defer")
    app.add_css_file(STYLE, priority=600)


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", _export_model)
    app.connect("doctree-resolved", _find_widgets)
    # after book_offline's handler (priority 500), which adds plotly.js to pages with figures
    app.connect("html-page-context", _page_context, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
