#!/usr/bin/env python3
"""Run the classic SSIM recipe (scripts/eval/classic-recipe.py, unchanged steps) over a spotdiff
manifest and write its predictions as JSON Lines for `spotdiff eval --external`.

Usage: .deps/eval-venv/bin/python scripts/eval/classic-eval.py MANIFEST OUT.jsonl [MAPDIR]

Per pair: {"name", "boxes": [[x, y, w, h]], "ms", "map", "sweep"}, where
  boxes  the recipe as published (Otsu threshold on the SSIM map)
  ms     wall time of the recipe (imread to boxes), one process, 2 pairs at a time
  map    MAPDIR/NAME.png: 255 - the recipe's 8-bit SSIM map (brighter = more changed),
         for the pixel AUROC (only for pairs with a mask or expected "same")
  sweep  boxes with fixed thresholds instead of Otsu (param = the 8-bit threshold), for a
         precision/recall curve
Pairs that fail are written with "error". Exit 0, or 2 when the manifest is unreadable.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path


def _load_recipe():
    """classic-recipe.py beside this file (its kebab-case name is not importable by name)."""
    spec = importlib.util.spec_from_file_location(
        "classic_recipe", Path(__file__).resolve().parent / "classic-recipe.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_recipe = _load_recipe()
boxes_of, classic_map = _recipe.boxes_of, _recipe.classic_map

SWEEP = [40, 70, 100, 130, 160, 190, 220]


def load(manifest: Path):
    m = json.loads(manifest.read_text())
    pairs = m if isinstance(m, list) else m.get("pairs", [])
    root = manifest.parent / (m.get("root", ".") if isinstance(m, dict) else ".")
    out = []
    for i, p in enumerate(pairs):
        name = p.get("name") or f"pair{i + 1}"
        expect = p.get("expect") or ("same" if p.get("boxes") == [] else "different")
        out.append((name, str(root / p["a"]), str(root / p["b"]), bool(p.get("mask")) or expect == "same"))
    return out


def one(job):
    name, a, b, want_map, mapdir = job
    import cv2

    t0 = time.perf_counter()
    try:
        _score, diff = classic_map(a, b)
        boxes = boxes_of(diff)
    except Exception as e:  # noqa: BLE001 - recorded per pair
        return {"name": name, "boxes": [], "ms": (time.perf_counter() - t0) * 1e3, "error": str(e)}
    ms = (time.perf_counter() - t0) * 1e3
    rec = {"name": name, "boxes": [[d["x"], d["y"], d["w"], d["h"]] for d in boxes], "ms": ms}
    rec["sweep"] = [{"param": t, "boxes": [[d["x"], d["y"], d["w"], d["h"]] for d in boxes_of(diff, t)]}
                    for t in SWEEP]
    if want_map and mapdir:
        path = Path(mapdir) / f"{name}.png"
        cv2.imwrite(str(path), 255 - diff)
        rec["map"] = str(path.resolve())
    return rec


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    manifest, out = Path(sys.argv[1]), Path(sys.argv[2])
    mapdir = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        jobs = [(*j, mapdir) for j in load(manifest)]
    except (OSError, ValueError, KeyError) as e:
        print(f"classic-eval: {manifest}: {e}", file=sys.stderr)
        return 2
    if mapdir:
        Path(mapdir).mkdir(parents=True, exist_ok=True)
    with Pool(2) as pool:
        recs = pool.map(one, jobs, chunksize=4)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
