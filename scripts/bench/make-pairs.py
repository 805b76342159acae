#!/usr/bin/env python3
"""Generate benchmark image pairs from real photos shipped in the scikit-image wheel.

For each size it writes, under OUT/<label>/:
  a.png       the photo, cropped to the aspect ratio and resized (Lanczos), with light
              fixed-seed grain so the upscaled photo is not unnaturally smooth
  b.png       a.png with three realistic edits (boxes listed in OUT/manifest.json):
                - paste:    a patch from another photo pasted in
                - erase:    a rectangle erased and filled with the surrounding colour
                - recolour: an elliptical region with its hue rotated
              "4k-large" (the 4K photo) has five large edits over about 10 % of the
              pixels: the three above, larger, plus
                - tint:     a rectangle made 8 levels brighter (a faint, coherent change)
                - blur:     a rectangle blurred (Gaussian, sigma 3 px)
  a_copy.png  a byte-for-byte copy of a.png (equal-inputs timing; no re-encoding)

Everything is deterministic (fixed seed). PNGs are 8-bit RGB.

Usage: .deps/bench/venv/bin/python scripts/bench/make-pairs.py [--out bench-data]
           [--sizes 512,1080p,4k,4k-large]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import skimage
from PIL import Image, ImageFilter

SEED = 20240517
DATA = Path(skimage.__file__).parent / "data"

# label -> (width, height, base photo, photo used for the pasted patch)
SIZES = {
    "512": (512, 512, "astronaut.png", "coffee.png"),
    "1080p": (1920, 1080, "coffee.png", "chelsea.png"),
    "4k": (3840, 2160, "motorcycle_left.png", "astronaut.png"),
    "4k-large": (3840, 2160, "motorcycle_left.png", "astronaut.png"),
}
# labels whose edits are larger (times this) and five, not three
LARGE = {"4k-large": 1.6}
GRAIN_SIGMA = 1.5  # in 8-bit levels


def load(name: str) -> Image.Image:
    with Image.open(DATA / name) as im:
        return im.convert("RGB")


def fit(im: Image.Image, w: int, h: int) -> Image.Image:
    """Centre-crop to the target aspect ratio, then resize with Lanczos."""
    sw, sh = im.size
    target = w / h
    if sw / sh > target:
        cw, ch = round(sh * target), sh
    else:
        cw, ch = sw, round(sw / target)
    left, top = (sw - cw) // 2, (sh - ch) // 2
    return im.crop((left, top, left + cw, top + ch)).resize((w, h), Image.LANCZOS)


def overlaps(box, boxes, margin):
    x, y, w, h = box
    for (bx, by, bw, bh) in boxes:
        if x < bx + bw + margin and bx < x + w + margin and y < by + bh + margin and by < y + h + margin:
            return True
    return False


def place(rng, W, H, w, h, taken, margin):
    border = max(8, margin)
    for _ in range(1000):
        x = int(rng.integers(border, W - w - border))
        y = int(rng.integers(border, H - h - border))
        if not overlaps((x, y, w, h), taken, margin):
            return (x, y, w, h)
    raise RuntimeError("could not place an edit without overlap")


def make(label: str, out: Path, rng: np.random.Generator) -> dict:
    W, H, base_name, patch_name = SIZES[label]
    s0 = min(W, H) / 512.0
    s = s0 * LARGE.get(label, 1.0)
    a = np.asarray(fit(load(base_name), W, H)).astype(np.float64)
    a += rng.normal(0.0, GRAIN_SIGMA, a.shape)
    a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    b = a.copy()
    taken: list[tuple[int, int, int, int]] = []
    margin = int(24 * s0)
    edits = []

    # 1. pasted patch from another photo
    pw, ph = int(96 * s), int(72 * s)
    x, y, w, h = place(rng, W, H, pw, ph, taken, margin)
    patch = np.asarray(fit(load(patch_name), pw, ph))
    b[y:y + h, x:x + w] = patch
    taken.append((x, y, w, h))
    edits.append({"kind": "paste", "x": x, "y": y, "w": w, "h": h})

    # 2. erased rectangle, filled with the median colour of a ring around it
    ew, eh = int(64 * s), int(40 * s)
    x, y, w, h = place(rng, W, H, ew, eh, taken, margin)
    r = max(3, int(4 * s))
    ring = np.concatenate([
        a[y - r:y, x - r:x + w + r].reshape(-1, 3),
        a[y + h:y + h + r, x - r:x + w + r].reshape(-1, 3),
        a[y:y + h, x - r:x].reshape(-1, 3),
        a[y:y + h, x + w:x + w + r].reshape(-1, 3),
    ])
    b[y:y + h, x:x + w] = np.median(ring, axis=0).astype(np.uint8)
    taken.append((x, y, w, h))
    edits.append({"kind": "erase", "x": x, "y": y, "w": w, "h": h})

    # 3. recoloured elliptical region (hue rotated by ~120 degrees)
    rw, rh = int(80 * s), int(60 * s)
    x, y, w, h = place(rng, W, H, rw, rh, taken, margin)
    region = Image.fromarray(b[y:y + h, x:x + w]).convert("HSV")
    hsv = np.asarray(region).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + 85) % 256
    hsv[..., 1] = np.maximum(hsv[..., 1], 90)  # make the colour change visible on grey areas
    rec = np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2 <= 1.0
    blk = b[y:y + h, x:x + w]
    blk[inside] = rec[inside]
    # tight box of what really changed
    ys, xs = np.nonzero(inside & np.any(blk != a[y:y + h, x:x + w], axis=-1))
    box = (x + int(xs.min()), y + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    taken.append((x, y, w, h))
    edits.append({"kind": "recolour", "x": box[0], "y": box[1], "w": box[2], "h": box[3]})

    if label in LARGE:
        # 4. faint tint: +8 levels on every channel (clipped)
        tw, th = int(72 * s), int(48 * s)
        x, y, w, h = place(rng, W, H, tw, th, taken, margin)
        b[y:y + h, x:x + w] = np.clip(a[y:y + h, x:x + w].astype(np.int32) + 8, 0, 255)
        taken.append((x, y, w, h))
        edits.append({"kind": "tint", "x": x, "y": y, "w": w, "h": h})
        # 5. blurred rectangle
        bw, bh = int(56 * s), int(40 * s)
        x, y, w, h = place(rng, W, H, bw, bh, taken, margin)
        blurred = Image.fromarray(a[y:y + h, x:x + w]).filter(ImageFilter.GaussianBlur(3))
        b[y:y + h, x:x + w] = np.asarray(blurred)
        taken.append((x, y, w, h))
        edits.append({"kind": "blur", "x": x, "y": y, "w": w, "h": h})

    d = out / label
    d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, "RGB").save(d / "a.png")
    Image.fromarray(b, "RGB").save(d / "b.png")
    shutil.copyfile(d / "a.png", d / "a_copy.png")
    changed = int(np.any(a != b, axis=-1).sum())
    return {
        "label": label, "width": W, "height": H,
        "base": base_name, "patch_source": patch_name,
        "a": f"{label}/a.png", "b": f"{label}/b.png", "a_copy": f"{label}/a_copy.png",
        "changed_pixels": changed, "edits": edits,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="generate benchmark pairs")
    ap.add_argument("--out", type=Path, default=Path("bench-data"))
    ap.add_argument("--sizes", default="512,1080p,4k")
    args = ap.parse_args()
    labels = [s for s in args.sizes.split(",") if s]
    for lab in labels:
        if lab not in SIZES:
            print(f"error: unknown size {lab!r} (known: {', '.join(SIZES)})", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = {"generated_by": "scripts/bench/make-pairs.py", "seed": SEED,
                "skimage_version": skimage.__version__, "pairs": {}}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("seed") == SEED:
            manifest["pairs"] = old.get("pairs", {})
    for lab in labels:
        # one generator per size, so each size is reproducible on its own
        rng = np.random.default_rng([SEED, list(SIZES).index(lab)])
        print(f"  making {lab} pair ({SIZES[lab][0]}x{SIZES[lab][1]})", flush=True)
        manifest["pairs"][lab] = make(lab, args.out, rng)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"  wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
