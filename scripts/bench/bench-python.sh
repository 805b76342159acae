#!/usr/bin/env bash
# Pairs per second on the same pairs: `spotdiff batch` (release binary), the Python
# package in one process (1 thread, one thread per core) and spotdiff.ray with 1 and 2
# workers on a local Ray cluster. Prints a Markdown table (BENCHMARKS.md, "Python and
# Ray"); progress on stderr.
#
#   bash scripts/bench/bench-python.sh               (N=48 pairs per case, RUNS=1)
#   N=96 RUNS=3 bash scripts/bench/bench-python.sh
#   EXT=debug bash scripts/bench/bench-python.sh     (keep the test build of the extension)
#
# Builds the release CLI and the release extension into .deps/py-venv
# (scripts/setup/setup-python.sh --release; the next test run puts the debug build back).
# EXT=debug keeps the test build instead (the library and every dependency at
# opt-level 2, only the thin binding unoptimised; no thin LTO).
# Pairs: N copies of examples/before.png / after.png in bench-data/python (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-48}
RUNS=${RUNS:-1}
cargo build --release --quiet
if [ "${EXT:-release}" = release ]; then
    bash scripts/setup/setup-python.sh --release
else
    bash scripts/setup/setup-python.sh
fi
.deps/py-venv/bin/python scripts/bench/bench-python.py --pairs "$N" --runs "$RUNS" \
    --bin target/release/spotdiff --data bench-data/python
