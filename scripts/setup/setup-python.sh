#!/usr/bin/env bash
# Set up the Python package's build and test environment; idempotent.
#   1. Python venv at .deps/py-venv with the pinned packages of python/requirements-test.txt
#      (maturin, pytest, numpy, pillow, ray[data] and their dependencies), installed
#      only when a pin is not met
#   2. the extension (python/, PyO3 + maturin) built and installed into it, editable,
#      with `maturin develop`: a debug build whose dependencies (the spotdiff library
#      among them) are optimised, in target/ beside the crate's own builds so that the
#      compiled dependencies are shared. `--release` builds it optimised instead.
# Usage: bash scripts/setup/setup-python.sh [--release]
# Prints one line per step it performs; on failure one line on stderr and exit status 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.deps/py-venv
PY=$VENV/bin/python
REQS=python/requirements-test.txt
LOG=.deps/setup-python.log  # output of the last run's pip / build steps
RELEASE=()
[ "${1:-}" = "--release" ] && RELEASE=(--release)

step() { echo "setup-python: $*"; }
fail() { echo "setup-python: error: $*" >&2; exit 1; }
mkdir -p .deps
: >"$LOG"
trap 'fail "unexpected failure at line $LINENO (see $LOG)"' ERR

# 1. venv and pinned packages
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
    step "creating Python venv at $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >>"$LOG" 2>&1 \
        || fail "python3 -m venv $VENV failed (see $LOG; on Debian: apt-get install python3-venv)"
fi
pins_ok() {
    "$PY" - "$REQS" <<'PYEOF' 2>/dev/null
import re, sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(re.sub(r"\[.*\]", "", name)) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PYEOF
}
if ! pins_ok; then
    step "installing pinned packages from $REQS into $VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQS" >>"$LOG" 2>&1 \
        || fail "pip install -r $REQS failed (see $LOG)"
    pins_ok || fail "installed packages do not match $REQS (see $LOG)"
fi

# 2. the extension, editable (maturin puts spotdiff/_spotdiff.abi3.so beside the sources)
step "building the extension (maturin develop ${RELEASE[*]:-})"
VIRTUAL_ENV=$PWD/$VENV CARGO_TARGET_DIR=$PWD/target PATH=$PWD/$VENV/bin:$PATH \
    "$VENV/bin/maturin" develop --quiet -m python/Cargo.toml "${RELEASE[@]}" >>"$LOG" 2>&1 \
    || fail "maturin develop failed (see $LOG)"
"$PY" -c 'import spotdiff' >>"$LOG" 2>&1 || fail "the built package does not import (see $LOG)"
