#!/usr/bin/env bash
# Set up everything the platform needs on a fresh Debian/Ubuntu machine with Python 3.11+:
# missing system packages (apt, non-interactive), the virtualenv and the pinned Python packages.
# Usage: scripts/bootstrap.sh [--for-tests]   (headless Chromium and PostgreSQL's server: only the tests need them)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

with_browser=false
case "${1:-}" in --with-browser|--for-tests) with_browser=true ;; esac

PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "Python 3.11 or newer is required (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

apt_install() {
  [ "$#" -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Need root or sudo to install: $*" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "Installing system packages: $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v redis-server >/dev/null || missing+=(redis-server)
if $with_browser; then
  command -v chromium >/dev/null || missing+=(chromium)
  # The tests also run on a PostgreSQL server of their own (tests/harness/postgres.py needs initdb).
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
fi
if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
  missing+=("python3-venv")
fi
apt_install "${missing[@]}"

# The Debian mosquitto package starts a broker on 1883 as a service; that is fine: the run command uses
# whatever answers there, and the tests start their own brokers on free ports.

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# The runtime (requirements.txt) and what scripts/run and the tests add (requirements-dev.txt); reinstalled only when
# either file changed since the last successful install.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
