# Gavel developer commands. `make run` serves the app; `make test` is what CI runs.
# Everything runs from the project venv (.venv), created and kept in sync with pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run up test fmt schema bench bench-http bench-fanout

help:
	@echo "make run     install (if needed), start embedded PostgreSQL + Redis, migrate, seed, serve"
	@echo "make test    install (if needed), lint, type-check, run the whole test suite"
	@echo "make up      only start the embedded servers (prints export lines)"
	@echo "make fmt     format and auto-fix lint"
	@echo "make schema  export the GraphQL schema"
	@echo "make venv    create/refresh .venv"

venv: $(STAMP)

# Re-install only when pyproject.toml changed since the last successful install.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[test]"
	touch $(STAMP)

run: venv
	$(PY) -m devservers run

up: venv
	$(PY) -m devservers up

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) -m pytest

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: venv
	$(PY) -m schema.export

bench: venv
	@command -v redis-benchmark >/dev/null || (apt-get install -y -q redis-tools || (apt-get update -q && apt-get install -y -q redis-tools))
	$(PY) -m bench.engine

bench-http: venv
	@command -v wrk >/dev/null || (apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk))
	$(PY) -m bench.http

bench-fanout: venv
	$(PY) -m bench.fanout
