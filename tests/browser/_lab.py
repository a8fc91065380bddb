"""JupyterLab driven by Playwright: start it, run a notebook, move an explorer's controls.

Shared by ``tests/browser/test_lab.py`` (does every explorer answer?) and
``benchmarks/bench_lab.py`` (how fast?). The notebooks are copied into a temporary folder
first, so Lab's autosave never writes outputs into the repository, and Lab's settings and
workspaces live there too (notebook windowing off, so every cell is in the DOM; no update or
news checks, which would reach the network).

An explorer is a ``.live-explorer`` box (``viz.live_only``); what it draws is in its
``.live-output`` views. A *move* changes one control the way a reader does (a key on a
slider's handle, another option of a dropdown, a click on a checkbox, a sentence and Enter in a
text box) and measures, in the page, the time from that input event to the last change of the
explorer's output in the DOM (a MutationObserver; the output counts as settled once it has not
changed for ``QUIET_MS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUIET_MS = 400
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show
TRACEBACK = "Traceback (most recent call last)"

_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

_ARM = """root => {
  const state = {t0: null, last: null, changes: 0};
  const inOutput = node => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return Boolean(el && el.closest('.live-output'));
  };
  state.observer = new MutationObserver(records => {
    if (records.some(r => inOutput(r.target))) {
      state.last = performance.now();
      state.changes += 1;
    }
  });
  state.observer.observe(root, {subtree: true, childList: true, characterData: true,
                                attributes: true});
  for (const type of ['keydown', 'pointerdown', 'input', 'change']) {
    root.addEventListener(type, e => { if (state.t0 === null) state.t0 = e.timeStamp; },
                          {capture: true, once: true});
  }
  window.__liveMove = state;
}"""
_KERNEL_IDLE = """() => {
  const s = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const idle = s && s.getAttribute('data-status') === 'idle';
  return Boolean(idle && !document.querySelector('.jp-Dialog'));
}"""
# Lab's own command (the app is exposed with --LabApp.expose_app_in_browser): it resolves when
# every cell has run, true if none raised.
_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  return await app.commands.execute('notebook:run-all-cells');
}"""
_MOVABLE = """box => {
  const handle = box.querySelector('.noUi-handle');
  if (handle) return handle.getAttribute('aria-valuemin') !== handle.getAttribute('aria-valuemax');
  const select = box.querySelector('select');
  if (select) return select.options.length > 1;
  return true;
}"""
_READ = """() => { const s = window.__liveMove;
  return {t0: s.t0, last: s.last, changes: s.changes, now: performance.now()}; }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(process: subprocess.Popen, base: str, token: str, what: str) -> None:
    """Wait (up to 2 minutes) until the Jupyter server ``process`` answers at ``base``; if it
    dies or never answers, kill it and raise with the end of its log."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                return
        except OSError as error:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                log = process.stderr.read()[-2000:]
                raise RuntimeError(f"{what} did not start: {log}") from error
            time.sleep(0.5)


