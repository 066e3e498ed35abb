# Two entry points: `make run` (install, index the bundled articles, serve on :5000) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch pinned first: 2.13.0 is the local CPU build; an unpinned torch would pull CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/kb index
	$(BIN)/kb serve --host 127.0.0.1 --port 5000

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check kb_engine indexer web tests
	$(BIN)/ruff format --check kb_engine indexer web tests
	$(BIN)/mypy kb_engine

clean:
	rm -rf $(VENV) instance/index .pytest_cache
