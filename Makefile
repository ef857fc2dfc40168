# Two commands work on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install native demo test inspector apollo lint codegen contracts-check lock clean tools lock-tools bench bench-pipeline bench-pipeline-1m bench-streaming bench-marts bench-api bench-generate bench-instructions test-sources bqemu

# The dev set: every runtime extra plus the tools, pinned on top of the runtime lock (docs/dependencies.md).
$(STAMP): requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python --compile-bytecode requirements-dev.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# The per-event modules compiled by mypyc into build/native (logistics/native): rebuilt when their
# sources change, skipped with LOGISTICS_NATIVE=0. Without a C compiler the build says why and the
# Python modules run, slower.
native: $(STAMP)
	@$(BIN)/python -m logistics.native || true

install: $(STAMP) native

# Static-analysis tools for infra/ (checkov) in their own venv: their pins conflict with .venv.
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-$(shell cat infra/requirements-tools.lock | sha1sum | cut -c1-12)

$(TOOLS_STAMP): infra/requirements-tools.lock $(STAMP)
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(BIN)/uv pip sync --python $(TOOLS_VENV)/bin/python --compile-bytecode infra/requirements-tools.lock
	rm -f $(TOOLS_VENV)/.installed-* && touch $@

tools: $(TOOLS_STAMP)

# The BigQuery emulator (bqemulator, DuckDB-backed) pins its own duckdb: its own venv too.
BQEMU_VENV := .venv-bqemu
$(BQEMU_VENV)/.installed:
	$(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install -q bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 duckdb-extension-avro==1.5.5 numpy
	touch $@

bqemu: $(BQEMU_VENV)/.installed

# graphql-inspector, the reference the SDL gate's grading is checked against (pinned by its lock).
# Without npm the comparison still runs against its committed verdicts; the test says so.
INSPECTOR_DIR := tests/graphql_api/inspector
$(INSPECTOR_DIR)/node_modules/.installed: $(INSPECTOR_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(INSPECTOR_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: graphql-inspector is not installed (its committed verdicts are used)"; fi

inspector: $(INSPECTOR_DIR)/node_modules/.installed

# Apollo Client 4 for tests/graphql_api/test_apollo.py, pinned by its lock (npm registry, at install
# time only). Without npm the test skips and says why.
APOLLO_DIR := tests/graphql_api/apollo
$(APOLLO_DIR)/node_modules/.installed: $(APOLLO_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(APOLLO_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Apollo Client test will skip (apt-get install nodejs npm)"; fi

apollo: $(APOLLO_DIR)/node_modules/.installed

demo: install
	$(BIN)/logistics demo

# Installs what it can without root (the venvs, the npm packages), then names each system package
# it could not install and the tests that will skip without it (.ci/system-packages.sh). With
# CI=true (.ci/run, GitHub) those skips fail the run instead.
test: install tools bqemu inspector apollo
	@.ci/system-packages.sh --check
	$(BIN)/python -m pytest

# Kafka (Tansu) + Pub/Sub (emulator) source tests; -rs prints why anything skipped.
test-sources: install
	$(BIN)/python -m pytest -q -rs tests/pipeline/sources tests/pipeline/test_streaming.py

# Benchmarks: each prints its figures next to a baseline measured in the same run.
bench: bench-pipeline bench-pipeline-1m bench-streaming bench-marts bench-api bench-generate

bench-pipeline: install
	$(BIN)/python -m benchmarks.bench_pipeline

# The unbounded pipeline on the local streaming runner at 100 events/s for 60 s, a rate ramp, and
# the bounded pipeline over the same events as the baseline.
bench-streaming: install
	$(BIN)/python -m benchmarks.bench_streaming --rate 100 --seconds 60

# Instructions per event of the floor and the loops (valgrind's cachegrind): a figure machine load
# cannot move, beside bench-pipeline's CPU figures. Not part of `bench` (seven to eight minutes).
bench-instructions: install
	@command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q valgrind >/dev/null; } || \
		{ echo "bench-instructions needs valgrind: apt-get install valgrind"; exit 1; }
	$(BIN)/python -m benchmarks.bench_instructions

# Peak memory of the pipeline over 1M events (target < 1 GB); the loop baseline is skipped.
bench-pipeline-1m: install
	$(BIN)/python -m benchmarks.bench_pipeline --events 1000000 --naive-events 500 --skip-loop

# The simulator's rate: 1M records over 10 days (records/s and peak RSS are printed).
bench-generate: install
	$(BIN)/python -m benchmarks.bench_generate --events 1000000 --days 10

bench-api: install
	$(BIN)/python -m benchmarks.bench_api --rate 200 --seconds 10 --server-workers 2

bench-marts: install
	$(BIN)/python -m benchmarks.bench_marts --sizes 1000000 10000000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the import layers in pyproject.toml: an import that climbs a layer fails

codegen: install
	$(BIN)/logistics codegen

contracts-check: install
	$(BIN)/logistics contracts check
	$(BIN)/logistics graphql check

# Re-resolve the pins (needs the package registry). The runtime lock comes first; each image's lock
# and the dev lock are resolved under it (-c), so a package has one version everywhere.
COMPILE = $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --no-header --quiet
lock:
	$(COMPILE) --extra api --extra pipeline --extra dags -o requirements.lock
	$(COMPILE) --extra api -c requirements.lock -o requirements-api.lock
	$(COMPILE) --extra pipeline -c requirements.lock -o requirements-dataflow.lock
	$(COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock
	$(BIN)/uv pip compile infra/docker/requirements-native.in -c requirements-dev.lock --python-version 3.11 --no-header --quiet -o infra/docker/requirements-native.lock

# Re-resolve the tools' pins (needs the package registry).
lock-tools: install
	$(BIN)/uv pip compile infra/requirements-tools.in --python-version 3.11 --no-header -o infra/requirements-tools.lock

clean:
	rm -rf .data build/native
