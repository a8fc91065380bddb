"""Sphinx extension: the built pages read well on a phone and pass an accessibility audit.

* A pybtex style ``authoryear``: the bibliography labels its entries "Vaswani et al., 2017",
  the way the text cites them (``bibtex_reference_style: author_year``), not "[VSP+17]", sorted
  by author and year, with each entry's DOI or URL as a link.
* ``plotly-narrow.js`` (``book/_static``) on every page: it relays plotly figures out for a
  narrow screen and does nothing on a page without plotly.
* After the build, every HTML page is corrected where the theme or docutils write markup that
  axe-core reports (tests/browser/test_a11y.py runs axe on every page), and an output image
  whose alt text is only its file name gets the description its PNG carries
  (``viz.figure_png`` writes the figure's titles and axis labels into it), see ``fix_html``.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

NARROW_JS = "plotly-narrow.js"


def _last_name(person) -> str:
    return str(Text.from_latex(" ".join(person.prelast_names + person.last_names)))


def author_year_label(entry) -> str:
    """ "Vaswani et al., 2017", "Ba, Kiros and Hinton" style shortened to the first author."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year", "n.d.")
    if not persons:
        return f"{entry.fields.get('title', entry.key)}, {year}"
    names = [_last_name(p) for p in persons]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:  # two works of one first author in one year: 2017a, 2017b
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


# --- HTML corrections -------------------------------------------------------------------------
# Each is (pattern, replacement, why). They are idempotent: a page already fixed is unchanged.
_FIXES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], str]] = [
    (
        # docutils writes <div role="list" class="citation-list"> around entries with
        # role="doc-biblioentry", a role ARIA 1.2 deprecates and that "list" does not accept as
        # a child (axe: aria-required-children). Each entry is a list item of the list.
        re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'),
        r'\1 role="listitem"',
        "aria-required-children",
    ),
    (
        # pydata-sphinx-theme's colour-mode button is named "Color mode", but its three icons
        # carry titles ("Light", "Dark", "System Settings") that count as its visible text
        # (axe: label-content-name-mismatch). The icons are decoration: hide them from
        # assistive technology; the button keeps its name and its tooltip.
        re.compile(r'<i class="(theme-switch [^"]*)" data-mode="(\w+)"\s+title="[^"]*"></i>'),
        r'<i class="\1" data-mode="\2" aria-hidden="true"></i>',
        "label-content-name-mismatch",
    ),
    (
        # A sidebar entry with pages under it (chapter 8 and its section 8.1, the package's
        # modules) gets a <details> toggle whose <summary> holds only an icon (axe:
        # summary-name). It is named after the entry it opens.
        re.compile(
            r'(<a class="(?:current )?reference internal" href="[^"]*">((?:(?!</a>).)*)</a>'
            r"<details[^>]*>)<summary>"
            r'(<span class="toctree-toggle" role="presentation">)'
        ),
        lambda m: f'{m[1]}<summary aria-label="Pages under {_plain(m[2])}">{m[3]}',
        "summary-name",
    ),
    (
        # The search button is named "Search" but shows "Search Ctrl+K"
        # (label-content-name-mismatch): its name now says all it shows, shortcut included.
        re.compile(
            r'(<button class="btn search-button-field search-button__button[^"]*" '
            r'title="Search") aria-label="Search"'
        ),
        r'\1 aria-label="Search Ctrl+K" aria-keyshortcuts="Control+K"',
        "label-content-name-mismatch",
    ),
    (
        # MyST-NB's toggle of a hidden cell output (tag hide-output) is named "Toggle hidden
        # content" while it shows "Show code cell output" (label-content-name-mismatch). Without
        # the label its name is the text it shows, which also says what opening it does.
        re.compile(
            r'(<details class="[^"]*\bhide\b[^"]*">\s*<summary) aria-label="Toggle hidden content"'
        ),
        r"\1",
        "label-content-name-mismatch",
    ),
    (
        # Sphinx's module index lays its list out in a table without headers (td-has-header):
        # it is a layout table, and says so.
        re.compile(r'<table class="indextable modindextable">'),
        r'<table class="indextable modindextable" role="presentation">',
        "td-has-header",
    ),
]


_IMG = re.compile(r"<img\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def _plain(markup: str) -> str:
    """The text of an HTML fragment, for an attribute value."""
    return html.escape(html.unescape(_TAG.sub("", markup)), quote=True)


_ATTR = re.compile(r'\s(alt|src)="([^"]*)"')


def png_description(path: Path) -> str:
    """The ``Description`` text chunk of a PNG (``viz.figure_png`` writes one), or ""."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return str(image.info.get("Description", "")).strip()
    except (OSError, ValueError):
        return ""


def _alt_from_png(tag: str, page: Path) -> str:
    """An output image whose alt is only its file name gets the figure's own description."""
    attrs = dict(_ATTR.findall(tag))
    alt, src = attrs.get("alt"), attrs.get("src", "")
    if alt is None or not src or (alt and not alt.endswith((".png", ".jpg", ".jpeg"))):
        return tag
    description = png_description(page.parent / src) if src.endswith(".png") else ""
    if not description:
        return tag
    description = html.escape(description, quote=True)
    return tag.replace(f'alt="{alt}"', f'alt="{description}"', 1)


def fix_html(text: str, page: Path | None = None) -> str:
    for pattern, replacement, _why in _FIXES:
        text = pattern.sub(replacement, text)
    if page is not None:
        text = _IMG.sub(lambda match: _alt_from_png(match.group(0), page), text)
    return text


def fix_site(outdir: Path) -> int:
    """Apply :func:`fix_html` to every page under ``outdir``; returns how many changed."""
    changed = 0
    for path in Path(outdir).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        fixed = fix_html(text, path)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")
            changed += 1
    return changed


def _fix_pages(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        fix_site(Path(app.outdir))


def setup(app: Sphinx) -> dict:
    app.add_js_file(NARROW_JS, priority=600)
    app.connect("build-finished", _fix_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
