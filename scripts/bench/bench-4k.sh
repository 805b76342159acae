#!/usr/bin/env bash
# The pixel method at 4K against odiff (issue 12's speed target: at most 0.5x odiff's
# wall time, end to end writing the mask), on the two 4K pairs of make-pairs.py: `4k`
# (three edits, 2.8 % of the pixels) and `4k-large` (five large edits, 10 %, among
# them a faint tint and a blur). Round-robin runs (interleave.py), so each round's
# ratio compares runs made under the same machine load; prints the median ratio and
# the median wall times.
#
#   bash scripts/bench/bench-4k.sh [ROUNDS]        (default 7)
#
# BENCH_SPOTDIFF=PATH times that binary (default target/release/spotdiff, built);
# BENCH_BASELINE=PATH adds an older binary to the same rounds. odiff is the native
# binary of npm @odiff/linux-x64 (the one scripts/eval/ui's npm ci installs, or
# bench.sh's); the pairs are made with .deps/eval-venv (scripts/setup/setup-eval.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-7}"
DATA=bench-data
PY=.deps/eval-venv/bin/python
die() { echo "bench-4k: error: $*" >&2; exit 2; }
[[ -x "$PY" ]] || bash scripts/setup/setup-eval.sh
ODIFF=""
for c in .deps/bench/node/node_modules/@odiff/linux-x64/odiff scripts/eval/ui/node_modules/@odiff/linux-x64/odiff; do
    [[ -x "$c" ]] && ODIFF="$c" && break
done
if [[ -z "$ODIFF" ]]; then
    (cd scripts/eval/ui && npm ci --no-audit --no-fund --silent >&2)
    ODIFF=scripts/eval/ui/node_modules/@odiff/linux-x64/odiff
    [[ -x "$ODIFF" ]] || die "odiff's native binary is missing ($ODIFF)"
fi
SPOTDIFF="${BENCH_SPOTDIFF:-target/release/spotdiff}"
if [[ -z "${BENCH_SPOTDIFF:-}" ]]; then
    cargo build --release --quiet
fi
for p in 4k 4k-large; do
    if [[ ! -f "$DATA/$p/b.png" || scripts/bench/make-pairs.py -nt "$DATA/$p/b.png" ]]; then
        "$PY" scripts/bench/make-pairs.py --out "$DATA" --sizes "$p" >&2
    fi
done
mkdir -p "$DATA/results" "$DATA/out"
for p in 4k 4k-large; do
    A="$DATA/$p/a.png" B="$DATA/$p/b.png"
    cmds=("spotdiff" "$SPOTDIFF compare $A $B --method pixel --out $DATA/out/4k-bench-$p --write mask")
    if [[ -n "${BENCH_BASELINE:-}" ]]; then
        cmds+=("baseline" "$BENCH_BASELINE compare $A $B --method pixel --out $DATA/out/4k-bench-base-$p --write mask")
    fi
    cmds+=("odiff" "$ODIFF $A $B $DATA/out/4k-bench-$p-odiff.png")
    "$PY" scripts/bench/interleave.py --rounds "$ROUNDS" --out "$DATA/results/4k-$p.json" "${cmds[@]}"
    "$PY" - "$DATA/results/4k-$p.json" "$p" <<'PYEOF'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
runs = r["runs"]
med = {k: statistics.median(x["wall"] for x in v) for k, v in runs.items()}
line = [f"{sys.argv[2]}: {r['rounds']} rounds, load {r['load'][0]:.1f}-{r['load'][1]:.1f}"]
for k in runs:
    line.append(f"{k} {med[k]:.2f} s")
    if k != "odiff":
        ratios = [a["wall"] / b["wall"] for a, b in zip(runs[k], runs["odiff"])]
        line.append(f"{k}/odiff {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
print("; ".join(line))
PYEOF
done
