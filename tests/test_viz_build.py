"""The book build's guards (book/_ext/book_offline.py), without building the book.

- plotly's renderer output loses its CDN script tags and keeps the figure;
- a matplotlib "Glyph ... missing" warning inside a kernel becomes a traceback in the output,
  and a traceback in an output fails the build (a warning under -W);
- a figure shown as text instead of an image fails the build.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import book_offline  # noqa: E402


def _document(*children: nodes.Node) -> nodes.document:
    document = new_document("test", get_default_settings(Parser))
    for child in children:
        document += child
    return document


def _app() -> SimpleNamespace:
    env = SimpleNamespace(nb_metadata={"page": {"js_files": {"ipywidgets_state": ("", {})}}})
    return SimpleNamespace(env=env)


def _plotly_html() -> str:
    import plotly.graph_objects as go
    import plotly.io as pio

    renderer = pio.renderers["notebook_connected"]
    return renderer.to_mimebundle(go.Figure(go.Heatmap(z=[[0.1, 0.9]])).to_dict())["text/html"]


@pytest.fixture
def warnings_seen(caplog):
    caplog.set_level(logging.WARNING)
    return lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_plotly_output_is_served_locally(warnings_seen):
    html = _plotly_html()
    assert "cdn.plot.ly" in html  # what the renderer writes
    raw = nodes.raw("", html, format="html")
    document = _document(raw)
    app = _app()
    book_offline._clean_outputs(app, document, "page")
    cleaned = document.next_node(nodes.raw).astext()
    assert "plotly-graph-div" in cleaned and "Plotly.newPlot" in cleaned
    assert "https://" not in cleaned.split("Plotly.newPlot")[0]
    assert app.env.book_offline_plotly_pages == {"page"}
    assert app.env.nb_metadata["page"]["js_files"] == {}  # no dead widget state embedded
    assert not warnings_seen()


def test_remote_script_in_an_output_is_reported(warnings_seen):
    raw = nodes.raw("", '<script src="https://example.org/x.js"></script>', format="html")
    book_offline._clean_outputs(_app(), _document(raw), "page")
    assert any("loads a file from the web" in m for m in warnings_seen())


def _traceback_block(text: str, tags: list[str] | None = None) -> nodes.Node:
    block = nodes.literal_block(text, text, classes=["output", "traceback"])
    if tags is None:
        return block
    cell = nodes.container(classes=["cell", *(f"tag_{t}" for t in tags)])
    cell += block
    return cell


def test_traceback_in_an_output_is_reported(warnings_seen):
    error = "UserWarning: Glyph 52852 missing from font(s) DejaVu Sans."
    book_offline._check_outputs(_document(_traceback_block(error)))
    assert any("traceback" in m and "Glyph" in m for m in warnings_seen())


def test_intended_error_is_not_reported(warnings_seen):
    book_offline._check_outputs(_document(_traceback_block("ValueError", ["raises-exception"])))
    assert not warnings_seen()


def test_figure_shown_as_text_is_reported(warnings_seen):
    text = "<Figure size 640x480 with 1 Axes>"
    book_offline._check_outputs(_document(nodes.literal_block(text, text, classes=["output"])))
    assert any("not drawn" in m for m in warnings_seen())


def test_missing_glyph_in_a_kernel_leaves_a_traceback(monkeypatch):
    """What the build's kernels do: PYTHONWARNINGS=error:Glyph (set by book_offline.setup)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONWARNINGS", "")
    monkeypatch.setenv("PLOTLY_RENDERER", "")  # restored after the test
    book_offline.set_kernel_environment()
    assert "error:Glyph" in os.environ["PYTHONWARNINGS"].split(",")
    assert os.environ["PLOTLY_RENDERER"] == "notebook_connected"
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('카페')"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "UserWarning" and "Glyph" in errors[0].evalue


def test_bare_widget_is_reported(warnings_seen):
    text = "interactive(children=(IntSlider(value=1, description='x'), Output()))"
    book_offline._check_outputs(_document(nodes.literal_block(text, text, classes=["output"])))
    assert any("needs a kernel" in m for m in warnings_seen())
