# TOM: `make serve` installs everything and answers calls; `make test` installs everything and runs the suite;
# `make lint` runs ruff and the type checker (mypy, configured in pyproject.toml).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DIST   := dashboard/dist/index.html
DASH_SRC := $(shell find dashboard/src dashboard/index.html dashboard/package.json dashboard/package-lock.json dashboard/vite.config.ts -type f 2>/dev/null)

.PHONY: install serve test lint bench soak dashboard clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel
	$(BIN)/pip install -e '.[dev]'
	touch $@

dashboard: $(DIST)

$(DIST): $(DASH_SRC)
	cd dashboard && npm ci --no-audit --no-fund && npm run build

serve: install dashboard
	$(BIN)/tom serve

test: install dashboard
	cd dashboard && npm test
	$(BIN)/pytest -m "not slow"

soak: install
	$(BIN)/pytest -m slow -s

lint: install
	$(BIN)/ruff check tom tests scripts
	$(BIN)/mypy

bench: install
	mkdir -p bench-results
	$(BIN)/tom bench --calls 10 --concurrency 1 --json bench-results/bench.json

clean:
	rm -rf $(VENV) dashboard/node_modules dashboard/dist .pytest_cache
