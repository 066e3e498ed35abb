# Two entry points: `make run` (install, index the bundled articles, serve on :5000) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint lock clean

# Installs exactly the set in constraints.txt (the lock file CI verified), with the PostgreSQL extra.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: 2.13.0 is the local CPU build; resolved along with the rest, pip could pick CUDA wheels.
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,postgres]' 'psycopg[binary]'
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
	$(BIN)/mypy kb_engine indexer web

# Re-resolve constraints.txt after changing a dependency in pyproject.toml or constraints.in.
lock: install
	$(BIN)/uv pip compile pyproject.toml constraints.in --extra dev --extra postgres \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-emit-package kb-engine \
		--custom-compile-command 'make lock' --quiet -o constraints.txt

clean:
	rm -rf $(VENV) instance/index .pytest_cache
