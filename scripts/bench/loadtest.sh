#!/usr/bin/env bash
# Load test of `spotdiff serve` on loopback (examples/loadtest.rs; bounded, stops by
# itself). Builds the release binary, then:
#  1. mixed load: REQUESTS requests from CLIENTS concurrent clients, a share HOSTILE of
#     them hostile (bad files, bombs, bad forms, junk uploads), while SLOW slow clients
#     hold connections (silent, half a head, a head a byte at a time, a stalled body);
#     reports the statuses, the valid requests' latency (p50/p95/p99), what the slow
#     clients got, the server's peak and final memory, and checks that it still
#     answers and stops cleanly on SIGINT;
#  2. upload burst, on a fresh server: BURST uploads of BURST_MB MiB at once (the
#     memory budget: 503 with Retry-After or 422 each), peak memory against the
#     budget, memory after the burst, the server still answering;
#  3. the CLI baseline: the same comparison as one process each.
# Fails on any 5xx, transport error of a valid request, unexpected status, wrong
# answer or crash.
# Usage: bash scripts/bench/loadtest.sh [REQUESTS] [CLIENTS] [PICTURES]   (defaults 1000 50 all)
# Environment: SLOW (20), HOSTILE (0.3), BURST (30), BURST_MB (63), SERVE_ARGS (extra
# `spotdiff serve` options for both servers).
set -euo pipefail
cd "$(dirname "$0")/../.."
requests="${1:-1000}"
clients="${2:-50}"
pictures="${3:-all}"
slow="${SLOW:-20}"
hostile="${HOSTILE:-0.3}"
burst="${BURST:-30}"
burst_mb="${BURST_MB:-63}"
read -r -a serve_args <<<"${SERVE_ARGS:-}"
cargo build --release --quiet --bin spotdiff --example loadtest
mkdir -p out/loadtest
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
mib() { awk -v k="$(kib "$1")" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }

# Starts a server; sets $pid and $url.
start() {
    local log="$1"
    target/release/spotdiff serve --port 0 "${serve_args[@]}" >"$log" 2>&1 &
    pid=$!
    url=""
    for _ in $(seq 100); do
        url=$(grep -ao 'http://127\.0\.0\.1:[0-9]*' "$log" || true)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "server did not start:"; cat "$log"; exit 1; }
    echo "server: $(head -1 "$log")"
    echo "idle RSS: $(mib VmRSS)"
}

# Checks that the server still answers a valid request, then stops it with SIGINT.
finish() {
    local log="$1"
    kill -0 "$pid" 2>/dev/null || { echo "server died"; exit 1; }
    target/release/examples/loadtest --url "$url" --requests 1 --clients 1 --slow-clients 0 \
        --hostile 0 --pictures none >/dev/null || { echo "server no longer answers"; exit 1; }
    echo "server answers afterwards: yes"
    kill -INT "$pid"
    wait "$pid" || { echo "server exited with $?"; exit 1; }
    pid=""
    echo "server stopped cleanly: $(tail -1 "$log")"
}

echo "== 1. mixed load: $requests requests ($hostile hostile) from $clients clients, $slow slow clients"
start out/loadtest/server.log
status=0
target/release/examples/loadtest --url "$url" --requests "$requests" --clients "$clients" \
    --slow-clients "$slow" --hostile "$hostile" --pictures "$pictures" \
    --a examples/before.png --b examples/after.png || status=$?
echo "server peak RSS (VmHWM): $(mib VmHWM)"
sleep 2
echo "server RSS after: $(mib VmRSS)"
finish out/loadtest/server.log

echo "== 2. upload burst: $burst uploads of $burst_mb MiB at once"
start out/loadtest/burst.log
target/release/examples/loadtest --url "$url" --burst "$burst" --burst-mb "$burst_mb" \
    --a examples/before.png || status=$?
echo "server peak RSS (VmHWM): $(mib VmHWM) (the upload budget is in the server line above)"
sleep 2
echo "server RSS after: $(mib VmRSS)"
finish out/loadtest/burst.log

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
