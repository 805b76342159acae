#!/usr/bin/env bash
# Deep-feature benchmark: what the backbone costs the default, beside odiff and
# `--model none`, as ratios measured in one run.
#
# Pairs: a 1280x800 screenshot pair (the invoice page of the UI change set, A against
# several edits at once; `scripts/eval/make-changeset.sh` renders it) and the 1920x1080
# photo pair of `scripts/bench/make-pairs.py`. Runners, interleaved RUNS times per pair
# (whole process, median wall time):
#   odiff            the native odiff binary (npm @odiff/linux-x64), A B DIFF.png
#   none             spotdiff compare A B --model none  (pixel + SSIM evidence)
#   default          spotdiff compare A B               (fused, offline backbone, warm cache)
#   default-nocache  the same with SPOTDIFF_CACHE=none  (ONNX Runtime optimizes at each load)
#   default-448      the default with the working size before issue 13 (short side 448,
#                    long side at most 896: a manifest copy in .deps/bench-deep)
#   deep             spotdiff compare A B --method deep
# The split (decode, model load, deep preprocess, inference, map) is the median of what
# `--timings` reports. Writes the "Deep features" section of BENCHMARKS.md (between its
# markers).
# Usage: bash scripts/bench/bench-deep.sh [RUNS]   (default 9)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-9}
BIN=target/release/spotdiff
OUT=.deps/bench-deep
UI=out/changeset/ui/invoices
ODIFF=scripts/eval/ui/node_modules/@odiff/linux-x64/odiff
PY=.deps/venv/bin/python
EVAL_PY=.deps/eval-venv/bin/python
mkdir -p "$OUT"

echo "== set-up (backbone, release build, pairs, odiff)" >&2
bash scripts/setup/setup-deep.sh >&2
cargo build --release --quiet
if [ ! -x "$ODIFF" ]; then
    (cd scripts/eval/ui && npm ci --no-audit --no-fund --silent >&2)
fi
if [ ! -f "$UI/multi.png" ]; then
    CHANGESET_ONLY=ui bash scripts/eval/make-changeset.sh >&2
fi
if [ ! -f bench-data/1080p/b.png ]; then
    bash scripts/setup/setup-eval.sh >&2
    "$EVAL_PY" scripts/bench/make-pairs.py --out bench-data --sizes 1080p >&2
fi
# The 448 px manifest (same model file).
"$PY" - "$OUT/efficientnet-lite0-448.json" <<'PYEOF'
import json, os, sys
m = json.load(open("models/efficientnet-lite0.json"))
m.update(working_short_side=448, max_long_side=896, file=os.path.abspath("models/" + m["file"]))
json.dump(m, open(sys.argv[1], "w"))
PYEOF
# The optimized graph cache of the warm runs: filled once here, before timing.
CACHE=$OUT/cache
rm -rf "$CACHE"
SPOTDIFF_CACHE=$CACHE "$BIN" compare "$UI/a.png" "$UI/a.png" >/dev/null
SPOTDIFF_CACHE=$CACHE "$BIN" compare "$UI/a.png" "$UI/a.png" --model "$OUT/efficientnet-lite0-448.json" >/dev/null
COLD=$({ SPOTDIFF_CACHE=$OUT/cold-cache "$BIN" compare "$UI/a.png" "$UI/multi.png" --timings 2>&1 >/dev/null || true; } |
    grep -o 'model load [0-9.]*' | grep -o '[0-9.]*$')
rm -rf "$OUT/cold-cache"

# One run: prints "wall_ms<TAB>timings line".
one() {
    local runner=$1 a=$2 b=$3 t0 t1 err=""
    t0=$(date +%s%N)
    case $runner in
        odiff) "$ODIFF" "$a" "$b" "$OUT/odiff.png" >/dev/null 2>&1 || true ;;
        none) err=$(SPOTDIFF_CACHE=$CACHE "$BIN" compare "$a" "$b" --model none --timings 2>&1 >/dev/null) || true ;;
        default) err=$(SPOTDIFF_CACHE=$CACHE "$BIN" compare "$a" "$b" --timings 2>&1 >/dev/null) || true ;;
        default-nocache) err=$(SPOTDIFF_CACHE=none "$BIN" compare "$a" "$b" --timings 2>&1 >/dev/null) || true ;;
        default-448) err=$(SPOTDIFF_CACHE=$CACHE "$BIN" compare "$a" "$b" --model "$OUT/efficientnet-lite0-448.json" --timings 2>&1 >/dev/null) || true ;;
        deep) err=$(SPOTDIFF_CACHE=$CACHE "$BIN" compare "$a" "$b" --method deep --timings 2>&1 >/dev/null) || true ;;
    esac
    t1=$(date +%s%N)
    printf '%s\t%s\n' "$(((t1 - t0) / 1000000))" "$(grep 'timings ms' <<<"$err" || true)"
}

RUNNERS=(odiff none default default-nocache default-448 deep)
RAW=$OUT/runs.tsv
: >"$RAW"
echo "== timing ($RUNS rounds, runners interleaved)" >&2
for pair in "1280x800 screenshot|$UI/a.png|$UI/multi.png" "1080p photo|bench-data/1080p/a.png|bench-data/1080p/b.png"; do
    IFS='|' read -r label a b <<<"$pair"
    for ((i = 0; i < RUNS; i++)); do
        for r in "${RUNNERS[@]}"; do
            printf '%s\t%s\t%s\n' "$label" "$r" "$(one "$r" "$a" "$b")" >>"$RAW"
        done
    done
done

