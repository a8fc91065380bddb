"""What a reader sees: every page of the built book, in headless Chromium, with no network."""

from __future__ import annotations

import re

import pytest

from browser._audit import ready
from browser._pagechecks import PLOTLY_STATE, check_page, check_plotly
from browser._site import built_pages, content_pages, notebook_pages

pytestmark = pytest.mark.browser

# Console errors that are not ours, each with the reason it is allowed (none at present).
ALLOWED_CONSOLE_ERRORS = {}


def _unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(re.search(p, e) for p in ALLOWED_CONSOLE_ERRORS)]


def _open(probe, site_url: str, page_path: str):
    page = probe.page
    response = page.goto(site_url + page_path, wait_until="load")
    assert response is not None and response.ok, f"{page_path}: HTTP {response and response.status}"
    if page_path not in content_pages():  # a redirect: wait until it has landed
        page.wait_for_load_state("networkidle")
    ready(page)
    return page


def test_every_page(probe, audit, site_url, page_path):
    """Loads offline; no console errors; launch menu; plotly drawn, sliders alive
    (_pagechecks.check_page). A content page is checked on the audit's desktop load (which
    also takes its screenshots: test_layout.py); a redirect page is loaded here.
    """
    if page_path in content_pages():
        report = audit(page_path, "desktop")
        assert report["checks"] is None, report["checks"]
        blocked, errors = report["blocked"], report["errors"]
    else:
        page = _open(probe, site_url, page_path)
        check_page(page, page_path)
        blocked, errors = probe.blocked, probe.errors
    assert not blocked, f"{page_path} needs the network: {blocked}"
    assert not _unexpected(errors), f"{page_path} console errors: {errors}"


def test_sliders_page_proves_the_machinery(probe, site_url):
    """The frame's demo page has working sliders and marked live-only explorers."""
    page = _open(probe, site_url, "book/sliders.html")
    assert check_plotly(page, "book/sliders.html") >= 3
    notes = page.locator(".live-only-note")
    assert notes.count() == 2
    assert "Binder" in notes.first.inner_text()
    images = page.locator(".cell_output img")
    assert images.count() >= 1  # the matplotlib figure with Hangul labels
    assert page.locator("mjx-container").count() >= 1  # MathJax rendered, from _static
    assert page.locator("details.solution, .solution").count() >= 1  # hidden solutions


def test_launch_menus_are_checked_somewhere():
    """The launch menu exists on notebook pages only; test_every_page checks each of them."""
    assert notebook_pages(), "no page is built from a notebook, so no launch menu is checked"


def test_search_finds_attention(probe, site_url):
    page = _open(probe, site_url, "search.html?q=attention")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=10_000)
    assert results.count() >= 1
    assert not probe.blocked


def test_pages_are_discovered_from_the_site():
    pages = built_pages()
    assert "book/intro.html" in pages and "book/sliders.html" in pages


def test_plotly_sliders_work_from_the_keyboard(probe, site_url):
    """Clicking a plotly slider focuses its keyboard twin (book/_static/plotly-narrow.js); the
    arrow keys then move the slider and change what the figure draws."""
    page = _open(probe, site_url, "book/sliders.html")
    figure = page.locator(".plotly-graph-div").first
    figure.scroll_into_view_if_needed()
    rail = figure.locator(".slider-rail-touch-rect").first
    box = rail.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)  # the first step
    page.wait_for_timeout(300)
    focused = page.evaluate("() => document.activeElement.type + ':' + document.activeElement"
                            ".getAttribute('aria-label')")  # fmt: skip
    assert focused.startswith("range:"), focused
    before = figure.evaluate(PLOTLY_STATE)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "el => (el.layout.sliders[0].active || 0) === 1", arg=figure.element_handle()
    )
    assert figure.evaluate(PLOTLY_STATE) != before, "ArrowRight changed nothing"
    page.keyboard.press("End")
    steps = figure.evaluate("el => el.layout.sliders[0].steps.length")
    page.wait_for_function(
        "([el, last]) => el.layout.sliders[0].active === last",
        arg=[figure.element_handle(), steps - 1],
    )
