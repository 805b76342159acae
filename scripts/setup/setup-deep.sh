#!/usr/bin/env bash
# Set up the deep-feature backbone; idempotent and silent when nothing is left to do.
#   1. Python venv at .deps/venv with the pinned packages of scripts/setup/requirements-deep.txt
#   2. ONNX Runtime shared library for the `ort` crate (load-dynamic):
#      .deps/onnxruntime/libonnxruntime.so -> libonnxruntime.so.1.31.1
#   3. models/efficientnet-lite0.onnx, rebuilt when missing or when its SHA-256 differs
#      from models/efficientnet-lite0.json
# Prints one line per step it performs; on failure one line on stderr and exit status 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.deps/venv
PY=$VENV/bin/python
REQS=scripts/setup/requirements-deep.txt
ORT_VERSION=1.31.1
ORT_DIR=.deps/onnxruntime
ORT_LIB=libonnxruntime.so.$ORT_VERSION
MANIFEST=models/efficientnet-lite0.json
MODEL=models/efficientnet-lite0.onnx
LOG=.deps/setup-deep.log  # output of the last run's pip / build steps

step() { echo "setup-deep: $*"; }
fail() { echo "setup-deep: error: $*" >&2; exit 1; }
mkdir -p .deps
: >"$LOG"
trap 'fail "unexpected failure at line $LINENO (see $LOG)"' ERR

# 1. venv and pinned packages
if ! "$PY" -c '' 2>/dev/null; then
    step "creating Python venv at $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >>"$LOG" 2>&1; then
        # Debian's python3 ships venv (ensurepip) as a separate package.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            step "installing python3-venv with apt-get"
            rm -rf "$VENV"
            apt-get update -qq >>"$LOG" 2>&1
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >>"$LOG" 2>&1
            python3 -m venv "$VENV" >>"$LOG" 2>&1 || fail "python3 -m venv $VENV failed (see $LOG)"
        else
            fail "python3 -m venv $VENV failed (see $LOG; on Debian: apt-get install python3-venv)"
        fi
    fi
fi
pins_ok() {
    "$PY" - "$REQS" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(name) != want:
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

# 2. ONNX Runtime shared library from the onnxruntime wheel
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
src=$site/onnxruntime/capi/$ORT_LIB
[ -f "$src" ] || fail "$src not found in the onnxruntime wheel"
if ! cmp -s "$src" "$ORT_DIR/$ORT_LIB"; then
    step "copying $ORT_LIB to $ORT_DIR/ (ORT_DYLIB_PATH=$PWD/$ORT_DIR/libonnxruntime.so)"
    mkdir -p "$ORT_DIR"
    cp "$src" "$ORT_DIR/$ORT_LIB.tmp" && mv -f "$ORT_DIR/$ORT_LIB.tmp" "$ORT_DIR/$ORT_LIB" \
        || fail "could not copy $src to $ORT_DIR"
fi
if [ "$(readlink "$ORT_DIR/libonnxruntime.so" 2>/dev/null)" != "$ORT_LIB" ]; then
    step "linking $ORT_DIR/libonnxruntime.so -> $ORT_LIB"
    ln -sfn "$ORT_LIB" "$ORT_DIR/libonnxruntime.so" || fail "could not create the symlink in $ORT_DIR"
fi

# 3. EfficientNet-Lite0 ONNX model, pinned by SHA-256
[ -f "$MANIFEST" ] || fail "$MANIFEST is missing"
want=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha256"])' "$MANIFEST") \
    || fail "cannot read sha256 from $MANIFEST"
have=$( [ -f "$MODEL" ] && sha256sum "$MODEL" | cut -d' ' -f1 || true)
if [ "$have" != "$want" ]; then
    step "building $MODEL"
    "$PY" scripts/models/build-efficientnet-lite0.py --out "$MODEL" >>"$LOG" 2>&1 \
        || fail "$(tail -n 1 "$LOG")"
    have=$(sha256sum "$MODEL" | cut -d' ' -f1)
    [ "$have" = "$want" ] || fail "built $MODEL has sha256 $have, manifest says $want"
fi
