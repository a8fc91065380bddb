"""Build the book into _build/html with warnings as errors (`make book` runs this).

Usage: python tools/build_book.py [--all] [extra jupyter-book build options]

BOOK_OUTPUT=/some/dir builds into /some/dir/_build (html, doctrees, execution cache) instead of
the repository's _build: two builds of one working tree at once must not share a cache.

Before Sphinx runs, every notebook the execution cache does not hold yet is executed, two at a
time (BOOK_JOBS, default 2: the chapters run on one thread each, so two use both cores), and
its outputs go into the cache that MyST-NB then reads; it prints each notebook's execution time.

BOOK_KERNEL_PYTHON=/path/to/python runs the notebooks' kernels with that interpreter (which
needs ipykernel and the book's runtime packages) instead of this one, every notebook again,
each kernel limited to BOOK_KERNEL_DATA_LIMIT bytes of data segment if that is set, and prints
each kernel's peak resident memory: `make test` builds the book this way in the Binder
environment (tools/binder_check.py --book), so one execution of the notebooks serves both.

Fails when the build warns, when a notebook cell fails, or when no site came out: jupyter-book
2.x is a different tool (MyST-MD, configured by myst.yml); given this book's _config.yml and
_toc.yml it prints "No site configuration found." and exits 0 having built nothing, so a
missing _build/html/index.html is an error here.
"""

from __future__ import annotations

import concurrent.futures
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
JOBS = int(os.environ.get("BOOK_JOBS", "2"))
TIMEOUT = 300  # seconds per cell, as _config.yml's execute.timeout
KERNEL_PYTHON = os.environ.get("BOOK_KERNEL_PYTHON")
KERNEL_NAME = "book-kernel"  # the kernel spec written for BOOK_KERNEL_PYTHON
DATA_LIMIT = int(os.environ.get("BOOK_KERNEL_DATA_LIMIT") or 0)


def book_notebooks() -> list[Path]:
    """Every notebook _toc.yml lists."""
    import yaml

    files: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
    paths = [(ROOT / f).with_suffix(".ipynb") for f in files]
    return [p for p in paths if p.exists()]


def _execute(path: str) -> tuple[str, object, float, str | None, int]:
    """Run one notebook in its own folder, as MyST-NB does (a fresh kernel, no errors allowed).

    Returns the path, the executed notebook, seconds, the error (or None) and, with
    BOOK_KERNEL_PYTHON, the kernel's peak resident memory in bytes (else 0)."""
    import resource

    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    options = {}
    if KERNEL_PYTHON:
        options["kernel_name"] = KERNEL_NAME
        if DATA_LIMIT:  # inherited by the kernel this process starts
            resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))
    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(
        notebook, cwd=str(Path(path).parent), timeout=TIMEOUT, allow_errors=False,
        meta_override=True, **options,
    )  # fmt: skip
    # This process runs one notebook (max_tasks_per_child=1): its largest reaped child is the
    # kernel. Linux reports kibibytes.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 if KERNEL_PYTHON else 0
    return path, notebook, result.time, result.exc_string if result.err else None, peak


def _write_kernel_spec() -> None:
    """A kernel spec for BOOK_KERNEL_PYTHON, found first through JUPYTER_PATH."""
    import atexit
    import json
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="book-kernel-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [KERNEL_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (book)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(folder), *filter(None, [os.environ.get("JUPYTER_PATH")])]
    )


def execute_into_cache(notebooks: list[Path]) -> bool:
    """Execute the notebooks the cache lacks, JOBS at a time; False if one failed."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    todo = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    if not todo:
        return True
    # Longest first, so the two queues end together (the sizes are the last run's times).
    previous = {r.uri: r.data.get("execution_seconds", 0) for r in cache.list_cache_records()}
    todo.sort(key=lambda p: -previous.get(str(p), 0))
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from book_offline import set_kernel_environment

    set_kernel_environment()  # the kernels' environment, as under Sphinx: plotly's renderer...
    pool_options = {}
    if KERNEL_PYTHON:
        _write_kernel_spec()
        pool_options["max_tasks_per_child"] = 1  # one kernel per process: its peak is its own
        print(f"kernels: {KERNEL_PYTHON}, data limit {DATA_LIMIT // 2**20 or '-'} MiB")
    print(f"executing {len(todo)} notebooks, {JOBS} at a time", flush=True)
    start, ok = time.monotonic(), True
    with concurrent.futures.ProcessPoolExecutor(max_workers=JOBS, **pool_options) as pool:
        for path, notebook, seconds, error, peak in pool.map(_execute, map(str, todo)):
            name = Path(path).relative_to(ROOT)
            if error:
                print(f"{name}: a cell failed\n{error}", flush=True)
                ok = False
                continue
            cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(
                CacheBundleIn(notebook, path, data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True,
            )  # fmt: skip
            memory = f", kernel peak {peak / 2**20:.0f} MiB" if peak else ""
            print(f"{name}: executed in {seconds:.1f} s{memory}", flush=True)
    print(f"notebooks executed in {time.monotonic() - start:.0f} s wall", flush=True)
    return ok


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
    elif KERNEL_PYTHON:  # every notebook runs in that interpreter: none from the cache
        shutil.rmtree(CACHE, ignore_errors=True)
        if "--all" not in argv:
            argv = [*argv, "--all"]
    elif FAILED.exists() and "--all" not in argv:
        argv = [*argv, "--all"]  # Sphinx kept the failed pages: read them again from the cache
    start = time.monotonic()
    started_at = time.time()
    if not execute_into_cache(book_notebooks()):
        FAILED.parent.mkdir(parents=True, exist_ok=True)
        FAILED.touch()
        print("book build FAILED: a notebook cell raised (above)")
        return 1
    command = [str(jupyter_book), "build", str(ROOT), "--warningiserror", "--keep-going"]
    command += [*(["--path-output", str(OUTPUT)] if OUTPUT != ROOT else []), *argv]
    print("+", " ".join(command), flush=True)
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
