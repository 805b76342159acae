#!/usr/bin/env python3
"""Run the peers odiff and pixelmatch over a spotdiff manifest and write their predictions
as JSON Lines for `spotdiff eval --external NAME=FILE`.

Usage: .deps/eval-venv/bin/python scripts/eval/peer-eval.py MANIFEST OUTDIR [PREFIX]
  writes OUTDIR/PREFIX-odiff.jsonl and OUTDIR/PREFIX-pixelmatch.jsonl (PREFIX defaults to
  the manifest's name); work files (PNG copies, diff masks) go to OUTDIR/peer-work/PREFIX.

The peers come from npm, pinned in scripts/eval/ui/package-lock.json (`npm ci` there;
scripts/eval/make-changeset.sh does it): odiff 4.5.0, the native binary of npm odiff-bin
4.5.0 (its package @odiff/linux-x64 is depended on directly; node_modules/@odiff/linux-x64/
odiff is called, as scripts/bench/bench.sh does), and pixelmatch 8.0.0 with pngjs 7.0.0
(scripts/eval/ui/pixelmatch-batch.mjs, one node process for all pairs).
Both run with their default options: odiff threshold 0.1, anti-aliased pixels counted
(its --antialiasing flag is off by default); pixelmatch threshold 0.1, anti-aliased pixels
detected and not counted (includeAA false).

Per pair: {"name", "boxes": [[x, y, w, h]], "ms", "pixels"}, where
  verdict  any differing pixel makes the pair different (boxes non-empty)
  boxes    the peer's diff mask dilated by 3 px (a 7x7 square, so pieces up to 6 px apart,
           e.g. the strokes of one glyph, join), 8-connected components of the dilated
           mask, each box the bounding box of the component's own (undilated) mask pixels;
           no size filter (a single pixel is a box)
  ms       odiff: wall time of its process (decode, compare, diff mask written);
           pixelmatch: decode + compare inside the node process (no start-up, no write)
  pixels   the number of differing pixels the peer reported
Inputs that are not PNG (JPEG, WebP) are decoded by Pillow and written as PNG first, for
both peers (pixelmatch reads PNG only; odiff gets the same pixels). Failures are written
with "error". Exit 0, or 2 when the manifest is unreadable or a peer is missing.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "ui"
ODIFF = NODE_DIR / "node_modules/@odiff/linux-x64/odiff"
DILATE = 3


def load(manifest: Path):
    m = json.loads(manifest.read_text())
    pairs = m if isinstance(m, list) else m.get("pairs", [])
    root = manifest.parent / (m.get("root", ".") if isinstance(m, dict) else ".")
    name = (m.get("name") if isinstance(m, dict) else None) or manifest.stem
    return name, [(p.get("name") or f"pair{i + 1}", root / p["a"], root / p["b"]) for i, p in enumerate(pairs)]


def as_png(path: Path, work: Path) -> Path:
    if path.suffix.lower() == ".png":
        return path
    out = work / "png" / (path.parent.name + "--" + path.name + ".png")
    if not out.exists() or out.stat().st_mtime < path.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("RGB").save(out, compress_level=1)
    return out


def boxes_of(mask: np.ndarray) -> list[list[int]]:
    """Boxes of a boolean mask: dilate, label (8-connected), box each label's own pixels."""
    if not mask.any():
        return []
    k = 2 * DILATE + 1
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    labels, _n = ndimage.label(grown, structure=np.ones((3, 3)))
    out = []
    for sl in ndimage.find_objects(np.where(mask, labels, 0)):
        if sl is None:
            continue
        ys, xs = sl
        out.append([int(xs.start), int(ys.start), int(xs.stop - xs.start), int(ys.stop - ys.start)])
    return out


def mask_of(path: Path) -> np.ndarray:
    im = np.asarray(Image.open(path).convert("RGBA"))
    return im[..., 3] > 0


