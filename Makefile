# Two commands for a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: book test unit lint bench pretrained system-deps lab binder-check clean

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

lint: $(VENV)/.testtools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

unit: $(VENV)/.testtools
	$(BIN)/pytest -m "not browser" --cov --cov-report=term --cov-fail-under=95

system-deps:
	bash tools/system-deps.sh

# The book's own tooling is linted here (the `lint` target covers the package and tests).
test: $(VENV)/.testtools system-deps lint unit book binder-check
	$(BIN)/ruff check tools book/_ext
	$(BIN)/ruff format --check tools book/_ext
	$(BIN)/pytest -m browser

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
