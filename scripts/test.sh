#!/usr/bin/env bash
# Runs the whole test suite: unit tests, real-pair tests (../shared/realpairs, or
# $SPOTDIFF_REALPAIRS; missing data fails, never skips), nuisance tests, SSIM against
# values computed with scikit-image, deep-feature tests, end-to-end CLI tests, the web
# API tests, and the web page in headless Chromium (tests/e2e/run.sh; installs chromium
# and the npm packages when missing). First it installs what the deep tests need
# (idempotent, quiet when done): ONNX Runtime and the offline EfficientNet-Lite0
# backbone (scripts/setup/setup-deep.sh) and the random-weight ResNet50 topology fixture.
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
bash tests/e2e/run.sh
