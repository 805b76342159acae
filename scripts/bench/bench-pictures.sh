#!/usr/bin/env bash
# What writing all six pictures of the 4K benchmark pair costs, from the release
# binary: the wall time its own --timings reports for the pictures, and the CPU time
# (user + sys) of the whole run with --out minus that of the same run without it;
# medians of RUNS runs each. BENCHMARKS.md ("Pictures") records its output.
# Usage: bash scripts/bench/bench-pictures.sh [RUNS] [BINARY]
#   (the pair comes from `scripts/bench/make-pairs.py --sizes 4k`, in bench-data/ or
#   $BENCH_DATA)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-7}"
bin="${2:-target/release/spotdiff}"
pair="${BENCH_DATA:-bench-data}/4k"
[ -f "$pair/a.png" ] || { echo "bench-pictures: no $pair/a.png (run scripts/bench/make-pairs.py --sizes 4k)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
walls=(); with=(); without=()
for _ in $(seq "$runs"); do
    /usr/bin/time -o "$out/t" -f "%U %S" "$bin" compare "$pair/a.png" "$pair/b.png" --method pixel \
        --out "$out/pics" --timings >/dev/null 2>"$out/err" || true
    walls+=("$(sed -nE 's/.*pictures ([0-9.]+).*/\1/p' "$out/err")")
    with+=("$(tail -1 "$out/t" | awk '{ print $1 + $2 }')")
    /usr/bin/time -o "$out/t" -f "%U %S" "$bin" compare "$pair/a.png" "$pair/b.png" --method pixel \
        >/dev/null 2>/dev/null || true
    without+=("$(tail -1 "$out/t" | awk '{ print $1 + $2 }')")
done
wall="$(printf '%s\n' "${walls[@]}" | median)"
cpu_with="$(printf '%s\n' "${with[@]}" | median)"
cpu_without="$(printf '%s\n' "${without[@]}" | median)"
bytes="$(du -cb "$out"/pics/*.png | tail -1 | cut -f1)"
echo "$(basename "$bin"): pictures wall ${wall} ms (median of $runs, --timings); CPU ${cpu_with} s with --out, ${cpu_without} s without: $(awk -v a="$cpu_with" -v b="$cpu_without" 'BEGIN { printf "%.2f", a - b }') s for the pictures; $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB written; load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
