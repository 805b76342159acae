#!/usr/bin/env bash
# Load test of `spotdiff serve` on loopback: builds the release binary, starts the
# server on a free port, sends REQUESTS comparisons from CLIENTS concurrent clients
# (examples/loadtest.rs; bounded, stops by itself), then reports the server's peak
# memory (VmHWM), checks that it is still alive and stops it with Ctrl-C (SIGINT).
# Fails on any 5xx, transport error, wrong answer or crash.
# Usage: bash scripts/bench/loadtest.sh [REQUESTS] [CLIENTS] [PICTURES]   (defaults 1000 50 all)
set -euo pipefail
cd "$(dirname "$0")/../.."
requests="${1:-1000}"
clients="${2:-50}"
pictures="${3:-all}"
cargo build --release --quiet --bin spotdiff --example loadtest
mkdir -p out/loadtest
log=out/loadtest/server.log
target/release/spotdiff serve --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 50); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" || true)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
echo "server: $(head -1 "$log")"
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
status=0
target/release/examples/loadtest --url "$url" --requests "$requests" --clients "$clients" \
    --pictures "$pictures" --a examples/before.png --b examples/after.png || status=$?
kill -0 "$pid" 2>/dev/null || { echo "server died"; exit 1; }
echo "server peak RSS (VmHWM): $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
echo "server RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
kill -INT "$pid"
wait "$pid" || { echo "server exited with $?"; exit 1; }
trap - EXIT
echo "server stopped cleanly: $(tail -1 "$log")"

# Baseline for the ratio: the same comparison as one CLI process each (decode, compare,
# write all six pictures), as many processes at once as there are cores.
runs=100
jobs=$(nproc)
t0=$(date +%s.%N)
seq "$runs" | xargs -P "$jobs" -I{} sh -c \
    'target/release/spotdiff compare examples/before.png examples/after.png --out out/loadtest/cli-$(( {} % '"$jobs"' )) >/dev/null; [ $? -le 1 ]'
t1=$(date +%s.%N)
echo "CLI baseline: $runs runs of spotdiff compare --out (all pictures), $jobs at once: $(awk "BEGIN { printf \"%.1f\", $runs / ($t1 - $t0) }") comparisons/s"
exit "$status"
