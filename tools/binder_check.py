"""Build the Binder environment from binder/ in a fresh venv, as repo2docker would, and run
every notebook in it under Binder's memory limit.

    python3 tools/binder_check.py        (make binder-check)
    python3 tools/binder_check.py --book .venv/bin/python     (make test)

Steps: a fresh venv from this Python, with its own pip and setuptools (no upgrade); install
binder/requirements.txt, with torch==2.13.0 from the default index in place of the CPU-index
wheel (``+cpu``, whose index this machine cannot reach), plus the Jupyter kernel and notebook
runner that repo2docker's base image brings; run binder/postBuild; check that postBuild left
nothing behind in the repository; execute every chapter and the sliders page from a fresh
kernel with the kernel's data segment limited to 2 GiB (Binder's memory cap), and report each
notebook's time and the kernel's peak resident memory.

With ``--book PYTHON``, the last step is the book build itself: PYTHON (the book's own venv)
runs tools/build_book.py with every notebook's kernel in the Binder environment, under the
same limit, so `make test` executes the notebooks once for both (the two environments pin the
same versions: binder/requirements.txt is installed under requirements.txt's pins).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 2 * 1024**3  # bytes: mybinder.org gives a session 2 GB
WORKERS = 2  # notebooks executed at once
# What repo2docker's base environment provides next to binder/requirements.txt.
RUNNER = ["ipykernel", "nbclient", "nbformat", "psutil"]

RUN_NOTEBOOK = r"""
import resource, sys, time, nbformat, psutil
from nbclient import NotebookClient
limit = int(sys.argv[2])
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
def limit_memory():
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
folder = str(__import__("pathlib").Path(path).parent)
client = NotebookClient(nb, timeout=600, kernel_name="python3",
                        resources={"metadata": {"path": folder}})
peak = 0
start = time.perf_counter()
with client.setup_kernel(preexec_fn=limit_memory):
    kernel = psutil.Process(client.km.provisioner.process.pid)
    for index, cell in enumerate(nb.cells):
        client.execute_cell(cell, index)
        peak = max(peak, kernel.memory_info().rss)
print(f"{time.perf_counter() - start:.1f} {peak}")
"""


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def requirements(venv: Path) -> Path:
    """binder/requirements.txt with the CPU-index torch replaced by the same release."""
    text = (ROOT / "binder" / "requirements.txt").read_text()
    text = re.sub(r"(?m)^--extra-index-url .*$", "", text)
    text = re.sub(r"(?m)^torch==([\d.]+)\+cpu$", r"torch==\1", text)
    path = venv / "binder-requirements.txt"
    path.write_text(text)
    return path


def new_files() -> set[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {
        line[3:]
        for line in out.splitlines()
        if line[:2] in ("??", "!!") and not line.endswith((".pyc", "__pycache__/"))
    }  # new files, tracked or ignored: what an install step could leave behind


def main(argv: list[str]) -> int:
    book_python = argv[argv.index("--book") + 1] if "--book" in argv else None
    notebooks = [*sorted((ROOT / "notebooks").glob("*.ipynb")), ROOT / "book" / "sliders.ipynb"]
    with tempfile.TemporaryDirectory(prefix="binder-check-") as tmp:
        venv = Path(tmp) / "venv"
        run([sys.executable, "-m", "venv", str(venv)])
        python = venv / "bin" / "python"
        run([str(python), "-m", "pip", "--version"])
        run([str(python), "-c", "import setuptools; print('setuptools', setuptools.__version__)"])
        constraints = ROOT / "requirements.txt"
        pins = [line for line in constraints.read_text().splitlines() if not line.startswith("-e")]
        constraint_file = Path(tmp) / "constraints.txt"
        constraint_file.write_text("\n".join(pins) + "\n")
        run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements(Path(tmp))),
             "-c", str(constraint_file), *RUNNER])  # fmt: skip
        before = new_files()
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
        env.pop("PYTHONPATH", None)
        run(["bash", str(ROOT / "binder" / "postBuild")], cwd=ROOT, env=env)
        left = new_files() - before
        if left:
            print(f"binder-check: postBuild left files behind: {sorted(left)}", file=sys.stderr)
            return 1
        where = subprocess.run(
            [str(python), "-c", "import minitransformer; print(minitransformer.__file__)"],
            capture_output=True, text=True, check=True, cwd=tmp,
        ).stdout.strip()  # fmt: skip
        if not where.startswith(str(venv)):
            print(f"binder-check: minitransformer imported from {where}, not the venv")
            return 1
        if book_python:
            print("binder-check: building the book with its kernels in this environment")
            book_env = {**os.environ, "BOOK_KERNEL_PYTHON": str(python),
                        "BOOK_KERNEL_DATA_LIMIT": str(MEMORY_LIMIT)}  # fmt: skip
            book_env.pop("PYTHONPATH", None)
            built = subprocess.run([book_python, str(ROOT / "tools" / "build_book.py")],
                                   cwd=ROOT, env=book_env, check=False)  # fmt: skip
            return built.returncode
        script = Path(tmp) / "run_notebook.py"
        script.write_text(RUN_NOTEBOOK)
        total = time.perf_counter()

        def execute(notebook: Path) -> subprocess.CompletedProcess:
            return subprocess.run(
                [str(python), str(script), str(notebook), str(MEMORY_LIMIT)],
                capture_output=True, text=True, env=env, cwd=notebook.parent,
            )  # fmt: skip

        # Two notebooks at a time (two cores); each kernel has its own 2 GiB limit.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(zip(notebooks, pool.map(execute, notebooks), strict=True))
        for notebook, result in results:
            if result.returncode:
                print(result.stdout[-4000:], result.stderr[-4000:], file=sys.stderr)
                print(f"binder-check: {notebook.relative_to(ROOT)} failed", file=sys.stderr)
                return 1
            seconds, peak = result.stdout.split()[-2:]
            print(f"binder-check: {notebook.relative_to(ROOT)}: {seconds} s, "
                  f"kernel peak {int(peak) / 2**20:.0f} MiB", flush=True)  # fmt: skip
        seconds = time.perf_counter() - total
        print(f"binder-check: {len(notebooks)} notebooks ran in the Binder environment in "
              f"{seconds:.0f} s (data limit {MEMORY_LIMIT // 2**20} MiB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
