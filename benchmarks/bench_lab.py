"""Latency of the live explorers in a real JupyterLab (issue 13).

    .venv/bin/python benchmarks/bench_lab.py [--moves 6] [--notebooks notebooks/05-...ipynb ...]

Starts ``jupyter lab`` on 127.0.0.1 with a token over a copy of the chapters that have live
explorers (``tests/browser/_lab.py``), opens each in Debian's Chromium (Playwright, headless,
no network), runs all its cells, then moves every control of every explorer (``viz.live_*``
and the chapters' own: chapter 4's softmax and row explorers, chapter 8's parameter counter,
chapter 10's translator) ``--moves`` times (even: there and back, so every control ends where
it started): a key on a slider's handle (right, then back),
the next option of a dropdown, a click on a checkbox, a sentence and Enter in a text box. For
each move: the time from the browser's input event to the last change of the explorer's output
in the DOM. Median and max per explorer; the bar is median <= 100 ms and max <= 250 ms.
Results go to ``benchmarks/results/lab.json`` (ignored by git) and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser._lab import controls, explorers, jupyter_lab, move, run_notebook  # noqa: E402
from browser._site import CHROMIUM_ARGS, WIDTHS, offline_context  # noqa: E402

NOTEBOOKS = [
    "notebooks/02-encoder-decoder.ipynb",
    "notebooks/03-attention.ipynb",
    "notebooks/04-queries-keys-values.ipynb",
    "notebooks/05-positional-encoding.ipynb",
    "notebooks/06-multi-head-attention.ipynb",
    "notebooks/08-transformer-block.ipynb",
    "notebooks/10-inference.ipynb",
    "book/sliders.ipynb",
]
SENTENCES = ["어제 카페 갔었어", "거기 사람 많더라 우주선", "어제 카페 갔었어 거기 사람 많더라"]
MEDIAN_BAR, MAX_BAR = 100.0, 250.0


def _explorer_name(explorer) -> str:
    """What the explorer is, read from its controls (the page has no other name for it)."""
    labels = [c.label for c in controls(explorer)]
    return "/".join(labels) or "explorer"


def bench_notebook(page, url: str, moves: int) -> list[dict]:
    seconds = run_notebook(page, url)
    rows = []
    found = explorers(page)
    for e in range(found.count()):
        explorer = found.nth(e)
        explorer.scroll_into_view_if_needed()
        per_control = {}
        for control in controls(explorer):
            times = []
            for step in range(moves):
                sentence = SENTENCES[step % len(SENTENCES)]
                ms = move(page, explorer, control, sentence)
                if ms is not None:
                    times.append(round(ms, 1))
            per_control[f"{control.kind} {control.label}"] = times
        every = [t for times in per_control.values() for t in times]
        rows.append({
            "explorer": f"{e + 1}: {_explorer_name(explorer)}",
            "run_all_s": round(seconds, 1),
            "controls": per_control,
            "median_ms": round(statistics.median(every), 1) if every else None,
            "max_ms": max(every) if every else None,
            "moves": len(every),
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=6, help="moves per control")
    parser.add_argument("--notebooks", nargs="*", default=NOTEBOOKS)
    args = parser.parse_args()
    args.moves += args.moves % 2  # there and back: every control ends where it started

    from playwright.sync_api import sync_playwright

    results: dict = {}
    started = time.monotonic()
    with jupyter_lab(args.notebooks) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        context = offline_context(browser, WIDTHS["desktop"])
        blocked = context.blocked_requests
        for path in args.notebooks:
            page = context.new_page()
            results[path] = bench_notebook(page, url.format(path=path), args.moves)
            page.close()
            for row in results[path]:
                print(f"{path} {row['explorer']}: median {row['median_ms']} ms, max "
                      f"{row['max_ms']} ms over {row['moves']} moves", flush=True)  # fmt: skip
        browser.close()
    load = os.getloadavg()[0]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    record = {"moves_per_control": args.moves, "load_average_1min": load, "results": results,
              "blocked": blocked, "wall_s": round(time.monotonic() - started, 1)}  # fmt: skip
    (out / "lab.json").write_text(json.dumps(record, indent=1, ensure_ascii=False), "utf-8")

    print("\n| page | explorer (its controls) | median ms | max ms | moves | bar |")
    print("|---|---|---|---|---|---|")
    failed = bool(blocked)
    for path, rows in results.items():
        for row in rows:
            ok = row["median_ms"] is not None and row["median_ms"] <= MEDIAN_BAR
            ok = ok and row["max_ms"] <= MAX_BAR
            failed |= not ok
            print(f"| {Path(path).stem} | {row['explorer']} | {row['median_ms']} | "
                  f"{row['max_ms']} | {row['moves']} | {'met' if ok else 'MISSED'} |")  # fmt: skip
    print(f"\n1-minute load average at the end: {load:.1f}; blocked requests: {len(blocked)}")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
