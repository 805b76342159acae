#!/usr/bin/env bash
# Time of writing all six pictures of the 4K benchmark pair, from the release binary's
# own --timings ("pictures" ms), median of N runs. BENCHMARKS.md ("Pictures") records
# its output.
# Usage: bash scripts/bench/bench-pictures.sh [RUNS] [BINARY]
#   (the pair comes from scripts/bench/make-pairs.py --sizes 4k into bench-data/)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-7}"
bin="${2:-target/release/spotdiff}"
pair="${BENCH_DATA:-bench-data}/4k"
[ -f "$pair/a.png" ] || { echo "bench-pictures: no $pair/a.png (run scripts/bench/make-pairs.py --sizes 4k)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
times=()
for _ in $(seq "$runs"); do
    line="$("$bin" compare "$pair/a.png" "$pair/b.png" --method pixel --out "$out" --timings 2>&1 >/dev/null | grep timings || true)"
    times+=("$(sed -E 's/.*pictures ([0-9.]+).*/\1/' <<<"$line")")
done
sizes="$(du -cb "$out"/*.png | tail -1 | cut -f1)"
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v bytes="$sizes" '
    { t[NR] = $1 }
    END { printf "pictures (all six, 4K pair): median %.0f ms, min %.0f, max %.0f over %d runs; %.1f MB written\n",
          t[int((NR + 1) / 2)], t[1], t[NR], runs, bytes / 1e6 }'
