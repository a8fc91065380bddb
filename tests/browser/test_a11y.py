"""axe-core on every page, in the light and the dark theme, at desktop and phone width.

The bar: no violation of impact "serious" or "critical". Moderate and minor ones do not fail;
the run lists them at the end (conftest's terminal summary) and in
_build/screenshots/axe-moderate.<worker>.txt.
"""

from __future__ import annotations

import pytest

from browser._audit import BLOCKING_IMPACTS

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
    assert set(report["axe"]) == set(audit(content_page, "phone")["axe"]) == {"light", "dark"}
    assert report["axe_rules"] > 20, report["axe_rules"]  # 46-49 rules apply to a text page
