"""Build the book into _build/html with warnings as errors (`make book` runs this).

Usage: python tools/build_book.py [--all] [extra jupyter-book build options]

BOOK_OUTPUT=/some/dir builds into /some/dir/_build (html, doctrees, execution cache) instead of
the repository's _build: two builds of one working tree at once must not share a cache.

Fails when the build warns, when a notebook cell fails, or when no site came out: jupyter-book
2.x is a different tool (MyST-MD, configured by myst.yml); given this book's _config.yml and
_toc.yml it prints "No site configuration found." and exits 0 having built nothing, so a
missing _build/html/index.html is an error here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("BOOK_OUTPUT") or ROOT).resolve()
BUILD = OUTPUT / "_build"
HTML = BUILD / "html"
CACHE = BUILD / ".jupyter_cache"  # myst-nb's default: beside the html folder
STAMP = BUILD / ".inputs.sha256"
FAILED = BUILD / ".last-build-failed"  # next build re-reads every page (warns again)
# jupyter-cache keys a notebook on its own code cells only. The outputs also depend on these,
# so when any of them changes every notebook is executed again.
INPUTS = ["src/minitransformer", "book/_ext", "requirements.txt", "_config.yml"]


def inputs_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(file.relative_to(ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    jb_version = version("jupyter-book")
    if int(jb_version.split(".")[0]) >= 2:
        print(f"jupyter-book {jb_version} is installed; this book needs 1.x (see requirements.txt)")
        return 2
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    fingerprint = inputs_fingerprint()
    if not STAMP.exists() or STAMP.read_text().strip() != fingerprint:
        if CACHE.exists() or HTML.exists():
            print("package, extension or config changed: executing every notebook again")
        shutil.rmtree(CACHE, ignore_errors=True)
        STAMP.parent.mkdir(parents=True, exist_ok=True)
        STAMP.write_text(fingerprint + "\n")
        if "--all" not in argv:
            argv = [*argv, "--all"]
    elif FAILED.exists() and "--all" not in argv:
        argv = [*argv, "--all"]  # Sphinx kept the failed pages: read them again from the cache
    command = [str(jupyter_book), "build", str(ROOT), "--warningiserror", "--keep-going"]
    command += [*(["--path-output", str(OUTPUT)] if OUTPUT != ROOT else []), *argv]
    print("+", " ".join(command), flush=True)
    start = time.monotonic()
    started_at = time.time()
    result = subprocess.run(command, cwd=ROOT, check=False)
    elapsed = time.monotonic() - start
    if result.returncode:
        FAILED.parent.mkdir(parents=True, exist_ok=True)
        FAILED.touch()
        print(f"book build FAILED (exit {result.returncode}) after {elapsed:.0f} s")
        return result.returncode
    FAILED.unlink(missing_ok=True)
    index = HTML / "index.html"
    pages = [p for p in HTML.rglob("*.html") if p.stat().st_mtime >= started_at - 1]
    if not index.exists():
        print(f"book build produced no {index}: nothing was built")
        return 1
    print(f"book built in {elapsed:.0f} s: {HTML} ({len(pages)} pages written)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
