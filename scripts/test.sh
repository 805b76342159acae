#!/usr/bin/env bash
# Runs the whole test suite: unit tests, real-pair tests (../shared/realpairs, or
# $SPOTDIFF_REALPAIRS; missing data fails, never skips), nuisance tests, SSIM against
# values computed with scikit-image, and end-to-end CLI tests.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets
