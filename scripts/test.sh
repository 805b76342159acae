#!/usr/bin/env bash
# Runs the whole test suite: unit tests, real-pair tests (../shared/realpairs, or
# $SPOTDIFF_REALPAIRS; missing data fails, never skips), nuisance tests, SSIM against
# values computed with scikit-image, end-to-end CLI tests, the web API tests, and the
# web page in headless Chromium (tests/e2e/run.sh; installs chromium and the npm
# packages when missing).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets
bash tests/e2e/run.sh
