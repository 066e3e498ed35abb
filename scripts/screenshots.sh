#!/bin/sh
# Refresh the README's screenshots of the support console (docs/screenshots/): a small demo desk served on
# loopback, every console page at 1280 and 390 px, and the customer's known-issue banner in EN and FR,
# taken in headless Chromium (tests/browser/test_screenshots.py; needs /usr/bin/chromium).
#   scripts/screenshots.sh [output folder]
set -eu
cd "$(dirname "$0")/.."
out="${1:-docs/screenshots}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
KB_SCREENSHOTS_DIR="$out" "${BIN:-.venv/bin}/python" -m pytest -q -p no:cacheprovider tests/browser/test_screenshots.py
echo "screenshots in $out"
