# TOM: `make serve` installs everything and answers calls; `make test` installs everything and runs the suite;
# `make lint` runs ruff and the type checker (mypy, configured in pyproject.toml).
# Both first install the system packages they need when missing (scripts/install-system-packages.sh,
# apt, with sudo when not root; it says what it installs and does nothing when all are present).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DIST   := dashboard/dist/index.html
DASH_SRC := $(shell find dashboard/src dashboard/index.html dashboard/package.json dashboard/package-lock.json dashboard/vite.config.ts -type f 2>/dev/null)

SYSTEM := scripts/install-system-packages.sh
# `make test` and CI: a test skipped for a missing system package fails instead (tests/conftest.py).
export TOM_REQUIRE_SYSTEM_PACKAGES ?= 1

.PHONY: install serve test lint bench bench-abuse redteam soak dashboard clean system-packages system-packages-serve

system-packages:
	$(SYSTEM) build test

system-packages-serve:
	$(SYSTEM) build serve

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel
	$(BIN)/pip install -e '.[dev]'
	# Smart Turn's ONNX model ships inside this wheel; only the file is used, not the framework
	$(BIN)/pip install --no-deps 'pipecat-ai==1.14.0'
	touch $@

dashboard: $(DIST)

$(DIST): $(DASH_SRC)
	cd dashboard && npm ci --no-audit --no-fund && npm run build

serve: system-packages-serve install dashboard
	$(BIN)/tom serve

# The SIP e2e files run in a pytest process of their own: PJSIP is process-wide state (one
# endpoint per process), so its tests start from a fresh process, not after a hundred others.
SIP_E2E = tests/e2e/test_sip_*.py
test: system-packages install dashboard
	cd dashboard && npm test
	$(BIN)/pytest -m "not slow" $(foreach f,$(wildcard $(SIP_E2E)),--ignore=$(f))
	$(BIN)/pytest -m "not slow" $(wildcard $(SIP_E2E))

soak: system-packages install
	$(BIN)/pytest -m slow -s --timeout 2700

lint: install
	$(BIN)/ruff check tom tests scripts
	$(BIN)/mypy

bench: install
	mkdir -p bench-results
	$(BIN)/tom bench --calls 10 --concurrency 1 --json bench-results/bench.json

# The issue-17 red-team against a real server on loopback (also part of `make soak`, marked slow).
redteam: system-packages install
	$(BIN)/pytest tests/e2e/test_redteam.py tests/redteam -q

bench-abuse: install
	mkdir -p bench-results
	$(BIN)/tom bench --abuse --json bench-results/abuse.json

clean:
	rm -rf $(VENV) dashboard/node_modules dashboard/dist .pytest_cache
