# Everything runs from a project-local virtualenv made on first use, so a fresh machine needs only
# Python 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup validate demo lint typecheck unit test bench schema clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

validate: $(STAMP)
	$(BIN)/reconciler validate desired-state

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy reconciler

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

schema: $(STAMP)
	$(BIN)/reconciler schema > schema/membership.schema.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
