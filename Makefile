# Inloop's one front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
INLOOP_HOME ?= .inloop
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help setup run test lint format bench browsers clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Install uv if missing, then the project and its dev tools (from uv.lock)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --all-extras --frozen --quiet

run: setup ## Start Inloop on http://127.0.0.1:8000 with its embedded SQLite
	@mkdir -p $(INLOOP_HOME)
	@test -s $(INLOOP_HOME)/admin-token || (umask 077; python3 -c "import secrets; print('adm_' + secrets.token_urlsafe(32))" > $(INLOOP_HOME)/admin-token)
	@echo "Admin credentials (Bearer token, kept in $(INLOOP_HOME)/admin-token):"
	@echo "  export INLOOP_URL=http://$(HOST):$(PORT) INLOOP_TOKEN=$$(cat $(INLOOP_HOME)/admin-token)"
	@echo "The desk: http://$(HOST):$(PORT)/desk (sign in as admin; the password is printed below and kept in $(INLOOP_HOME)/admin-password)"
	@INLOOP_ADMIN_TOKEN=$$(cat $(INLOOP_HOME)/admin-token) INLOOP_ADMIN_PASSWORD_FILE=$(INLOOP_HOME)/admin-password $(UV) run inloop serve --host $(HOST) --port $(PORT)

test: setup browsers lint ## Install everything, check lint and types, run the whole suite
	@$(UV) run pytest -q -n auto --durations=15

lint: setup ## ruff, the formatter's check, mypy (strict) and the import rules
	@$(UV) run ruff check src tests benchmarks
	@$(UV) run ruff format --check src tests benchmarks
	@$(UV) run mypy
	@$(UV) run lint-imports

format: setup ## Format and autofix
	@$(UV) run ruff format src tests benchmarks
	@$(UV) run ruff check --fix src tests benchmarks

bench: setup ## Run the benchmarks and print their tables (BENCH_ARGS=--quick for a smoke run)
	@$(UV) sync --all-extras --group compare --frozen --quiet
	@$(UV) run --all-extras --group compare python -m benchmarks $(BENCH_ARGS)

browsers: ## Install Debian's chromium for the browser tests, when it is missing
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

clean: ## Remove caches (keeps .inloop, the local database)
	rm -rf .pytest_cache .mypy_cache .ruff_cache benchmarks/results