@contextlib.contextmanager
def jupyter_lab(notebooks: Sequence[str]) -> Iterator[str]:
    """JupyterLab on 127.0.0.1 (with a token) over a copy of ``notebooks`` (paths relative to
    the repository); yields the URL prefix of a notebook, ``{base}/lab/tree/{path}?token=``."""
    with tempfile.TemporaryDirectory(prefix="lab-") as tmp:
        work = Path(tmp) / "root"
        for path in notebooks:
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / path, work / path)
        settings = Path(tmp) / "settings"
        for name, values in _SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values), encoding="utf-8")
        port, token = free_port(), secrets.token_hex(16)
        env = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(Path(tmp) / "workspaces"),
        }
        jupyter = Path(sys.executable).with_name("jupyter")
        process = subprocess.Popen(
            [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True", "--allow-root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=work, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until_up(process, base, token, "jupyter lab")
        try:
            yield f"{base}/lab/tree/{{path}}?reset&token={token}"  # reset: only that notebook
        finally:
            process.terminate()
            process.wait(timeout=30)
            process.stderr.close()


def run_notebook(page, url: str) -> float:
    """Open a notebook in Lab, Run All Cells, wait until every code cell has run; returns the
    seconds it took. Raises if an output shows a traceback."""
    page.goto(url)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    select = page.locator(".jp-Dialog button.jp-mod-accept", has_text="Select")
    deadline = time.monotonic() + 90
    while not page.evaluate(_KERNEL_IDLE):
        if select.count():  # Lab asks which kernel to start: the notebook's own
            select.first.click()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url.split('?')[0]}: the kernel did not start")
        page.wait_for_timeout(250)
    start = time.monotonic()
    all_ran = page.evaluate(_RUN_ALL)
    seconds = time.monotonic() - start
    shown = tracebacks(page)
    if shown or not all_ran:
        raise AssertionError(f"{url.split('?')[0]}: a cell raised: {(shown or ['?'])[0][:800]}")
    return seconds


def tracebacks(page) -> list[str]:
    """Text of every output in the notebook that shows a Python traceback."""
    return page.evaluate(
        f"t => Array.from(document.querySelectorAll('{PANEL} .jp-OutputArea-output'))"
        ".map(e => e.innerText).filter(x => x.includes(t))",
        TRACEBACK,
    )


@dataclass
class Control:
    kind: str  # slider, dropdown, checkbox, text
    label: str
    index: int  # among the explorer's controls of this kind


def explorers(page):
    """The live explorers of the notebook on show."""
    return page.locator(f"{PANEL} .live-explorer")


def controls(explorer) -> list[Control]:
    """The controls of one explorer that can take another value, by kind."""
    found = []
    for kind, selector in (
        ("text", ".widget-text"),
        ("dropdown", ".widget-dropdown"),
        ("slider", ".widget-slider"),
        ("checkbox", ".widget-checkbox"),
    ):
        boxes = explorer.locator(selector)
        for i in range(boxes.count()):
            if not boxes.nth(i).evaluate(_MOVABLE):
                continue  # a one-value slider (one layer), a one-option dropdown
            texts = boxes.nth(i).locator(".widget-label, .widget-label-basic").all_inner_texts()
            label = next((t.strip() for t in texts if t.strip("\u200b \n")), kind)
            found.append(Control(kind, label, i))
    return found


def output_html(explorer) -> str:
    return explorer.evaluate(
        "root => Array.from(root.querySelectorAll('.live-output')).map(e => e.innerHTML).join('|')"
    )


def move(page, explorer, control: Control, sentence: str = "") -> float | None:
    """Change ``control`` once (a slider goes back the way its previous move came; ``sentence``
    is typed into a text box) and return the milliseconds from the input event to the settled
    output, or None if the control is disabled or the output did not change."""
    box = explorer.locator(
        {"text": ".widget-text", "dropdown": ".widget-dropdown", "slider": ".widget-slider",
         "checkbox": ".widget-checkbox"}[control.kind]
    ).nth(control.index)  # fmt: skip
    if control.kind == "slider":
        handle = box.locator(".noUi-handle").first
        if handle.evaluate("h => h.closest('[disabled]') !== null || h.closest('.noUi-target')"
                           ".hasAttribute('disabled')"):  # fmt: skip
            return None
        now, top = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
        last = handle.get_attribute("data-last-key")  # go back where the previous move came from
        if last:
            key = "ArrowLeft" if last == "ArrowRight" else "ArrowRight"
        else:
            key = "ArrowLeft" if now >= top else "ArrowRight"
        handle.evaluate("(h, k) => h.setAttribute('data-last-key', k)", key)
        explorer.evaluate(_ARM)
        handle.focus()
        page.keyboard.press(key)
    elif control.kind == "dropdown":
        select = box.locator("select")
        options = select.locator("option").all_inner_texts()
        if len(options) < 2 or select.is_disabled():
            return None
        current = select.evaluate("s => s.selectedIndex")
        explorer.evaluate(_ARM)
        select.select_option(index=(current + 1) % len(options))
    elif control.kind == "checkbox":
        explorer.evaluate(_ARM)
        box.locator("input[type=checkbox]").click()
    else:
        field = box.locator("input")
        field.fill(sentence)
        explorer.evaluate(_ARM)
        field.press("Enter")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        state = page.evaluate(_READ)
        if state["last"] is not None and state["now"] - state["last"] > QUIET_MS:
            if state["t0"] is None:
                return None
            return state["last"] - state["t0"]
        page.wait_for_timeout(50)
    return None
