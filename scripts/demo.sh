#!/usr/bin/env bash
# Sets up what spotdiff needs (ONNX Runtime and the offline EfficientNet-Lite0
# backbone, into the git-ignored .deps/ and models/, skipped when present), builds
# spotdiff and runs it on the bundled example pair, writing every picture to
# out/demo/. Safe to run again. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== setting up the deep-feature backbone (ONNX Runtime + EfficientNet-Lite0)"
bash scripts/setup/setup-deep.sh
echo "== building spotdiff (release)"
cargo build --release --quiet
echo "== comparing examples/before.png with examples/after.png"
set +e
./target/release/spotdiff compare examples/before.png examples/after.png --out out/demo
code=$?
set -e
case $code in
  0) echo "== no difference found (exit 0)";;
  1) echo "== differences found (exit 1); open out/demo/side_by_side.png";;
  *) echo "== spotdiff failed (exit $code)" >&2; exit "$code";;
esac
