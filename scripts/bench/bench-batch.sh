#!/usr/bin/env bash
# Throughput of `spotdiff batch` (pairs per second) at 512x512 and 1920x1080, beside a
# shell loop of one `spotdiff compare` process per pair. Prints a Markdown table.
#
#   bash scripts/bench/bench-batch.sh          (needs .deps/eval-venv: bash scripts/setup/setup-eval.sh)
#
# Pairs: N copies of one photo pair per size (astronaut / coffee from scikit-image, three
# drawn edits), in bench-data/batch (git-ignored). Two cases: `sparse` (B is A plus the
# edits: most tiles are equal and skipped) and `jpeg` (B also re-encoded at JPEG q90, so
# every tile differs: the expensive case; one run, as it is slow). Median of RUNS runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-24}
RUNS=${RUNS:-3}
BIN=target/release/spotdiff
DATA=bench-data/batch
PY=.deps/eval-venv/bin/python
cargo build --release --quiet
"$PY" - "$DATA" "$N" <<'PYEOF'
import io, sys
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw
from skimage import data
out, n = Path(sys.argv[1]), int(sys.argv[2])
for size, (w, h), photo in [("512", (512, 512), data.astronaut()), ("1080p", (1920, 1080), data.coffee())]:
    a = Image.fromarray(photo).resize((w, h), Image.Resampling.LANCZOS)
    b = a.copy()
    d = ImageDraw.Draw(b)
    d.rectangle([w // 5, h // 5, w // 5 + w // 10, h // 5 + h // 12], fill=(40, 160, 60))
    d.ellipse([w // 2, h // 2, w // 2 + w // 12, h // 2 + h // 10], fill=(200, 30, 40))
    d.text((w // 10, h - h // 6), "EDITED", fill=(255, 255, 0))
    buf = io.BytesIO(); b.save(buf, "JPEG", quality=90); bj = Image.open(buf).convert("RGB")
    for case, side, img in (("sparse", "A", a), ("sparse", "B", b), ("jpeg", "A", a), ("jpeg", "B", bj)):
        folder = out / f"{size}-{case}" / side
        folder.mkdir(parents=True, exist_ok=True)
        img.save(folder / "p000.png")
        for i in range(1, n):
            target = folder / f"p{i:03d}.png"
            if not target.exists():
                target.hardlink_to(folder / "p000.png")
PYEOF
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null || [[ $? == 1 ]]; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
loop() { for f in "$1"/A/*.png; do "$BIN" compare "$f" "$1/B/$(basename "$f")" >/dev/null || [[ $? == 1 ]]; done; }
echo "| case | pairs | batch s | batch pairs/s | loop of compare s | loop pairs/s | batch / loop speed |"
echo "|---|---|---|---|---|---|---|"
for c in 512-sparse 1080p-sparse 512-jpeg 1080p-jpeg; do
    dir=$DATA/$c
    runs=$RUNS; [[ $c == *jpeg ]] && runs=1
    tb=$(for _ in $(seq "$runs"); do secs "$BIN" batch "$dir/A" "$dir/B"; done | median)
    tl=$(for _ in $(seq "$runs"); do secs loop "$dir"; done | median)
    printf '| %s | %d | %.2f | %.1f | %.2f | %.1f | %.2fx |\n' "$c" "$N" "$tb" "$(echo "$N / $tb" | bc -l)" \
        "$tl" "$(echo "$N / $tl" | bc -l)" "$(echo "$tl / $tb" | bc -l)"
done
