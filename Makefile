# One entry point for set-up, the main job, checks and benchmarks; CI calls `make check`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo check lint test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the shipped sample logs.
demo: install
	$(BIN)/llmaudit analyze sample_logs/ --json out/audit.json --html out/report.html --db out/audit.duckdb

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy llmaudit

test: install
	$(BIN)/pytest

## Everything CI runs: lint, types, tests.
check: lint test

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
