"""The book's accessibility extension (book/_ext/book_a11y.py), without building the book."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

from matplotlib.figure import Figure
from pybtex.database import Entry, Person

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import book_a11y


def _entry(key: str, authors: list[str], year: str) -> Entry:
    entry = Entry("article", fields={"title": "T", "year": year})
    entry.key = key
    entry.persons["author"] = [Person(name) for name in authors]
    return entry


def test_labels_read_like_the_citations():
    style = book_a11y.AuthorYearLabelStyle()
    entries = [
        _entry("a", ["Vaswani, Ashish", "Shazeer, Noam", "Parmar, Niki"], "2017"),
        _entry("b", ["Hochreiter, Sepp", 'Schmidhuber, J{\\"u}rgen'], "1997"),
        _entry("c", ["Radford, Alec"], "2018"),
        _entry("d", ["Radford, Alec"], "2018"),
    ]
    assert list(style.format_labels(entries)) == [
        "Vaswani et al., 2017",
        "Hochreiter and Schmidhuber, 1997",
        "Radford, 2018a",
        "Radford, 2018b",
    ]


def test_every_reference_has_a_doi_or_url():
    from pybtex.database import parse_file

    bib = parse_file(str(Path(__file__).resolve().parents[1] / "book" / "references.bib"))
    missing = [key for key, e in bib.entries.items() if not ({"doi", "url"} & set(e.fields))]
    assert not missing, f"references without a DOI or URL: {missing}"


def test_fix_html_repairs_what_axe_reported(tmp_path):
    page = tmp_path / "page.html"
    fig = Figure()
    ax = fig.subplots()
    ax.set(title="weights", xlabel="key")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Description": "Figure: weights <b>."})
    (tmp_path / "fig.png").write_bytes(buffer.getvalue())
    html = (
        '<div class="citation" id="id1" role="doc-biblioentry">'
        '<i class="theme-switch fa-solid fa-sun fa-lg" data-mode="light" title="Light"></i>'
        '<button class="btn search-button-field search-button__button pst-js-only" '
        'title="Search" aria-label="Search" data-bs-placement="bottom">'
        '<img alt="fig.png" src="fig.png" /><img alt="a real description" src="fig.png" />'
        '<a class="current reference internal" href="#">The package: <code>mt</code></a>'
        '<details open="open"><summary><span class="toctree-toggle" role="presentation">'
        "<i></i></span>"
        '<details class="admonition hide below-input">\n'
        '<summary aria-label="Toggle hidden content">'
        '<table class="indextable modindextable">'
    )
    page.write_text(html, encoding="utf-8")
    assert book_a11y.fix_site(tmp_path) == 1
    fixed = page.read_text(encoding="utf-8")
    assert 'role="listitem"' in fixed and "doc-biblioentry" not in fixed
    assert 'data-mode="light" aria-hidden="true"></i>' in fixed and 'title="Light"' not in fixed
    assert 'aria-label="Search Ctrl+K"' in fixed
    assert '<img alt="Figure: weights &lt;b&gt;." src="fig.png" />' in fixed
    assert '<img alt="a real description"' in fixed
    assert '<summary aria-label="Pages under The package: mt"><span' in fixed  # summary-name
    assert '<details class="admonition hide below-input">\n<summary>' in fixed
    assert '<table class="indextable modindextable" role="presentation">' in fixed
    assert book_a11y.fix_site(tmp_path) == 0  # idempotent


def test_setup_registers_the_script_and_the_post_processing():
    calls = []
    app = SimpleNamespace(
        add_js_file=lambda name, **kw: calls.append(("js", name)),
        connect=lambda event, handler: calls.append((event, handler.__name__)),
    )
    assert book_a11y.setup(app)["parallel_read_safe"]
    assert ("js", "plotly-narrow.js") in calls and ("build-finished", "_fix_pages") in calls
