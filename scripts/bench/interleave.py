"""Time commands round-robin (A B C, A B C, ...) so that each round's ratios compare
runs made under the same machine load. Writes JSON: {"rounds": N, "load": [before,
after], "runs": {name: [{"wall": s, "cpu": s, "rc": code}, ...]}}.

Usage: python interleave.py --rounds N --out FILE --warmup 1 NAME CMD [NAME CMD ...]
(CMD is split on spaces, run without a shell.)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time
from pathlib import Path


def run(cmd: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rc": rc}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("pairs", nargs="+")
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("expected NAME CMD pairs")
    cmds = [(args.pairs[i], args.pairs[i + 1].split()) for i in range(0, len(args.pairs), 2)]
    for _ in range(args.warmup):
        for _, cmd in cmds:
            run(cmd)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {name: [] for name, _ in cmds}
    for _ in range(args.rounds):
        for name, cmd in cmds:
            runs[name].append(run(cmd))
    load_after = os.getloadavg()[0]
    args.out.write_text(json.dumps({"rounds": args.rounds, "load": [load_before, load_after], "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
