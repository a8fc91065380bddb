"""Every page reads well on a phone and a desktop: what tests/browser/_audit.py measured.

- no page scrolls sideways at 390 px;
- no two text labels of a plotly figure overlap, at 1280 and at 390 px;
- no `<pad>`-like token of the Markdown is swallowed by the browser as an HTML tag;
- every state of every plotly slider draws data;
- every image and plotly figure says what it shows (alt text, caption or title);
- a screenshot of every page at both widths in both themes in _build/screenshots/.
"""

from __future__ import annotations

import pytest

from browser._audit import markdown_tokens, swallowed_tokens
from browser._site import SCREENSHOTS, THEMES, content_pages, widths_of

pytestmark = pytest.mark.browser


def test_no_page_scrolls_sideways_on_a_phone(audit, phone_page):
    overflow = audit(phone_page, "phone")["overflow"]
    assert overflow["scrollWidth"] <= overflow["width"], (
        f"{phone_page} is {overflow['scrollWidth']} px wide at {overflow['width']} px; "
        f"sticking out: {overflow['offenders']}"
    )


def test_plotly_labels_do_not_overlap(audit, content_page, width):
    overlaps = audit(content_page, width)["overlaps"]
    pairs = [f"fig {o['figure']}: {o['a']!r} over {o['b']!r} ({o['where']})" for o in overlaps]
    assert not overlaps, (
        f"{content_page} ({width}): {len(overlaps)} overlapping text pairs: {'; '.join(pairs[:8])}"
    )


def test_angle_bracket_tokens_survive_in_the_prose(audit, content_page):
    swallowed = swallowed_tokens(content_page, audit(content_page, "desktop")["prose"])
    assert not swallowed, (
        f"{content_page}: the browser swallowed raw tokens (Markdown count, page count): "
        f"{swallowed}; write them in a code span (`<pad>`) or escape them (\\<pad>)"
    )


def test_every_slider_state_draws_data(audit, content_page):
    dead = audit(content_page, "desktop")["dead_states"]
    assert not dead, f"{content_page}: {len(dead)} slider states draw nothing: {dead[:6]}"


def test_every_figure_says_what_it_shows(audit, content_page):
    undescribed = audit(content_page, "desktop")["undescribed"]
    assert not undescribed, (
        f"{content_page}: figures without alt text, caption or title: {undescribed}"
    )


def test_every_page_has_screenshots(audit, content_page):
    name = content_page.replace("/", "__").removesuffix(".html")
    for width in widths_of(content_page):
        audit(content_page, width)
        for theme in THEMES:
            shot = SCREENSHOTS / f"{name}.{width}.{theme}.jpg"
            assert shot.stat().st_size > 5_000, f"{shot} is missing or blank"


def test_the_token_check_sees_tokens():
    """The swallowed-token check reads the sources: the book's Markdown does use <pad>-like
    tokens, so a check that found none would be a check of nothing."""
    pages = content_pages()
    from browser._site import source_of

    total = sum(sum(markdown_tokens(source_of(p)).values()) for p in pages if source_of(p))
    assert total > 0
