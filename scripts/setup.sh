#!/usr/bin/env bash
# Set up dbrain on a fresh Debian machine with Python 3.11: system libraries for
# the PDF report (Pango, fonts), a virtual environment in .venv, and dbrain.
#   bash scripts/setup.sh          runtime only
#   bash scripts/setup.sh test     runtime + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"

need_apt=()
ldconfig -p | grep -q 'libpango-1.0.so' || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p | grep -q 'libharfbuzz-subset.so' || need_apt+=(libharfbuzz-subset0)
{ command -v fc-list >/dev/null && [ -n "$(fc-list 2>/dev/null | head -n 1)" ]; } || need_apt+=(fontconfig fonts-dejavu-core)
if [ "$extra" = "test" ]; then
  command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)  # the viewer's Playwright end-to-end test
  command -v redis-server >/dev/null || need_apt+=(redis-server)  # two web processes sharing one login throttle
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$extra" = "test" ]; then
  .venv/bin/python -m pip install -q -e ".[server,batch,test]"
else
  .venv/bin/python -m pip install -q -e ".[server,batch]"
fi
