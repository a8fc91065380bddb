"""What a reader sees: every page of the built book, in headless Chromium, with no network."""

from __future__ import annotations

import re

import pytest

from browser._audit import ready
from browser._site import book_config, built_pages, content_pages, notebook_pages

pytestmark = pytest.mark.browser
NOTEBOOK_PAGES = notebook_pages()

# Console errors that are not ours, each with the reason it is allowed (none at present).
ALLOWED_CONSOLE_ERRORS = {}

PLOTLY_STATE = """(el) => JSON.stringify([
    el.data.map(t => [t.z, t.y, t.visible]),
    el.querySelector('.cartesianlayer') ? el.querySelector('.cartesianlayer').innerHTML.length : 0,
    Array.from(el.querySelectorAll('g.trace image, .heatmaplayer image, g.trace path'))
        .map(n => (n.getAttribute('href') || n.getAttribute('d') || '').length + ':' +
                  (n.getAttribute('href') || n.getAttribute('d') || '').slice(-80)),
])"""


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


def _check_plotly(page, page_path: str) -> int:
    """Every plotly figure has data and a drawn plot; every slider changes what is drawn."""
    figures = page.locator(".plotly-graph-div")
    moved = 0
    for index in range(figures.count()):
        figure = figures.nth(index)
        figure.scroll_into_view_if_needed()
        info = figure.evaluate(
            """(el) => ({
                traces: (el.data || []).length,
                drawn: el.querySelectorAll('.main-svg').length > 0 && !!el._fullLayout,
                marks: el.querySelectorAll('g.trace, .heatmaplayer image, .hm image').length,
                sliders: (el.layout && el.layout.sliders || []).filter(s => s.visible !== false)
                    .map(s => [s.steps.length, s.active || 0]),
            })"""
        )
        where = f"{page_path} plotly figure {index}"
        assert info["traces"] > 0, f"{where} has no data"
        if not figure.is_visible():  # inside a collapsed output: nothing to look at yet
            continue
        assert info["drawn"] and info["marks"] > 0, f"{where} was not drawn"
        rails = figure.locator(".slider-rail-touch-rect")
        assert rails.count() == len(info["sliders"]), f"{where}: slider not drawn"
        for slider, (steps, active) in enumerate(info["sliders"]):
            before = figure.evaluate(PLOTLY_STATE)
            rails.nth(slider).scroll_into_view_if_needed()
            box = rails.nth(slider).bounding_box()
            assert box is not None, f"{where}: slider {slider} has no box"
            target = 0.97 if active < steps / 2 else 0.03  # the far end from the active step
            page.mouse.click(box["x"] + target * box["width"], box["y"] + box["height"] / 2)
            page.wait_for_timeout(150)
            after = figure.evaluate(PLOTLY_STATE)
            assert after != before, f"{where}: moving slider {slider} changed nothing"
            moved += 1
    return moved


def test_every_page(probe, site_url, page_path):
    """Loads offline; no console errors; launch menu; plotly drawn, sliders alive.

    (Screenshots of every page at both widths in both themes: test_layout.py.)"""
    page = _open(probe, site_url, page_path)
    assert page.locator("body").inner_text().strip(), f"{page_path} is empty"
    if page_path in NOTEBOOK_PAGES:
        _check_launch_menu(page, page_path)
    _check_plotly(page, page_path)
    # No ipywidgets control is rendered in the static page (it would look alive and be dead).
    widgets = page.locator(".jupyter-widgets, .widget-slider, .widget-text, .widget-dropdown")
    assert widgets.count() == 0, f"{page_path} renders an ipywidgets control without a kernel"
    state = page.locator('script[type="application/vnd.jupyter.widget-state+json"]')
    assert state.count() == 0, f"{page_path} embeds dead ipywidgets state"
    for note in page.locator(".live-only-note").all():
        assert note.is_visible() and "needs a running Python kernel" in note.inner_text()
    assert not probe.blocked, f"{page_path} needs the network: {probe.blocked}"
    assert not _unexpected(probe.errors), f"{page_path} console errors: {probe.errors}"


def test_sliders_page_proves_the_machinery(probe, site_url):
    """The frame's demo page has working sliders and marked live-only explorers."""
    page = _open(probe, site_url, "book/sliders.html")
    assert _check_plotly(page, "book/sliders.html") >= 3
    notes = page.locator(".live-only-note")
    assert notes.count() == 2
    assert "Binder" in notes.first.inner_text()
    images = page.locator(".cell_output img")
    assert images.count() >= 1  # the matplotlib figure with Hangul labels
    assert page.locator("mjx-container").count() >= 1  # MathJax rendered, from _static
    assert page.locator("details.solution, .solution").count() >= 1  # hidden solutions


def _check_launch_menu(page, page_path: str) -> None:
    """Binder, Colab and Live Code (Thebe) for the repository and branch in _config.yml."""
    config = book_config()
    repo = config["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    hrefs = page.eval_on_selector_all(
        ".dropdown-launch-buttons a, .launch-buttons a, a.btn", "els => els.map(e => e.href)"
    )
    source = page_path.removesuffix(".html") + ".ipynb"
    binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath="
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{source}"
    assert any(h.startswith(binder) and source in h for h in hrefs), (page_path, hrefs)
    assert colab in hrefs, (page_path, hrefs)
    thebe = page.locator(".dropdown-launch-buttons button[onclick*='initThebe']")
    assert thebe.count() == 1, f"{page_path}: no Live Code (Thebe) button"


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
