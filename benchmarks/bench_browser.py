"""Benchmark of the translator that runs in the page (issue 14).

    make book && .venv/bin/python benchmarks/bench_browser.py [--keystrokes 40] [--reloads 7]

Drives Debian's Chromium (Playwright, headless, no network) on the built book's sliders page:

1. bytes: what the widget adds to a page (translator.js, widget.js, widget.css, the model's
   weights and manifest with both vocabularies), counted from the responses; plotly.js is
   reported apart (the page's other figures load it anyway). Target <= 3 MB.
2. first load of the model on a warm cache: the page is opened once, then reloaded; the time
   from the start of the model's fetch to a model ready to translate, median over reloads.
   Target <= 1 s.
3. keystroke -> updated translation and heatmap: a key is pressed in the text box (deleting
   and retyping the last syllable of the notes' sentence, in turn); the widget records the
   time from the input event to the end of the heatmap's redraw (Plotly.react resolved).
   Median over keystrokes. Target <= 50 ms.
   For reference, in the same run: plotly's redraw of the same heatmap with copied numbers
   (the floor of any update drawn with plotly).
4. the forward pass alone, against the package in the same run: greedy translation of the
   notes' sentence by the JavaScript in the page and by ``Translator.translate`` in torch (one
   thread), median of interleaved repeats; ratio = JavaScript / torch.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("BOOK_OUTPUT") or ROOT) / "_build" / "html"
PAGE = "book/sliders.html"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


def _serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _ready(page) -> None:
    page.wait_for_selector(".mt-browser-translator[data-ready]", timeout=30_000)
    state = page.locator(".mt-browser-translator").get_attribute("data-ready")
    if state != "true":
        raise RuntimeError(f"the widget did not start: {state}")


def run(keystrokes: int, reloads: int, repeats: int) -> int:
    import torch
    from playwright.sync_api import sync_playwright

    import minitransformer as mt
    from minitransformer.data import NOTES_SOURCE

    if not (SITE / PAGE).exists():
        print(f"{SITE / PAGE} is missing: build the book first (`make book`)", file=sys.stderr)
        return 1
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    server, url = _serve()
    sizes: dict[str, int] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route(
                "**/*",
                lambda route, request: (
                    route.continue_()
                    if urlsplit(request.url).hostname == "127.0.0.1"
                    or request.url.startswith("data:")
                    else route.abort()
                ),
            )
            page = context.new_page()

            def record(response) -> None:
                path = urlsplit(response.url).path
                if "/_static/translator/" in path or path.endswith("plotly.min.js"):
                    with contextlib.suppress(Exception):  # a cached 304 has no body here
                        sizes[path.rsplit("/", 1)[-1]] = len(response.body())

            page.on("response", record)
            page.goto(url + PAGE, wait_until="load")  # cold: fills the cache, counts bytes
            _ready(page)
            page.remove_listener("response", record)

            loads = []
            for _ in range(reloads):
                page.reload(wait_until="load")
                _ready(page)
                loads.append(page.evaluate(
                    "async () => (await window.MiniTransformer.model()).loadMilliseconds"
                ))  # fmt: skip

            box = page.get_by_label("Korean sentence")
            box.focus()
            page.keyboard.press("End")
            widget = page.locator(".mt-browser-translator")
            last = NOTES_SOURCE[-1]
            for index in range(keystrokes):
                before = int(widget.get_attribute("data-updates"))
                page.keyboard.press("Backspace") if index % 2 == 0 else page.keyboard.type(last)
                page.wait_for_function(
                    "(n) => Number(document.querySelector('.mt-browser-translator')"
                    ".dataset.updates) > n",
                    arg=before,
                )
            timings = page.evaluate(
                "() => document.querySelector('.mt-browser-translator').mtWidget.timings"
            )[-keystrokes:]
            # the floor of any plotly-drawn update in the same conditions: the same heatmap
            # redrawn with a copy of its numbers (no translation, no other work)
            redraws = page.evaluate(
                """async (n) => { const el = document.querySelector('.mt-bt-heatmap');
                    const times = [];
                    for (let i = 0; i < n; i++) {
                        const t0 = performance.now();
                        const z = el.data[0].z.map((row) => row.slice());
                        await Plotly.react(el, [{ ...el.data[0], z }], el.layout);
                        times.push(performance.now() - t0);
                    }
                    return times; }""",
                keystrokes,
            )

            torch.set_num_threads(1)
            translator = mt.load_pretrained()
            js_times, py_times = [], []
            for _ in range(repeats):
                js_times.append(page.evaluate(
                    """async (s) => { const m = await window.MiniTransformer.model();
                        const t0 = performance.now(); m.translate(s);
                        return performance.now() - t0; }""", NOTES_SOURCE))  # fmt: skip
                started = time.perf_counter()
                translator.translate(NOTES_SOURCE)
                py_times.append(1000 * (time.perf_counter() - started))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()

    widget_files = {name: size for name, size in sizes.items() if name != "plotly.min.js"}
    widget_bytes = sum(widget_files.values())
    print(f"page {PAGE}, Chromium headless, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, size in sorted(widget_files.items()):
        print(f"  {name:<18} {size / 1024:8.1f} KiB")
    print(f"bytes the widget adds        {widget_bytes / 1e6:6.3f} MB  (target <= 3 MB)")
    if "plotly.min.js" in sizes:
        print(f"  plotly.min.js (already on the page for its other figures) "
              f"{sizes['plotly.min.js'] / 1e6:.3f} MB")  # fmt: skip
    print(f"model load, warm cache       {statistics.median(loads):6.1f} ms median of {reloads} "
          f"(min {min(loads):.1f}, max {max(loads):.1f}; target <= 1000 ms)")  # fmt: skip
    print(f"keystroke -> translation + heatmap {statistics.median(timings):6.1f} ms median of "
          f"{len(timings)} (p90 {sorted(timings)[int(0.9 * len(timings))]:.1f}; "
          f"target <= 50 ms)")  # fmt: skip
    print(f"  of which plotly's redraw alone (same heatmap, copied numbers) "
          f"{statistics.median(redraws):.1f} ms median of {len(redraws)}")  # fmt: skip
    js, py = statistics.median(js_times), statistics.median(py_times)
    print(f"greedy translation of the notes' sentence: JavaScript {js:.2f} ms, torch {py:.2f} ms "
          f"(1 thread), ratio {js / py:.2f} (median of {repeats} interleaved)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keystrokes", type=int, default=40)
    parser.add_argument("--reloads", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30)
    arguments = parser.parse_args(argv)
    return run(arguments.keystrokes, arguments.reloads, arguments.repeats)


if __name__ == "__main__":
    sys.exit(main())
