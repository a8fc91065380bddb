"""The API reference ("The package" part): its pages, their [source] links, and the links
between a chapter's source view and the reference, in headless Chromium with no network."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from browser._audit import ready
from browser._site import ROOT, SITE

pytestmark = pytest.mark.browser

# One page per module of the reference: the .rst files of book/api (index.rst is the part's
# front page).
MODULES = sorted(p.stem for p in (ROOT / "book" / "api").glob("*.rst") if p.stem != "index")
API_PAGES = ["book/api/index.html"] + [f"book/api/{m}.html" for m in MODULES]
WHOLE_MODEL = "notebooks/08b-whole-model.html"
# Console errors that are not ours, each with the reason it is allowed (as in test_site.py).
ALLOWED_CONSOLE_ERRORS = {
    # sphinx-thebe 0.3.1 writes its inline configuration script twice; the second copy fails
    # to redeclare a `const`. Harmless: the first copy already set it.
    "Identifier 'THEBE_JS_URL' has already been declared": "sphinx-thebe 0.3.1 duplicate",
}


def _unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(allowed in e for allowed in ALLOWED_CONSOLE_ERRORS)]


@functools.cache
def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    return frozenset(tag["id"] for tag in _soup(path).find_all(id=True))


def _resolves(page: Path, href: str) -> str | None:
    """None if ``href`` (relative to ``page``) names an existing file and id, else why not."""
    parts = urlsplit(href)
    target = (page.parent / parts.path).resolve() if parts.path else page
    if not target.is_file():
        return f"{href}: no file {target}"
    if parts.fragment and parts.fragment not in _ids(target):
        return f"{href}: no id {parts.fragment!r} in {target.name}"
    return None


@pytest.mark.parametrize("module", MODULES)
def test_module_page_documents_the_module_with_source_links(module: str) -> None:
    page = SITE / "book" / "api" / f"{module}.html"
    assert page.exists(), f"{page} missing: is book/api/{module}.rst in _toc.yml?"
    soup = _soup(page)
    entries = soup.select("dl.py > dt[id]")
    assert entries, f"{module}: no documented objects"
    assert all(e["id"].startswith(f"minitransformer.{module}") for e in entries)
    anchors = soup.select("a.reference.internal")
    links = [a["href"] for a in anchors if a.select("span.viewcode-link")]
    top_level = soup.select("dl.py.class > dt[id], dl.py.function > dt[id]")
    unlinked = [dt["id"] for dt in top_level if not dt.select("span.viewcode-link")]
    assert links and not unlinked, f"{module}: no [source] link for {unlinked}"
    broken = [why for href in links if (why := _resolves(page, href))]
    assert not broken, broken
    source_page = (page.parent / urlsplit(links[0]).path).resolve()
    assert source_page.is_relative_to(SITE / "_modules" / "minitransformer")
    back = [a["href"] for a in _soup(source_page).select("a.viewcode-back")]
    broken_back = [why for href in back if (why := _resolves(source_page, href))]
    assert back and not broken_back, broken_back


@pytest.mark.parametrize("api_page", API_PAGES)
def test_api_page_loads_without_errors(probe, site_url, api_page: str) -> None:
    page = probe.page
    response = page.goto(site_url + api_page, wait_until="load")
    assert response is not None and response.ok, api_page
    ready(page)
    assert page.locator("article, main").first.inner_text().strip()
    assert not probe.blocked, f"{api_page} needs the network: {probe.blocked}"
    assert not _unexpected(probe.errors), f"{api_page} console errors: {probe.errors}"


def test_every_internal_link_of_the_api_pages_resolves() -> None:
    broken = []
    for page_path in API_PAGES:
        page = SITE / page_path
        for a in _soup(page).select("article a.reference.internal[href]"):
            if why := _resolves(page, a["href"]):
                broken.append(f"{page_path}: {why}")
    assert not broken, broken


def test_source_link_opens_highlighted_source(probe, site_url) -> None:
    page = probe.page
    page.goto(site_url + "book/api/attention.html", wait_until="load")
    entry = page.locator("dt[id='minitransformer.attention.scaled_dot_product_attention']")
    entry.locator("a:has(span.viewcode-link)").click()
    page.wait_for_load_state("load")
    assert "/_modules/minitransformer/attention.html" in page.url
    assert page.url.endswith("#scaled_dot_product_attention")
    target = page.locator("[id='scaled_dot_product_attention']")
    assert target.count() == 1 and target.is_visible()
    assert page.locator("div.highlight pre span.k").count() > 10  # highlighted keywords
    assert not _unexpected(probe.errors), probe.errors


def test_chapter_source_view_links_to_its_entry_and_back(probe, site_url) -> None:
    """A chapter's source view -> the API entry -> "Shown in" -> back to the same view."""
    page = probe.page
    page.goto(site_url + WHOLE_MODEL, wait_until="load")
    marker = page.locator("div.source-view[data-qualname='minitransformer.model.Encoder']")
    assert marker.count() == 1, "the whole-model page shows no source of Encoder"
    link = marker.locator("xpath=following-sibling::p[1]//a[contains(@href, 'model.Encoder')]")
    fold = page.locator(
        "details:has(div.source-view[data-qualname='minitransformer.model.Encoder'])"
    )
    if fold.count():  # a source the chapters before already walked through is folded
        assert not link.is_visible()
        fold.locator("summary").click()
    link.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("book/api/model.html#minitransformer.model.Encoder"), page.url
    entry = page.locator("dt[id='minitransformer.model.Encoder']")
    assert entry.is_visible()
    links = page.locator("dt[id='minitransformer.model.Encoder'] + dd > p.shown-in a")
    back = links.filter(has_text="The whole model")
    assert back.count() == 1, links.all_inner_texts()  # every page that shows it is listed
    back = back.first
    back.click()
    page.wait_for_load_state("load")
    assert WHOLE_MODEL in page.url and "#source-minitransformer-model-encoder" in page.url
    anchor = page.locator("[id='source-minitransformer-model-encoder']")
    assert anchor.count() == 1
    assert not _unexpected(probe.errors), probe.errors
