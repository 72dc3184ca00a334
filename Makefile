# Gavel developer commands. `make run` serves the app; `make test` is what CI runs.
# Everything runs from the project venv (.venv), created and kept in sync with pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# GraphiQL's browser assets, fetched from the npm registry (git-ignored; see README).
GRAPHIQL := vendor/graphiql/PINS

.DEFAULT_GOAL := help
.PHONY: help venv browser run up test fmt schema bench bench-http bench-fanout reindex bench-search screenshots

help:
	@echo "make run     install (if needed), start embedded PostgreSQL + Redis + Stripe emulator, migrate, seed, serve"
	@echo "make test    install (if needed), lint, type-check, run the whole test suite"
	@echo "make up      only start the embedded servers (prints export lines)"
	@echo "make fmt     format and auto-fix lint"
	@echo "make schema  export the GraphQL schema"
	@echo "make venv    create/refresh .venv"
	@echo "make screenshots  the README's admin app screenshots (docs/screenshots/), from the seeded demo"

venv: $(STAMP) $(GRAPHIQL)

# Re-install only when pyproject.toml changed since the last successful install.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev,test]"
	touch $(STAMP)

# Pinned versions and checksums live in the script; a missing npm only warns (the page
# then says how to fetch them), so the API still installs and runs.
$(GRAPHIQL): schema/graphiql_assets.py | $(STAMP)
	$(PY) -m schema.graphiql_assets

# Debian's chromium for the browser tests (GraphiQL, the admin app), installed only where
# it is missing and apt-get exists; elsewhere those tests skip and say why.
browser:
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver || \
	   (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)) || \
	  echo "chromium could not be installed: the browser tests will skip"

run: venv
	$(PY) -m devservers run

up: venv
	$(PY) -m devservers up

test: venv browser
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

# Search (issue 16): rebuild the search index from PostgreSQL (build beside, then swap),
# on the servers `make run` started (same GAVEL_PG_PORT), or on DATABASE_URL when set.
reindex: venv
	$(PY) -m devservers tool services.search.reindex

# Search latency on 100,000 generated auctions, at the port and over HTTP (docs/performance.md).
bench-search: venv
	$(PY) -m bench.search

# The admin app's browser tests on the seeded demo, also writing the README's screenshots
# (docs/screenshots/; every page's are in the git-ignored test-artifacts/admin/).
screenshots: venv browser
	GAVEL_SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/e2e/test_admin_browser.py -q
