# customer-flows — every target sets itself up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help dev test lint lock bench-service bench-flows bench-recovery bench-events bench-bulk bench-api migrate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# Installs exactly what requirements-dev.lock pins, each file checked against its hash; then the
# project itself (editable, no dependencies of its own to resolve).
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links --annotation-style=line
lock: $(STAMP) ## re-lock the dependencies after a pyproject.toml change (pip-compile, with hashes)
	$(LOCK) -o requirements.lock pyproject.toml
	$(LOCK) --extra dev --extra dev-stack -o requirements-dev.lock pyproject.toml

dev: $(STAMP) ## start the stack (embedded PostgreSQL, Temporal dev server + Web UI, worker)
	$(BIN)/python -m devstack

# System tools the tests use, from Debian: docker-compose (validates docker-compose.yml),
# chromium (the Web UI browser test), nodejs and npm (Medusa's JS SDK against the HTTP API).
TOOLS_STAMP := $(VENV)/.tools
$(TOOLS_STAMP):
	@missing=""; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages, for the tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $(TOOLS_STAMP)

test: $(STAMP) $(TOOLS_STAMP) ## run the test suite (starts its own PostgreSQL and Temporal)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench-service: $(STAMP) ## Customer Module benchmark (1M customers)
	$(BIN)/python bench/bench_service.py

bench-flows: $(STAMP) ## Customer workflows on Temporal benchmark (latency, throughput, worker RSS)
	$(BIN)/python bench/bench_flows.py

bench-recovery: $(STAMP) ## recovery from worker kills under 16 clients (kill → next success)
	$(BIN)/python bench/bench_recovery.py

bench-events: $(STAMP) ## Event delivery benchmark (released → delivered latency)
	$(BIN)/python bench/bench_events.py

bench-bulk: $(STAMP) ## bulk import (100k customers) and export (1M) benchmark, worker RSS
	$(BIN)/python bench/bench_bulk.py

bench-api: $(STAMP) ## HTTP API benchmark: routes vs in-process, 1/16/32 clients, 1M customers
	$(BIN)/python bench/bench_api.py

migrate: $(STAMP) ## apply database migrations to DATABASE_URL (or the embedded database of make dev)
	$(BIN)/python -m devstack.database

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) .data
