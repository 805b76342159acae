#!/usr/bin/env python3
"""Pairs per second on the same pairs: `spotdiff batch`, the Python package in one
process (one thread; one thread per core), and spotdiff.ray with 1 and 2 workers on a
local Ray cluster (loopback, one CPU per worker). Prints a Markdown table.

Run by scripts/bench/bench-python.sh (which builds the release CLI and the release
extension first). Cases (each N copies of one pair, written as separate files):
  fused  examples/before.png vs after.png (640x427 photo, four edits), the default
         method with the offline backbone (EfficientNet-Lite0)
  pixel  the same pairs with --method pixel --model none (no backbone)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[2]


def make_pairs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    a, b = REPO / "examples/before.png", REPO / "examples/after.png"
    lines = []
    for i in range(n):
        pa, pb = folder / f"p{i:03d}-a.png", folder / f"p{i:03d}-b.png"
        for src, dst in ((a, pa), (b, pb)):
            if not dst.exists():
                shutil.copyfile(src, dst)
        lines.append(json.dumps({"name": f"p{i:03d}", "a": str(pa), "b": str(pb)}))
    manifest = folder / "pairs.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", type=int, default=48)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--bin", default=str(REPO / "target/release/spotdiff"))
    p.add_argument("--data", default=str(REPO / "bench-data/python"))
    args = p.parse_args()

    import spotdiff
    import spotdiff.ray as sray

    manifest = make_pairs(Path(args.data).resolve(), args.pairs)
    pairs = [json.loads(line) for line in manifest.read_text().splitlines()]
    n = len(pairs)
    cores = os.cpu_count() or 1
    cases = {"fused": ([], {}), "pixel": (["--method", "pixel", "--model", "none"], {"method": "pixel", "model": "none"})}
    rows = []
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        for case, (flags, kw) in cases.items():
            def cli() -> None:
                r = subprocess.run([args.bin, "batch", "--manifest", str(manifest), *flags],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                assert r.returncode in (0, 1), r.stderr

            model = kw.get("model")
            options = {k: v for k, v in kw.items() if k != "model"}
            comparer = spotdiff.Comparer(model=model, **options)

            def one_thread() -> None:
                for p_ in pairs:
                    comparer.compare(p_["a"], p_["b"])

            def threads() -> None:
                with ThreadPoolExecutor(cores) as ex:
                    list(ex.map(lambda p_: comparer.compare(p_["a"], p_["b"]), pairs))

            def ray_run(workers: int):
                def go() -> None:
                    out = tempfile.mkdtemp(prefix="sdbench")
                    try:
                        s = sray.run(str(manifest), out, workers=workers, batch_size=4, model=model, **options)
                        assert s["pairs"] == n and s["failed"] == 0, s
                    finally:
                        shutil.rmtree(out, ignore_errors=True)
                return go

            comparer.compare(pairs[0]["a"], pairs[0]["b"])  # warm: first-run allocations
            for label, fn in [
                ("CLI `spotdiff batch` (all cores)", cli),
                ("Python, one process, 1 thread", one_thread),
                (f"Python, one process, {cores} threads", threads),
                ("Ray Data, 1 worker (1 CPU)", ray_run(1)),
                ("Ray Data, 2 workers (1 CPU each)", ray_run(2)),
            ]:
                s = timed(fn, args.runs)
                rows.append((case, label, n, s))
                print(f"# {case}: {label}: {s:.2f} s", file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    print(f"| case | runner | pairs | seconds | pairs/s |")
    print("|---|---|---|---|---|")
    for case, label, count, s in rows:
        print(f"| {case} | {label} | {count} | {s:.2f} | {count / s:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
