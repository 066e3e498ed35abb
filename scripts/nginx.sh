# Sourced by scripts/serve-prod.sh, scripts/loadtest.sh and scripts/services.sh: the Debian `nginx`
# package, installed if missing. Only the binary is used: web/production.py runs it with its own config
# (deploy/nginx.conf) under a private prefix; the package's own service is never started.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "nginx is not installed: run 'apt-get install nginx' as root" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "== installing nginx (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d may refuse to start the packaged service: that is fine, it is not used.
  apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
