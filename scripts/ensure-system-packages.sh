#!/usr/bin/env bash
# Makes sure the machine has what Majlis cannot pip-install: Python 3.11+ and the
# PostgreSQL server binaries, and Chromium for the browser tests. As root on
# Debian/Ubuntu it installs them itself; otherwise it says in one line what to
# install and fails.
set -euo pipefail

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Majlis needs Python 3.11 or newer as python3 (apt-get install python3 python3-venv)." >&2
  exit 1
fi

have_postgres() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then
    return 0
  fi
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

ensure_postgres() {
  have_postgres && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries not found: installing the 'postgresql' package..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >/dev/null; }
    # Debian starts a system cluster on install; Majlis runs its own, so leave that one stopped.
    if command -v service >/dev/null 2>&1; then service postgresql stop >/dev/null 2>&1 || true; fi
    have_postgres && return 0
  fi
  echo "PostgreSQL server binaries not found: install them with 'apt-get install postgresql' (or set DATABASE_URL)." >&2
  exit 1
}

# The browser tests (tests/e2e) drive Debian's Chromium through Playwright; nothing is
# downloaded. Thai fonts only make Thai text legible in screenshots, so they are
# installed when we can and never required.
ensure_chromium() {
  local thai_fonts=/usr/share/fonts/truetype/tlwg
  [ -x /usr/bin/chromium ] && [ -d "$thai_fonts" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium and Thai fonts for the browser tests..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-thai-tlwg >/dev/null \
      || { apt-get update -q >/dev/null \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-thai-tlwg >/dev/null; }
  fi
  [ -x /usr/bin/chromium ] && return 0
  echo "Chromium not found (needed by the browser tests): install it with 'apt-get install chromium'." >&2
  exit 1
}

ensure_postgres
ensure_chromium
