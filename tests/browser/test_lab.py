"""The chapters' live explorers in a real JupyterLab: they run, answer every control, raise nothing.

JupyterLab (requirements-lab.txt) is started on 127.0.0.1 with a token over a copy of three
chapters that execute fast and hold between them every kind of control the explorers use
(``tests/browser/_lab.py``): chapter 4 (sliders and dropdowns: the softmax and attention-row
explorers), chapter 8 (sliders and checkboxes: the parameter counter) and chapter 10 (a text
box: the translator). Each chapter runs with Run All Cells; then every control of every
explorer is moved once, the text box gets a sentence with a word the model does not know and
then an empty sentence, and each time the explorer's output must change in the page with no
traceback anywhere in the notebook. Speed is measured by ``benchmarks/bench_lab.py``, not here.
"""

from __future__ import annotations

import pytest

from browser._lab import (
    controls,
    explorers,
    jupyter_lab,
    move,
    output_html,
    run_notebook,
    tracebacks,
)
from browser._site import WIDTHS, offline_context

pytestmark = pytest.mark.browser

CHAPTERS = {
    "notebooks/04-queries-keys-values.ipynb": {"slider", "dropdown"},
    "notebooks/08-transformer-block.ipynb": {"slider", "checkbox"},
    "notebooks/10-inference.ipynb": {"text"},
}
UNKNOWN = "우주선"  # not in the translator's Korean vocabulary
SENTENCES = [f"어제 {UNKNOWN} 갔었어", ""]


@pytest.fixture(scope="module")
def lab_url():
    with jupyter_lab(list(CHAPTERS)) as url:
        yield url


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_explorer_answers_every_control_in_jupyterlab(browser, lab_url, chapter):
    context = offline_context(browser, WIDTHS["desktop"])
    blocked = context.blocked_requests
    page = context.new_page()
    try:
        run_notebook(page, lab_url.format(path=chapter))
        found = explorers(page)
        assert found.count() >= 1, f"{chapter}: no live explorer in JupyterLab"
        kinds = set()
        for e in range(found.count()):
            explorer = found.nth(e)
            for control in controls(explorer):
                kinds.add(control.kind)
                # two moves: there and back (a slider left on D = 544 with H = 9 stays on its
                # "not divisible" message, so the next control could not change the output)
                sentences = SENTENCES if control.kind == "text" else ["", ""]
                for sentence in sentences:
                    before = output_html(explorer)
                    changed = move(page, explorer, control, sentence)
                    where = f"{chapter} explorer {e + 1}, {control.kind} {control.label!r}"
                    assert changed is not None, f"{where}: the output did not change"
                    assert output_html(explorer) != before, f"{where}: the output is the same"
                    assert not tracebacks(page), f"{where}: {tracebacks(page)[0][:800]}"
                    if control.kind == "text" and sentence:
                        assert UNKNOWN in explorer.inner_text(), f"{where}: unknown word not named"
                    if control.kind == "text" and not sentence:
                        assert "Type" in explorer.inner_text(), f"{where}: no hint on empty input"
        assert CHAPTERS[chapter] <= kinds, f"{chapter}: controls {kinds}"
    finally:
        context.close()
    assert not blocked, f"JupyterLab asked for other hosts: {blocked[:5]}"
