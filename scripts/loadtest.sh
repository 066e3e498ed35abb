#!/usr/bin/env bash
# Load test: the production set-up (nginx + gunicorn, web/production.py) on 127.0.0.1 with the bundled
# articles' index, then scripts/loadtest.py (peak, half-peak sustained with p99 < 150 ms, 64 clients for 60 s, 0 errors).
# About 2.5 minutes. Usage: scripts/loadtest.sh [--uncached] [loadtest.py options]; the JSON report is
# also written to test-artifacts/loadtest.json (test-artifacts/loadtest-uncached.json with --uncached:
# the server then runs without its search cache, every request is a full search).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PORT=${KB_LOADTEST_PORT:-$($BIN/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
WORK=$(mktemp -d)
export KB_INDEX_DIR=${KB_INDEX_DIR:-instance/index}
export KB_DATABASE_URL="sqlite:///$WORK/load.sqlite3" KB_INSTANCE_DIR="$WORK/instance"
# The generator is one address standing for many customers: nginx's per-address limits are lifted for it
# (the limits themselves are tested by tests/security/test_slow_clients.py).
export KB_NGINX_CONN_PER_ADDRESS=${KB_NGINX_CONN_PER_ADDRESS:-1000}
export KB_NGINX_RATE=${KB_NGINX_RATE:-100000} KB_NGINX_BURST=${KB_NGINX_BURST:-100000}
source scripts/nginx.sh
REPORT=test-artifacts/loadtest.json
if [ "${1:-}" = "--uncached" ]; then
  export KB_SEARCH_CACHE_SIZE=0
  REPORT=test-artifacts/loadtest-uncached.json
fi
[ -e "$KB_INDEX_DIR/current" ] || $BIN/kb index --index-dir "$KB_INDEX_DIR"
$BIN/python -m web.production --port "$PORT" --prefix "$WORK/nginx" >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 1
done
sleep 2  # every worker warm (post_worker_init answers one query first)
mkdir -p test-artifacts
set +e
$BIN/python scripts/loadtest.py --url "http://127.0.0.1:$PORT" "$@" | tee "$REPORT"
status=${PIPESTATUS[0]}
set -e
# grep -c exits 1 when it counts 0 lines: that is the good case, not a failure of the run.
echo "server log lines with error/exception: $(grep -ciE "error|exception" "$WORK/nginx/gunicorn.log" || true)"
exit "$status"
