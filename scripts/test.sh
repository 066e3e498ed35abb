#!/usr/bin/env bash
# The whole test suite, as CI runs it (called by `make test`, after the .venv install).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ -x scripts/services.sh ]; then
  # Installs (Debian packages) and starts the real services some tests need, on loopback.
  source scripts/services.sh
  trap kb_stop_services EXIT
fi

echo "== lint"
$BIN/ruff check kb_engine indexer web tests
$BIN/ruff format --check kb_engine indexer web tests
$BIN/mypy kb_engine indexer web

echo "== tests"
set +e
# Two processes (pytest-xdist): 11 min instead of 18 on the 2-core machine. `--dist loadscope` keeps a
# module's tests in one process, so a module's fixtures (the e5 index of tests/test_quality.py) are built once.
$BIN/python -m pytest -p no:cacheprovider -n "${KB_TEST_PROCESSES:-2}" --dist loadscope "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
