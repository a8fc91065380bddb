"""Serve the built book on 127.0.0.1 and drive Debian's Chromium with Playwright.

Run after `make book`:  pytest -m browser
Environment: CHROMIUM (default /usr/bin/chromium or the first `chromium` on PATH).
Every request to another host is aborted and recorded; a page that needs one fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser._site import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    SITE,
    THEMES,
    WIDTHS,
    built_pages,
    content_pages,
    offline_context,
    widths_of,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page_path" in metafunc.fixturenames:
        pages = built_pages() or ["(site not built: run `make book`)"]
        metafunc.parametrize("page_path", pages, ids=pages)
    names = metafunc.fixturenames
    if "content_page" in names:
        pages = content_pages() or ["(site not built: run `make book`)"]
        if "width" in names:  # each page at the widths it is audited at (_site.widths_of)
            pairs = [(page, width) for page in pages for width in widths_of(page)]
            ids = [f"{page}-{width}" for page, width in pairs]
            metafunc.parametrize("content_page,width", pairs, ids=ids)
        else:
            metafunc.parametrize("content_page", pages, ids=pages)
    elif "width" in names:
        metafunc.parametrize("width", list(WIDTHS))
    if "phone_page" in names:
        pages = [page for page in content_pages() if "phone" in widths_of(page)]
        pages = pages or ["(site not built: run `make book`)"]
        metafunc.parametrize("phone_page", pages, ids=pages)
    if "theme" in metafunc.fixturenames:
        metafunc.parametrize("theme", THEMES)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html is missing: build the book first (`make book`)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    )
    if not path:
        pytest.fail("Debian's chromium is not installed: run `make system-deps`")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageProbe:
    """A fresh page that records console errors and every request to another host."""

    def __init__(self, context) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture(scope="session")
def context(browser, site_url):
    context = offline_context(browser, WIDTHS["desktop"])
    yield context
    context.close()


@pytest.fixture
def probe(context) -> Iterator[PageProbe]:
    context.blocked_requests.clear()
    probe = PageProbe(context)
    probe.blocked = context.blocked_requests
    yield probe
    probe.page.close()


# --- one audit per page and width: axe in both themes, layout, screenshots --------------------

from browser import _audit, _pagechecks  # noqa: E402  (imported after the fixtures)

AUDITS: dict[tuple[str, str], dict] = {}  # (page, width) -> what audit_page found
MODERATE = "axe-moderate"  # each process's findings: _build/screenshots/axe-moderate.<worker>.txt


def _worker(config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the only process, or xdist's controller
        for old in SCREENSHOTS.glob(f"{MODERATE}.*.txt"):
            old.unlink()


def pytest_sessionfinish(session) -> None:
    """axe's moderate and minor findings of this process, one line each, beside the shots."""
    lines = []
    for (page, width), report in sorted(AUDITS.items()):
        for theme, violations in report.get("axe", {}).items():
            for v in violations:
                if v["impact"] not in _audit.BLOCKING_IMPACTS:
                    lines.append(f"{page} {width} {theme}: {v['id']} ({v['impact']}, "
                                 f"{v['count']}x) {v['targets'][:2]}")  # fmt: skip
    if AUDITS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{MODERATE}.{_worker(session.config)}.txt"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def pytest_terminal_summary(terminalreporter) -> None:
    """axe's moderate and minor findings of every worker: listed, not failures."""
    files = sorted(SCREENSHOTS.glob(f"{MODERATE}.*.txt"))
    if not files:
        return
    lines = sorted(line for f in files for line in f.read_text(encoding="utf-8").splitlines())
    terminalreporter.section("axe-core: moderate and minor findings (not failures)")
    terminalreporter.write_line("\n".join(lines) if lines else "none")


@pytest.fixture(scope="session")
def audit(browser, site_url):
    """``audit(page_path, width)``: the page loaded once at that width, everything measured.

    One load per page and width; the theme is switched in place (light, then dark), axe-core
    runs in each, and a screenshot of each is written to _build/screenshots/. The results are
    kept, so the a11y and layout tests that read them cost nothing more.
    """
    contexts = {name: offline_context(browser, viewport) for name, viewport in WIDTHS.items()}
    results = AUDITS

    def run(page_path: str, width: str) -> dict:
        key = (page_path, width)
        if key not in results:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            checks = _pagechecks.check_page if width == "desktop" else None
            results[key] = _audit.audit_page(contexts[width], site_url, page_path, width, checks)
        return results[key]

    yield run
    for context in contexts.values():
        context.close()
