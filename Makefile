# Two commands for a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: book book-numerics test unit lint bench pretrained seed-study system-deps lab binder-check clean

# The runtime stack (what the book needs) and the test tools are two files and two stamps.
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.testtools: $(VENV)/.runtime requirements-test.txt requirements-lab.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

$(VENV)/.lab: $(VENV)/.runtime requirements-lab.txt
	$(PY) -m pip install --quiet -r requirements-lab.txt
	touch $@

book: $(VENV)/.runtime
	$(PY) tools/build_book.py

# The same book under other numerics: PyTorch's portable (non-SIMD) CPU kernels, MKL's
# compatible code path and oneDNN without AVX. Other last bits reach every training run, so
# every chapter's guards are exercised as on another machine. Its own output folder and
# execution cache (_build/numerics/_build/html); _build/html is not touched. Not part of
# `make test` (it executes every chapter again). Another setting: make book-numerics
# NUMERICS="ATEN_CPU_CAPABILITY=avx2"
NUMERICS ?= ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41
book-numerics: $(VENV)/.runtime
	env $(NUMERICS) BOOK_OUTPUT=_build/numerics $(PY) tools/build_book.py

lint: $(VENV)/.testtools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

unit: $(VENV)/.testtools
	$(BIN)/pytest -m "not browser" -n 2 --cov --cov-report=term --cov-fail-under=95

system-deps:
	bash tools/system-deps.sh

# The book's own tooling is linted here (the `lint` target covers the package and tests).
# The book is built with its notebooks' kernels in the Binder environment (binder-check's venv,
# 2 GB each): one execution of the notebooks serves the book and the Binder check.
test: $(VENV)/.testtools system-deps lint unit
	$(PYTHON) tools/binder_check.py --book $(PY)
	$(BIN)/ruff check tools book/_ext
	$(BIN)/ruff format --check tools book/_ext
	$(BIN)/pytest -m browser -n 2 --dist loadscope --durations=15

# JupyterLab on the chapters (pinned in requirements-lab.txt). LAB_ARGS, e.g. --no-browser.
lab: $(VENV)/.lab
	$(BIN)/jupyter lab --notebook-dir=. notebooks/01-why-transformer.ipynb $(LAB_ARGS)

# The Binder environment (binder/), built in a fresh venv, runs every notebook within 2 GB.
binder-check:
	$(PYTHON) tools/binder_check.py

bench: $(VENV)/.testtools
	$(PY) benchmarks/run.py

pretrained: $(VENV)/.runtime
	$(PY) tools/retrain_translator.py

clean:
	rm -rf _build .pytest_cache .ruff_cache .coverage htmlcov

# The shipped recipe retrained with 3 seeds and 1 or 4 heads (about 15 min on 2 cores), read by
# chapters 6 and 10: src/minitransformer/experiments/results/seed_study.json
seed-study: $(VENV)/.runtime
	mkdir -p _build
	$(PY) -m minitransformer.experiments.seed_study --heads 4 --output _build/seed_study_4.json & \
	$(PY) -m minitransformer.experiments.seed_study --heads 1 --output _build/seed_study_1.json; \
	wait
	$(PY) -m minitransformer.experiments.seed_study --merge-only \
		--merge _build/seed_study_4.json --merge _build/seed_study_1.json
