#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets/, bodies in fuzz/targets.rs) for SECONDS
# with cargo-fuzz on the nightly toolchain, niced, one after another. The corpus grows
# in fuzz/target/corpus/TARGET (seeded from the committed fuzz/corpus/TARGET, which
# stays as it is); a crash lands in fuzz/artifacts/TARGET (copy it to
# fuzz/crashes/TARGET once fixed: tests/fuzz_corpus.rs replays it on stable). Logs go
# to out/fuzz/TARGET.log; a summary line per target (executions, executions/s, corpus,
# crashes) and the total are printed: what FUZZING.md records.
#
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]   (default 300 s, every target)
# Environment: SANITIZER (none; `address` for ASan, about 2x slower), JOBS (1: libFuzzer
# processes per target), RAYON_NUM_THREADS (1: a comparison's parallel loops run inline).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode compare render form manifest)
sanitizer="${SANITIZER:-none}"
jobs="${JOBS:-1}"
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-1}"
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io"
    nice cargo +nightly install cargo-fuzz --locked || {
        echo "fuzz.sh: cargo-fuzz could not be installed (is crates.io reachable?)" >&2
        exit 2
    }
fi
mkdir -p out/fuzz
cd fuzz
nice cargo +nightly fuzz build -s "$sanitizer" --release
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
total=0
crashed=0
for t in "${targets[@]}"; do
    work="target/corpus/$t"
    mkdir -p "$work" "artifacts/$t"
    log="../out/fuzz/$t.log"
    before=$(find "artifacts/$t" -type f | wc -l)
    rc=0
    t0=$(date +%s)
    nice -n 15 cargo +nightly fuzz run -s "$sanitizer" --release "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
        "${parallel[@]}" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    # With several processes, libFuzzer writes each one's output to fuzz-N.log.
    [ "$jobs" -gt 1 ] && cat fuzz-*.log >>"$log" && rm -f fuzz-*.log
    took=$(($(date +%s) - t0))
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
    rss=$(grep -ao 'stat::peak_rss_mb: *[0-9]*' "$log" | awk '{m = ($2 > m ? $2 : m)} END {print m + 0}')
    corpus=$(find "$work" -type f | wc -l)
    after=$(find "artifacts/$t" -type f | wc -l)
    new=$((after - before))
    total=$((total + execs))
    [ "$new" -eq 0 ] && [ "$rc" -eq 0 ] || crashed=$((crashed + 1))
    echo "$t: $execs executions in $took s ($rate/s), corpus $corpus inputs, peak RSS $rss MB, new crash inputs $new, exit $rc"
done
echo "total: $total executions over ${#targets[@]} targets; targets with a crash: $crashed"
[ "$crashed" -eq 0 ]
