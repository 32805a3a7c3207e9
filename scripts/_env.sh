# Shared by scripts/demo and scripts/test: make .venv with Python >= 3.11 and install salcodec.
# Usage: source scripts/_env.sh [EXTRAS]   (EXTRAS e.g. "test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3 python3.13 python3.12 python3.11 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$cand"; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "salcodec: error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
SPEC="."
[ -n "${1:-}" ] && SPEC=".[$1]"
# Reinstall only when the project's metadata changed since the last install.
STAMP=".venv/.salcodec-installed-${1:-base}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  LOG=".venv/install.log"
  # Keep the build backend's chatter in a log; show it only if the install fails.
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install --disable-pip-version-check -e "$SPEC"; } >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    echo "salcodec: error: installing salcodec failed (full log: $LOG)" >&2
    exit 1
  fi
  touch "$STAMP"
fi
