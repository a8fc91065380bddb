"""axe-core on every page, in the light and the dark theme, at desktop and phone width.

The bar: no violation of impact "serious" or "critical". Moderate and minor ones do not fail;
the run lists them at the end (conftest's terminal summary) and in
_build/screenshots/axe-moderate.<worker>.txt.

How the audit divides the work (tests/browser/_audit.py):
- in the light theme every axe rule runs, the experimental ones too;
- in the dark theme only the rules that read colours run again (colour contrast, links told
  apart from text): the theme changes colours and nothing else, which
  test_themes_change_only_colours checks on every page;
- the tokens of code (highlighted code blocks, the API reference's signatures) get their
  contrast from the audit's own check (CODE_CONTRAST) in both themes, which takes
  milliseconds where axe takes seconds; axe's color-contrast judges everything else. The two
  agree on real code and on a token made too faint (test_code_contrast_agrees_with_axe).
"""

from __future__ import annotations

import pytest

from browser._audit import AXE_JS, BLOCKING_IMPACTS, CODE_BLOCKS, code_contrast, ready
from browser._site import widths_of

pytestmark = pytest.mark.browser


def test_axe_finds_no_serious_violation(audit, content_page, width, theme):
    report = audit(content_page, width)
    blocking = [v for v in report["axe"][theme] if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{content_page} ({width}, {theme}): " + "; ".join(
        f"{v['id']} ({v['impact']}, {v['count']}x: {v['help']}) at {v['targets']}" for v in blocking
    )


def test_axe_ran_rules_on_the_page(audit, content_page):
    """The audit really ran: axe returned a result for both themes (an empty page would not
    be audited at all)."""
    report = audit(content_page, "desktop")
    for width in widths_of(content_page):
        assert set(audit(content_page, width)["axe"]) == {"light", "dark"}, width
    assert report["axe_rules"] > 20, report["axe_rules"]  # 46-49 rules apply to a text page


def test_themes_change_only_colours(audit, content_page, width):
    """The same elements are visible in both themes (the dark run of axe relies on it)."""
    visible = audit(content_page, width)["visible"]
    assert visible["light"] == visible["dark"] > 0, f"{content_page} ({width}): {visible}"


AXE_ON_CODE = """(code) => axe.run({include: code.map((c) => [c])},
    {runOnly: ['color-contrast'], resultTypes: ['violations']})
    .then(r => r.violations.flatMap(v => v.nodes.map(n => n.target.join(' '))))"""


@pytest.mark.parametrize(
    "code_page, token",
    [
        ("_modules/minitransformer/masks.html", ".highlight pre span.n"),
        ("book/api/masks.html", "dt.sig .sig-name"),
    ],
)
def test_code_contrast_agrees_with_axe(probe, site_url, code_page, token):
    """On highlighted source code and on the API reference's signatures, in both themes, the
    audit's code-contrast check and axe's color-contrast rule find the same: nothing on the page
    as built, and the one token made faint."""
    page = probe.page
    page.goto(site_url + code_page, wait_until="load")
    ready(page)
    page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    code = list(CODE_BLOCKS)
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        page.wait_for_function("mode => document.documentElement.dataset.theme === mode", arg=theme)
        page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running')"
        )
        assert code_contrast(page) == [] and page.evaluate(AXE_ON_CODE, code) == [], theme
        faint = "#a8a8a8" if theme == "light" else "#5a5a5a"  # about 2.3:1 on either ground
        page.evaluate(
            """([selector, faint]) => { const t = document.querySelector(selector);
                                        t.id = 'faint-token'; t.style.color = faint; }""",
            [token, faint],
        )
        ours = code_contrast(page)
        assert len(ours) == 1 and ours[0]["count"] >= 1, (theme, ours)
        flagged = page.evaluate(AXE_ON_CODE, code)  # the token, or the span inside it
        assert any(t.startswith("#faint-token") for t in flagged), (theme, flagged)
        page.evaluate("() => { const t = document.getElementById('faint-token'); "
                      "t.style.color = ''; t.removeAttribute('id'); }")  # fmt: skip