echo "== peak GFLOP/s and backbone FLOPs" >&2
PEAK=$("$PY" - <<'PYEOF'
import time, numpy as np
n = 2048
a = np.random.rand(n, n).astype(np.float32)
b = np.random.rand(n, n).astype(np.float32)
a @ b
best = 0.0
for _ in range(5):
    t = time.perf_counter(); a @ b; dt = time.perf_counter() - t
    best = max(best, 2 * n ** 3 / dt / 1e9)
print(f"{best:.1f}")
PYEOF
)
# Working size of the offline manifest for each pair (as `Work::for_image`).
work() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, math, sys
w, h = int(sys.argv[1]), int(sys.argv[2])
m = json.load(open("models/efficientnet-lite0.json"))
short, long = min(w, h), max(w, h)
s = m["working_short_side"] / short
if long * s > m["max_long_side"]:
    s = m["max_long_side"] / long
p = m["pad_multiple"]
pw, ph = math.ceil(round(w * s) / p) * p, math.ceil(round(h * s) / p) * p
print(ph, pw)
PYEOF
}
FLOPS_UI=$("$PY" scripts/bench/count-flops.py models/efficientnet-lite0.onnx input 2 $(work 1280 800))
FLOPS_1080=$("$PY" scripts/bench/count-flops.py models/efficientnet-lite0.onnx input 2 $(work 1920 1080))

"$PY" - "$RAW" "$RUNS" "$COLD" "$FLOPS_UI" "$FLOPS_1080" "$PEAK" <<'PYEOF' >"$OUT/section.md"
import re, statistics, sys, datetime, os, json
raw, runs, cold, f_ui, f_1080, peak = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:7])
flops = {"1280x800 screenshot": f_ui, "1080p photo": f_1080}
rows = {}
for line in open(raw):
    pair, runner, wall, timings = line.rstrip("\n").split("\t")
    t = {"wall": float(wall)}
    for key in ["decode", "model load", "maps", "deep preprocess", "deep inference", "deep map"]:
        m = re.search(re.escape(key) + r" ([0-9.]+)", timings)
        t[key] = float(m.group(1)) if m else 0.0
    rows.setdefault(pair, {}).setdefault(runner, []).append(t)
med = statistics.median
m = json.load(open("models/efficientnet-lite0.json"))
print("<!-- deep:begin (written by scripts/bench/bench-deep.sh) -->")
print("## Deep features\n")
print(f"Generated by `bash scripts/bench/bench-deep.sh {runs}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
      f"{os.cpu_count()} cores (shared, so absolute times are noisy; the ratios are what counts: every "
      f"runner ran in the same rounds, interleaved). Whole-process wall time, median of {runs} rounds; "
      f"the split is the median of what `--timings` reports. Backbone: EfficientNet-Lite0 (offline "
      f"build), working short side {m['working_short_side']} px (long side at most {m['max_long_side']}), "
      "both images one batch; the model loads on a thread beside decoding; `default` reads ONNX "
      "Runtime's optimized graph from the cache (`SPOTDIFF_CACHE`), `default-nocache` optimizes it at "
      "every load.\n")
print("| pair | runner | wall (ms) | × odiff | × `--model none` | decode | model load | maps | deep preprocess | deep inference | deep map |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for pair, by in rows.items():
    od = med([t["wall"] for t in by["odiff"]])
    no = med([t["wall"] for t in by["none"]])
    for runner, ts in by.items():
        c = lambda k: f"{med([t[k] for t in ts]):.0f}"
        w = med([t["wall"] for t in ts])
        split = " | ".join(c(k) for k in ["decode", "model load", "maps", "deep preprocess", "deep inference", "deep map"]) \
            if runner != "odiff" else " | | | | | "
        print(f"| {pair} | {runner} | **{w:.0f}** | {w / od:.2f} | {w / no:.2f} | {split} |")
print()
for pair, by in rows.items():
    inf = med([t["deep inference"] for t in by["deep"]]) / 1000
    print(f"- {pair}: backbone run {flops[pair]:.2f} GFLOP (batch of 2; convolutions and matrix products, "
          f"`scripts/bench/count-flops.py`) in {inf * 1000:.0f} ms (`--method deep`) = {flops[pair] / inf:.1f} GFLOP/s, "
          f"{100 * flops[pair] / inf / peak:.0f} % of the measured peak.")
print(f"- Peak: {peak:.1f} GFLOP/s, best of 5 single-precision 2048² GEMMs (numpy/OpenBLAS, all cores), measured in this run.")
warm = med([t["model load"] for t in rows["1280x800 screenshot"]["default"]])
nocache = med([t["model load"] for t in rows["1280x800 screenshot"]["default-nocache"]])
print(f"- Model load (runtime library, session): {warm:.0f} ms from the cache, {nocache:.0f} ms optimizing "
      f"at load, {cold:.0f} ms for the first load that writes the cache entry.")
ui = rows["1280x800 screenshot"]
r = med([t["wall"] for t in ui["default"]]) / med([t["wall"] for t in ui["odiff"]])
print(f"- Target: default on the 1280x800 pair at most 7× odiff's wall time: **{r:.1f}×** "
      f"({'met' if r <= 7 else 'not met'}). 1080p: "
      f"**{med([t['wall'] for t in rows['1080p photo']['default']]):.0f} ms** (target 400 ms on a quiet machine).")
print("<!-- deep:end -->")
PYEOF

"$PY" - "$OUT/section.md" <<'PYEOF'
import re, sys, os
section = open(sys.argv[1]).read().strip()
text = open("BENCHMARKS.md").read() if os.path.exists("BENCHMARKS.md") else "# Benchmarks\n"
pat = re.compile(r"<!-- deep:begin.*?<!-- deep:end -->", re.S)
text = pat.sub(lambda m: section, text) if pat.search(text) else text.rstrip() + "\n\n" + section + "\n"
open("BENCHMARKS.md", "w").write(text)
PYEOF
cat "$OUT/section.md"
