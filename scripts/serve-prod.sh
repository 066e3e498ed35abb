#!/usr/bin/env bash
# The production set-up on one machine: nginx (deploy/nginx.conf) in front of gunicorn (web/gunicorn.conf.py).
#
#   scripts/serve-prod.sh [--host 127.0.0.1] [--port 8080] [--prefix DIR]
#
# Installs the Debian `nginx` package if it is missing (as root), brings the index up if `KB_INDEX_DIR` has
# none, then runs web/production.py: gunicorn on a free loopback port that only nginx talks to
# (`KB_TRUSTED_PROXIES=127.0.0.1`), nginx on --host:--port with the per-address limits of the `KB_NGINX_*`
# variables (README "Production deployment"). Stops both on Ctrl-C / SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false

source scripts/nginx.sh

export KB_INDEX_DIR=${KB_INDEX_DIR:-instance/index}
[ -e "$KB_INDEX_DIR/current" ] || "$BIN/kb" index --index-dir "$KB_INDEX_DIR"
exec "$BIN/python" -m web.production "$@"
