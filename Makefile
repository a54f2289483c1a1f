# The README's commands. Everything installs into .venv from PyPI; nothing else is fetched.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint typecheck unit eval bench audit clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/assistant chat

lint: install
	$(BIN)/ruff check assistant tests eval
	$(BIN)/ruff format --check assistant tests eval

typecheck: install
	$(BIN)/mypy assistant

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

eval: install
	$(BIN)/assistant eval

bench: install
	$(PY) eval/bench/run.py

audit: install
	$(BIN)/pip-audit --skip-editable

clean:
	rm -rf .assistant eval/reports eval/bench/results .pytest_cache .mypy_cache .ruff_cache
