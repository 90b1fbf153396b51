# papertide task runner: `make demo`, `make test`, `make lint`. Needs only python3 (3.11+).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STAMP_ST := $(VENV)/.installed-st
DEMO_DATA ?= .demo-data
PYTEST_ARGS ?=

.PHONY: demo test test-slow lint lock format bench clean services screenshots

# Installs read the lock files in requirements/ (every package pinned; `make lock` writes
# them from pyproject.toml), through uv when it can be had, else pip: scripts/install.sh.
LOCK_DEV := requirements/dev.txt
LOCK_ST  := requirements/st.txt
UV_VERSION ?= 0.13.8
# Where pip finds wheels that are not on PyPI (the CPU build of torch, on this project's machines)
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))

$(STAMP): pyproject.toml $(LOCK_DEV)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "papertide needs Python 3.11+"'
	PYTHON=$(PYTHON) UV_VERSION=$(UV_VERSION) bash scripts/install.sh $(VENV) $(LOCK_DEV)
	touch $(STAMP)

# The tests also run the sentence-transformers embedder (extra `st`: torch, CPU build).
$(STAMP_ST): $(STAMP) $(LOCK_ST)
	PYTHON=$(PYTHON) UV_VERSION=$(UV_VERSION) bash scripts/install.sh $(VENV) $(LOCK_ST)
	touch $(STAMP_ST)

## lock: pin every dependency again from pyproject.toml (needs uv: the venv's, or on PATH)
lock: $(STAMP)
	$(eval UV := $(shell command -v uv || echo $(VENV)/uv-boot/bin/uv))
	$(UV) pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 \
		--no-header --annotation-style line -o $(LOCK_DEV)
	$(UV) pip compile pyproject.toml --extra dev --extra postgres --extra st \
		--python-version 3.11 $(foreach d,$(FIND_LINKS),--find-links $(d)) \
		--no-header --annotation-style line -o $(LOCK_ST)

## demo: install, import the bundled sample papers (with sample votes), serve :8000
demo: $(STAMP)
	PAPERTIDE_DATA_DIR=$(DEMO_DATA) $(BIN)/papertide demo
	PAPERTIDE_DATA_DIR=$(DEMO_DATA) $(BIN)/papertide serve --host 127.0.0.1 --port 8000

## services: install and start what the tests talk to (PostgreSQL on a private socket)
services: $(STAMP)
	bash scripts/services.sh

# CI (CI=true, set by .ci/run) runs the slow tests too: the one there is takes ~95 s of one
# worker on the 2-core machine.
CI_MARKS := $(if $(CI),-m "slow or not slow",)

## test: install, start the test services, run every test (under CI the slow ones too)
test: $(STAMP_ST) services
	. ./.services.env 2>/dev/null; $(BIN)/python -m pytest -n 2 $(CI_MARKS) $(PYTEST_ARGS)

## test-slow: the benchmark-size checks too
test-slow: $(STAMP_ST) services
	. ./.services.env 2>/dev/null; $(BIN)/python -m pytest -n 2 -m "slow or not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

## screenshots: render the README's screenshots (docs/screenshots) from a fresh demo in Chromium
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots --only day paper

bench: $(STAMP)
	$(BIN)/papertide bench ingest --papers 100000

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache .services.env
