"""Live Code against a real kernel: Thebe from the site, a local Jupyter server on 127.0.0.1.

The published pages point Thebe at Binder. Here a chapter page is served as built except for
its ``text/x-thebe-config`` script, which the test's own server on 127.0.0.1 rewrites to a
Jupyter server that the test starts on 127.0.0.1 with a token (the build is not changed). Live
Code must then load Thebe from ``_static`` with no other host, connect, run the setup cell, and
run a cell whose printed output, as the kernel returns it, starts with the same line the static
page shows and is drawn, as the kernel's stdout, in that cell's output area in the page. A cell
the reader edits prints under itself; the chapter's live explorer (ipywidgets, through Thebe's
widget manager) draws its controls and its picture, and the picture changes when a slider is
moved with the keyboard.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from browser._lab import free_port, wait_until_up
from browser._site import ROOT, SITE, WIDTHS, offline_context

pytestmark = pytest.mark.browser

CHAPTER = "notebooks/05-positional-encoding.html"
_CONFIG = re.compile(r'<script type="text/x-thebe-config">.*?</script>', re.S)


@pytest.fixture(scope="module")
def jupyter_server():
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    process = subprocess.Popen(
        [str(jupyter), "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--ServerApp.allow_origin=*",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={ROOT}", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, base, token, "jupyter server")
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


def _local_config(base: str, token: str) -> str:
    config = {
        "useBinder": False,
        "requestKernel": True,
        "serverSettings": {
            "baseUrl": base,
            "wsUrl": base.replace("http", "ws"),
            "token": token,
            "appendToken": True,
        },
        "kernelOptions": {"name": "python3", "path": "notebooks"},
        "predefinedOutput": True,
    }
    return f'<script type="text/x-thebe-config">{json.dumps(config)}</script>'


@pytest.fixture(scope="module")
def live_site(jupyter_server):
    """The built site on 127.0.0.1, with the chapter's Thebe config pointing at the server."""
    config = _local_config(*jupyter_server)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/" + CHAPTER:
                return super().do_GET()
            html, count = _CONFIG.subn(config, (SITE / CHAPTER).read_text(encoding="utf-8"))
            body = (html if count == 1 else "no thebe config").encode()
            self.send_response(200 if count == 1 else 500)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(SITE))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


_RUN = (
    "i => document.querySelectorAll('div.cell')[i].querySelector('button.thebe-run-button').click()"
)
_IDLE = (
    "i => getComputedStyle(document.querySelectorAll('div.cell')[i]"
    ".querySelector('.thebe-busy')).display === 'none'"
)
# What the kernel printed into a cell, as the page draws it (Thebe's rendered stdout).
_DRAWN_STDOUT = (
    "i => Array.from(document.querySelectorAll('div.cell')[i].querySelectorAll("
    "'.thebe-output [data-mime-type=\"application/vnd.jupyter.stdout\"]'))"
    ".filter(e => e.offsetHeight > 0).map(e => e.innerText).join('')"
)
# The explorer's picture: every output and HTML view inside the cell's widget box.
_EXPLORER_VIEW = (
    "i => Array.from(document.querySelectorAll('div.cell')[i].querySelectorAll("
    "'.thebe-output .widget-output, .thebe-output .widget-html-content'))"
    ".map(e => e.innerHTML).join('|')"
)


