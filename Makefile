# Every target bootstraps what it needs: uv (from PyPI, into .tools/ when not on PATH) and the
# workspace (.venv, from uv.lock). CI runs these same targets through .ci/run.
SHELL := bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=
JS_CLIENT := clients/js
DASHBOARD := dashboard
NPM := $(shell command -v npm 2>/dev/null)
# Compose v2 (`docker compose`) where installed, else v1 (`docker-compose`, Debian's package);
# `=`: looked up only by the targets that use it.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: help install run demo test lint format bench up down clean

help:
	@echo "make run | demo | test | lint | format | bench | up | down | clean"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml) $(wildcard services/*/pyproject.toml) clients/python/pyproject.toml | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

install: .venv/.synced $(JS_CLIENT)/node_modules/.install-stamp $(DASHBOARD)/dist/.build-stamp

# The TypeScript client from its lockfile (its `prepare` builds dist/); without npm its tests skip.
$(JS_CLIENT)/node_modules/.install-stamp: $(JS_CLIENT)/package-lock.json $(JS_CLIENT)/package.json
ifdef NPM
	cd $(JS_CLIENT) && npm ci --no-audit --no-fund
	@touch $@
else
	@echo "npm not found: the TypeScript client ($(JS_CLIENT)) is not installed; its tests will skip"
endif

# The dashboard from its lockfile (it links the client above), built into dashboard/dist,
# which the gateway serves at /; without npm the gateway redirects / to the API docs.
$(DASHBOARD)/dist/.build-stamp: $(DASHBOARD)/package-lock.json $(DASHBOARD)/package.json $(DASHBOARD)/index.html $(DASHBOARD)/vite.config.ts $(wildcard $(DASHBOARD)/src/*) $(JS_CLIENT)/node_modules/.install-stamp
ifdef NPM
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --ignore-scripts && npm run --silent build
	@touch $@
else
	@echo "npm not found: the dashboard ($(DASHBOARD)) is not built; the gateway's / shows the API docs"
endif

run: .venv/.synced
	$(VENV_PY) -m marketpulse_dev.supervisor

demo: .venv/.synced
	MP_SOURCE=simulated MP_SIM_SPEED=$${MP_SIM_SPEED:-60} $(VENV_PY) -m marketpulse_dev.supervisor

# The whole suite, then the system suite (tests/system) again with every product it starts on
# a local three-master Redis Cluster (MARKETPULSE_TEST_TOPOLOGY=cluster). PYTEST_ARGS apply to
# both passes (a pass they leave empty is fine: pytest's exit 5); CLUSTER_PASS= skips the second.
CLUSTER_PASS ?= tests/system
test: install
	$(VENV_PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$(CLUSTER_PASS)" ]; then \
	  echo "--- cluster pass: $(CLUSTER_PASS) on a local Redis Cluster"; \
	  MARKETPULSE_TEST_TOPOLOGY=cluster $(VENV_PY) -m pytest $(CLUSTER_PASS) $(PYTEST_ARGS) \
	    || [ $$? -eq 5 ]; \
	fi

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	@if [ -n "$(NPM)" ]; then cd $(JS_CLIENT) && npm run --silent lint; fi
	@if [ -n "$(NPM)" ]; then cd $(DASHBOARD) && npm run --silent lint; fi

format: .venv/.synced
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: install
	$(VENV_PY) bench/run_all.py $(BENCH_ARGS)

# The images carry the dashboard built here (see Dockerfile), so build it first when npm is there.
up: $(DASHBOARD)/dist/.build-stamp
	$(COMPOSE) up -d --build

down:
	$(COMPOSE) down

clean:
	rm -rf .venv .tools .run .mypy_cache .ruff_cache .pytest_cache $(JS_CLIENT)/node_modules $(JS_CLIENT)/dist \
		$(DASHBOARD)/node_modules $(DASHBOARD)/dist
