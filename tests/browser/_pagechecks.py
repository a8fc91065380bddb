"""What test_site checks on a loaded page: launch menu, plotly figures and sliders, no dead
ipywidgets. The audit (conftest.audit) runs :func:`check_page` on its own desktop load of every
content page, so the page is not loaded once more for it."""

from __future__ import annotations

from browser._site import book_config, notebook_pages

NOTEBOOK_PAGES = notebook_pages()

PLOTLY_STATE = """(el) => JSON.stringify([
    el.data.map(t => [t.z, t.y, t.visible]),
    el.querySelector('.cartesianlayer') ? el.querySelector('.cartesianlayer').innerHTML.length : 0,
    Array.from(el.querySelectorAll('g.trace image, .heatmaplayer image, g.trace path'))
        .map(n => (n.getAttribute('href') || n.getAttribute('d') || '').length + ':' +
                  (n.getAttribute('href') || n.getAttribute('d') || '').slice(-80)),
])"""


def check_plotly(page, page_path: str) -> int:
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


def check_launch_menu(page, page_path: str) -> None:
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


def check_page(page, page_path: str) -> None:
    """Not empty; the launch menu on notebook pages; plotly drawn, every slider alive; no
    ipywidgets control or state in the static page; live-only notes shown. Raises
    AssertionError. Moves sliders: run it last on a page."""
    assert page.locator("body").inner_text().strip(), f"{page_path} is empty"
    if page_path in NOTEBOOK_PAGES:
        check_launch_menu(page, page_path)
    check_plotly(page, page_path)
    # No ipywidgets control is rendered in the static page (it would look alive and be dead).
    widgets = page.locator(".jupyter-widgets, .widget-slider, .widget-text, .widget-dropdown")
    assert widgets.count() == 0, f"{page_path} renders an ipywidgets control without a kernel"
    state = page.locator('script[type="application/vnd.jupyter.widget-state+json"]')
    assert state.count() == 0, f"{page_path} embeds dead ipywidgets state"
    for note in page.locator(".live-only-note").all():
        assert note.is_visible() and "needs a running Python kernel" in note.inner_text()
