# Sourced by scripts/test.sh: the real services some tests need, on loopback, for this run only.
#
# PostgreSQL, unless KB_TEST_POSTGRES_URL already names one: installs the Debian package if missing,
# creates a throwaway cluster in a temp folder (as the `postgres` user when run as root: PostgreSQL
# refuses to run as root), starts it on 127.0.0.1 on a free port, creates the database `kbtest`, and
# exports KB_TEST_POSTGRES_URL. `kb_stop_services` (trapped on exit by test.sh) stops it and removes it.

kb_stop_services() { :; }

if [ -z "${KB_TEST_POSTGRES_URL:-}" ]; then
  kb_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
  if [ -z "$(kb_pg_bin)" ]; then
    echo "== installing postgresql (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  KB_PG_BIN="$(kb_pg_bin)"
  KB_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kb-pg.XXXXXX")"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$KB_PG_DIR"
    kb_pg() { runuser -u postgres -- "$@"; }
  else
    kb_pg() { "$@"; }
  fi
  KB_PG_PORT="$("${BIN:-.venv/bin}/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "== starting postgresql on 127.0.0.1:$KB_PG_PORT"
  kb_pg "$KB_PG_BIN/initdb" -D "$KB_PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$KB_PG_DIR/initdb.log"
  # A throwaway test server: durability settings off, it is deleted on exit.
  kb_pg "$KB_PG_BIN/pg_ctl" -D "$KB_PG_DIR/data" -l "$KB_PG_DIR/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $KB_PG_PORT -k $KB_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  kb_pg "$KB_PG_BIN/createdb" -h 127.0.0.1 -p "$KB_PG_PORT" -U postgres kbtest
  export KB_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$KB_PG_PORT/kbtest"
  kb_stop_services() {
    kb_pg "$KB_PG_BIN/pg_ctl" -D "$KB_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$KB_PG_DIR"
  }
fi

# Headless Chromium for the browser tests (tests/browser, driven by playwright-python): the Debian
# packages, installed if missing (playwright's own browser download is never used).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# nginx for the production set-up's tests (tests/security/test_slow_clients.py, the scale-out test).
source scripts/nginx.sh