def run_odiff(job):
    name, a, b, diff = job
    t0 = time.perf_counter()
    try:
        r = subprocess.run([str(ODIFF), str(a), str(b), str(diff), "--diff-mask"], capture_output=True, text=True)
        ms = (time.perf_counter() - t0) * 1e3
        if r.returncode == 0:
            return {"name": name, "boxes": [], "ms": ms, "pixels": 0}
        if r.returncode != 22:
            raise RuntimeError(f"odiff exit {r.returncode}: {(r.stderr or r.stdout).strip()}")
        mask = mask_of(diff)
        return {"name": name, "boxes": boxes_of(mask), "ms": ms, "pixels": int(mask.sum())}
    except Exception as e:  # noqa: BLE001 - recorded per pair
        return {"name": name, "boxes": [], "ms": (time.perf_counter() - t0) * 1e3, "error": str(e)}


def run_pixelmatch(jobs, work: Path, parts: int = 2):
    chunks = [jobs[k::parts] for k in range(parts)]

    def one(k):
        spec = work / f"pixelmatch-jobs-{k}.json"
        spec.write_text(json.dumps([{"a": str(a), "b": str(b), "mask": str(m)} for _n, a, b, m in chunks[k]]))
        r = subprocess.run(["node", str(NODE_DIR / "pixelmatch-batch.mjs"), str(spec)], capture_output=True,
                           text=True, check=True)
        recs = []
        for line in r.stdout.splitlines():
            rec = json.loads(line)
            name, _a, _b, m = chunks[k][rec["i"]]
            if "error" in rec:
                recs.append({"name": name, "boxes": [], "ms": 0.0, "error": rec["error"]})
            elif rec["pixels"] == 0:
                recs.append({"name": name, "boxes": [], "ms": rec["ms"], "pixels": 0})
            else:
                recs.append({"name": name, "boxes": boxes_of(mask_of(m)), "ms": rec["ms"], "pixels": rec["pixels"]})
        return recs

    with ThreadPoolExecutor(parts) as ex:
        recs = [r for part in ex.map(one, range(parts)) for r in part]
    order = {n: i for i, (n, *_rest) in enumerate(jobs)}
    return sorted(recs, key=lambda r: order[r["name"]])


def write(path: Path, recs):
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    tmp.replace(path)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    manifest, outdir = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        name, pairs = load(manifest)
    except (OSError, ValueError, KeyError) as e:
        print(f"peer-eval: {manifest}: {e}", file=sys.stderr)
        return 2
    if not ODIFF.exists() or not (NODE_DIR / "node_modules/pixelmatch").is_dir():
        print(f"peer-eval: the npm peers are missing: run `npm ci` in {NODE_DIR}", file=sys.stderr)
        return 2
    prefix = sys.argv[3] if len(sys.argv) > 3 else name
    work = outdir / "peer-work" / prefix
    for sub in ("png", "odiff", "pixelmatch"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, (pname, a, b) in enumerate(pairs):
        jobs.append((pname, as_png(a, work), as_png(b, work), f"{i:04d}.png"))
    for sub in ("odiff", "pixelmatch"):
        for f in (work / sub).glob("*.png"):
            f.unlink()  # stale masks would be read as this run's
    with ThreadPoolExecutor(2) as ex:
        odiff = list(ex.map(run_odiff, [(n, a, b, work / "odiff" / m) for n, a, b, m in jobs]))
    pm = run_pixelmatch([(n, a, b, work / "pixelmatch" / m) for n, a, b, m in jobs], work)
    write(outdir / f"{prefix}-odiff.jsonl", odiff)
    write(outdir / f"{prefix}-pixelmatch.jsonl", pm)
    errors = sum("error" in r for r in odiff + pm)
    print(f"peer-eval: {len(jobs)} pairs -> {outdir}/{prefix}-{{odiff,pixelmatch}}.jsonl ({errors} errors)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
