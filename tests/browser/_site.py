"""Where the built book is and which pages it has (shared by conftest and the tests)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BOOK_OUTPUT") or ROOT) / "_build"  # as in tools/build_book.py
SITE = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The two screens every page is audited on, and the two colour themes.
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")


def offline_context(browser, viewport: dict):
    """A browser context that aborts every request to another host than 127.0.0.1 and lists
    it in ``context.blocked_requests``."""
    from urllib.parse import urlsplit

    context = browser.new_context(viewport=viewport)
    blocked: list[str] = []

    def route(route_, request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route_.continue_()
        else:
            blocked.append(request.url)
            route_.abort()

    context.route("**/*", route)
    context.blocked_requests = blocked
    return context


def source_of(page: str) -> Path | None:
    """The notebook or Markdown file a page was built from (None for index, search...)."""
    for suffix in (".ipynb", ".md"):
        path = (ROOT / page).with_suffix(suffix)
        if path.exists():
            return path
    return None


def built_pages() -> list[str]:
    """Every HTML page of the built site, as paths relative to _build/html."""
    if not (SITE / "index.html").exists():
        return []
    pages = []
    for path in sorted(SITE.rglob("*.html")):
        relative = path.relative_to(SITE)
        if relative.parts[0] not in SKIP_DIRS:
            pages.append(relative.as_posix())
    return pages


def content_pages() -> list[str]:
    """Pages a reader reads: every built page except redirects (index.html)."""
    return [
        page
        for page in built_pages()
        if 'http-equiv="refresh"' not in (SITE / page).read_text(encoding="utf-8")[:2000].lower()
    ]


def widths_of(page: str) -> tuple[str, ...]:
    """The widths a page is audited at. Every page at every width, except the highlighted
    module listings of sphinx.ext.viewcode (``_modules/...``): one template around code, which
    the desktop audit checks on each of them; at phone width the index of listings and the
    longest listing stand for the rest."""
    if not page.startswith("_modules/") or page in phone_listings():
        return tuple(WIDTHS)
    return ("desktop",)


@functools.cache
def phone_listings() -> frozenset[str]:
    listings = [page for page in built_pages() if page.startswith("_modules/minitransformer/")]
    longest = max(listings, key=lambda page: (SITE / page).stat().st_size, default=None)
    return frozenset({"_modules/index.html", *([longest] if longest else [])})


def notebook_pages() -> set[str]:
    """Pages built from a notebook: these carry the Binder / Colab / Live Code launch menu."""
    return {page for page in built_pages() if (ROOT / page).with_suffix(".ipynb").exists()}


def book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