def test_live_code_runs_cells_on_a_local_kernel(browser, live_site):
    assert (SITE / "_static" / "thebe" / "index.js").exists(), "Thebe is not served by the site"
    context = offline_context(browser, WIDTHS["desktop"])
    blocked, errors = context.blocked_requests, []
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(live_site + CHAPTER, wait_until="networkidle")
        page.wait_for_function(  # the whole page parsed, up to the explorer's cell
            "() => document.readyState === 'complete' && Array.from(document.querySelectorAll("
            "'div.cell div.cell_input pre')).some(p => p.innerText.includes('.live_'))",
            timeout=60_000,
        )  # fmt: skip
        sources = [s.strip() for s in page.locator("div.cell div.cell_input pre").all_inner_texts()]
        printed = [s.strip() for s in page.locator("div.cell").evaluate_all(
            "cells => cells.map(c => (c.querySelector('.cell_output .output.stream') || "
            "{innerText: ''}).innerText)")]  # fmt: skip
        setup = next(i for i, s in enumerate(sources) if "viz.setup(" in s)
        prints = next(i for i, s in enumerate(sources) if "print(" in s and printed[i])
        explorer = next((i for i, s in enumerate(sources) if ".live_" in s), None)
        assert explorer is not None, f"no explorer cell among {[s[:40] for s in sources]}"
        page.wait_for_function("() => window.initThebeSBT && window.initThebe")
        page.evaluate("initThebeSBT()")  # what the launch menu's Live Code button calls
        page.wait_for_function("() => window.thebe && window.thebe.session", timeout=120_000)
        assert "ready" in page.locator(".thebe-launch-button").inner_text()

        def run(index: int) -> None:
            page.evaluate(_RUN, index)
            page.wait_for_timeout(200)
            page.wait_for_function(_IDLE, arg=index, timeout=120_000)

        for index in range(max(setup, prints) + 1):
            run(index)
        outputs = page.evaluate("window.thebe.notebook.cells.map(c => c.outputs)")
        raised = [o for cell in outputs[: prints + 1] for o in cell if o["output_type"] == "error"]
        assert not raised, f"cells raised on the live kernel: {raised[:2]}"
        streams = [o["text"] for o in outputs[prints] if o.get("name") == "stdout"]
        assert streams, f"cell {prints} printed nothing on the live kernel: {outputs[prints]}"
        first_line = printed[prints].splitlines()[0].strip()
        assert streams[0].splitlines()[0].strip() == first_line
        drawn = page.evaluate(_DRAWN_STDOUT, prints)
        assert drawn.strip(), f"cell {prints}'s printed output is not drawn in the page"
        assert drawn.splitlines()[0].strip() == first_line, f"cell {prints} shows {drawn!r}"
        for index in range(prints):  # no cell shows another cell's output
            assert first_line not in page.evaluate(_DRAWN_STDOUT, index)

        # The reader edits the setup cell and runs it: the new text is drawn under it.
        page.evaluate(
            "i => document.querySelectorAll('div.cell')[i].querySelector('.CodeMirror')"
            ".CodeMirror.setValue('print(\"edited and run:\", 6 * 7)')", setup,
        )  # fmt: skip
        run(setup)
        assert page.evaluate(_DRAWN_STDOUT, setup).strip() == "edited and run: 42"

        for index in range(max(setup, prints) + 1, explorer + 1):
            run(index)
        raised = [o for o in page.evaluate(f"window.thebe.notebook.cells[{explorer}].outputs")
                  if o["output_type"] == "error"]  # fmt: skip
        assert not raised, f"the explorer cell raised: {raised[:1]}"
        cell = page.locator("div.cell").nth(explorer)
        handle = cell.locator(".thebe-output .widget-slider .noUi-handle").first
        handle.wait_for(state="visible", timeout=60_000)
        assert cell.locator(".live-only-note").count() == 0, "the static note is shown live"
        page.wait_for_function(f"() => ({_EXPLORER_VIEW})({explorer}).length > 100")
        before = page.evaluate(_EXPLORER_VIEW, explorer)
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f"before => ({_EXPLORER_VIEW})({explorer}) !== before && "
            f"({_EXPLORER_VIEW})({explorer}).length > 100", arg=before, timeout=30_000,
        )  # fmt: skip
    finally:
        context.close()
    assert not blocked, f"Live Code asked for other hosts: {blocked[:5]}"
    assert not errors, f"console errors during Live Code: {errors[:5]}"
