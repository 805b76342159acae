#!/usr/bin/env bash
# Python venv for the evaluation (scripts/eval/make-evalset.py, scripts/eval/classic-eval.py, plots):
# .deps/eval-venv with the pinned packages of scripts/eval/requirements.txt (from PyPI).
# Idempotent and silent when nothing is left to do; on failure one line on stderr, exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.deps/eval-venv
PY=$VENV/bin/python
REQS=scripts/eval/requirements.txt
LOG=.deps/setup-eval.log
mkdir -p .deps
fail() { echo "setup-eval: error: $*" >&2; exit 1; }
if ! "$PY" -c '' 2>/dev/null; then
    echo "setup-eval: creating Python venv at $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >"$LOG" 2>&1 || fail "python3 -m venv $VENV failed (see $LOG)"
fi
if ! "$PY" -c 'import skimage, sklearn, cv2, matplotlib, PIL' 2>/dev/null \
    || [ "$("$PY" -m pip freeze 2>/dev/null | grep -ci '^scikit-image==0.26.0$')" != 1 ]; then
    echo "setup-eval: installing pinned packages from $REQS into $VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQS" >>"$LOG" 2>&1 \
        || fail "pip install -r $REQS failed (see $LOG)"
fi
