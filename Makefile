# papertide task runner: `make demo`, `make test`, `make lint`. Needs only python3 (3.11+).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STAMP_ST := $(VENV)/.installed-st
DEMO_DATA ?= .demo-data
PYTEST_ARGS ?=

.PHONY: demo test test-slow lint format bench clean services

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "papertide needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# The tests also run the sentence-transformers embedder (extra `st`: torch, CPU build).
$(STAMP_ST): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,st]'
	touch $(STAMP_ST)

## demo: install, import the bundled sample papers (with sample votes), serve :8000
demo: $(STAMP)
	PAPERTIDE_DATA_DIR=$(DEMO_DATA) $(BIN)/papertide demo
	PAPERTIDE_DATA_DIR=$(DEMO_DATA) $(BIN)/papertide serve --host 127.0.0.1 --port 8000

## services: install and start what the tests talk to (PostgreSQL on a private socket)
services: $(STAMP)
	bash scripts/services.sh

## test: install, start the test services, run every test
test: $(STAMP_ST) services
	. ./.services.env 2>/dev/null; $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

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

bench: $(STAMP)
	$(BIN)/papertide bench ingest --papers 100000

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache .services.env
