#!/usr/bin/env python3
"""Change-model set, kind 2: faint coherent changes on photos, and change-free photo pairs.

Usage: .deps/eval-venv/bin/python scripts/eval/make-changeset-faint.py OUT
       (scripts/eval/make-changeset.sh runs it with OUT = out/changeset/faint)

Photos: the colour photos of the scikit-image 0.26.0 wheel (astronaut, chelsea, coffee,
rocket, hubble_deep_field, immunohistochemistry, retina, motorcycle left) and
scikit-learn's china and flower, scaled (Lanczos) to a long side of 448 px (the first five
in name order) or 352 px (the others), so the set stays small.

Edits (one per pair; truth box = bounding box of the pixels whose value changed, in 8 bits):
  tint18    +18 levels on R, G and B over a rectangle of 40-120 px a side (on a region whose
            brightest channel stays below 237, so nothing clips)
  recolour  a pale recolour: L kept, (a, b) moved by ΔE 4-8 in CIE Lab over a hard-edged
            ellipse of at least 400 px, on the smoothest areas of the photo (sky, walls:
            local standard deviation of L among the lowest 10 % of windows)
  clone     a 28-56 px square of texture copied from another textured place of the same
            photo (both places among the 30 % most textured windows, far apart)
Some edited B's also carry a nuisance (JPEG q85, or Gaussian noise σ 2); the truth box is
that of the clean edit. Tags: kind:faint, photo:NAME, size:448|352, edit:KIND,
de:LO-HI (the edit's mean CIE76 ΔE over its changed pixels; same buckets as the UI set),
nuisance:jpeg85 / jpeg75 / noise2 / noise3 / bright6 (clones get no de: tag: they move
texture, their ΔE is large).
Change-free pairs: B = A re-saved as JPEG q75 and q85, A plus Gaussian noise σ 2 and σ 3,
and A made 6 % brighter (×1.06, rounded, clipped).
Deterministic: numpy.random.default_rng(SEED) only.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import color, data

SEED = 1212
BUCKETS = [(3, 5), (5, 8), (8, 12), (12, 18), (18, 26)]


def photos() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_images

    out = {}
    for name in ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina"]:
        out[name] = np.ascontiguousarray(getattr(data, name)()[..., :3])
    out["motorcycle"] = np.ascontiguousarray(data.stereo_motorcycle()[0][..., :3])
    for name, img in zip(["china", "flower"], load_sample_images().images):
        out[name] = np.ascontiguousarray(img[..., :3])
    return dict(sorted(out.items()))


def scaled(arr, long_side):
    h, w = arr.shape[:2]
    s = long_side / max(h, w)
    return np.asarray(Image.fromarray(arr).resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS))


def to_u8(f):
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def de76(a, b):
    return np.sqrt(((color.rgb2lab(a) - color.rgb2lab(b)) ** 2).sum(-1))


def bucket(de):
    for lo, hi in BUCKETS:
        if lo <= de < hi:
            return f"de:{lo}-{hi}"
    return "de:<3" if de < 3 else "de:26+"


def bbox(mask):
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def local_std(L, win):
    """Standard deviation of L over each win x win window (top-left anchored)."""
    from scipy.ndimage import uniform_filter

    m = uniform_filter(L, win, mode="reflect")
    m2 = uniform_filter(L * L, win, mode="reflect")
    return np.sqrt(np.maximum(m2 - m * m, 0))


def ellipse(h, w):
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).ellipse([0, 0, w - 1, h - 1], fill=255)
    return np.asarray(m) > 0


def pick(rng, score, w, h, frac, low=True, avoid=None):
    """A top-left corner for a w x h window among the windows whose score (sampled at the
    window centre) is in the lowest (or highest) `frac`, optionally far from `avoid`."""
    H, W = score.shape
    ys, xs = np.mgrid[h // 2:H - h + h // 2:4, w // 2:W - w + w // 2:4]
    s = score[ys, xs].ravel()
    order = np.argsort(s if low else -s)[:max(1, int(len(s) * frac))]
    for _ in range(200):
        k = order[int(rng.integers(len(order)))]
        x, y = int(xs.ravel()[k] - w // 2), int(ys.ravel()[k] - h // 2)
        if avoid is None or abs(x - avoid[0]) > 2 * w or abs(y - avoid[1]) > 2 * h:
            return x, y
    return None


def tint(rng, a):
    H, W = a.shape[:2]
    for _ in range(200):
        w, h = int(rng.integers(40, 121)), int(rng.integers(40, 121))
        x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        if a[y:y + h, x:x + w].max() <= 255 - 18:
            b = a.copy()
            b[y:y + h, x:x + w] = a[y:y + h, x:x + w] + 18
            return b, f"+18 levels over {w}x{h} at ({x}, {y})"
    return None


def recolour(rng, a, target):
    H, W = a.shape[:2]
    L = color.rgb2lab(a)[..., 0]
    for _ in range(60):
        w, h = int(rng.integers(24, 49)), int(rng.integers(24, 49))
        if np.pi / 4 * w * h < 400:
            continue
        std = local_std(L, max(w, h))
        at = pick(rng, std, w, h, 0.10)
        if at is None:
            continue
        x, y = at
        m = ellipse(h, w)
        reg = a[y:y + h, x:x + w]
        lab = color.rgb2lab(reg)
        t = rng.uniform(0, 2 * np.pi)
        lab[..., 1] += target * np.cos(t)
        lab[..., 2] += target * np.sin(t)
        rgb = to_u8(np.clip(color.lab2rgb(lab), 0, 1) * 255)
        b = a.copy()
        b[y:y + h, x:x + w][m] = rgb[m]
        changed = np.any(b != a, axis=-1)
        if changed.sum() < 400:
            continue
        de = de76(a, b)[changed]
        if not 4.0 <= de.mean() <= 8.5:  # gamut clipping near black or white, or rounding
            continue
        return b, f"pale recolour over a {w}x{h} ellipse at ({x}, {y}) (local std of L {std[y + h // 2, x + w // 2]:.2f})"
    return None


def clone(rng, a):
    L = color.rgb2lab(a)[..., 0]
    for _ in range(60):
        s = int(rng.integers(28, 57))
        std = local_std(L, s)
        dst = pick(rng, std, s, s, 0.30, low=False)
        src = pick(rng, std, s, s, 0.30, low=False, avoid=dst)
        if dst is None or src is None:
            continue
        b = a.copy()
        b[dst[1]:dst[1] + s, dst[0]:dst[0] + s] = a[src[1]:src[1] + s, src[0]:src[0] + s]
        if np.any(b != a, axis=-1).sum() < 0.9 * s * s:
            continue
        return b, f"{s}x{s} patch from ({src[0]}, {src[1]}) cloned to ({dst[0]}, {dst[1]})"
    return None


def nuisance(rng, kind, img):
    if kind.startswith("jpeg"):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(kind[4:]))
        return buf.getvalue()
    if kind.startswith("noise"):
        return to_u8(img + rng.normal(0, float(kind[5:]), img.shape))
    if kind == "bright6":
        return to_u8(img.astype(np.float64) * 1.06)
    raise ValueError(kind)


def save(out: Path, rel: str, img) -> str:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(img, bytes):
        path.write_bytes(img)
    else:
        Image.fromarray(img).save(path, format="PNG", compress_level=9)
    return rel


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    rng = np.random.default_rng(SEED)
    pairs, skipped = [], []
    for i, (name, full) in enumerate(photos().items()):
        size = 448 if i < 5 else 352
        a = scaled(full, size)
        base = ["kind:faint", f"photo:{name}", f"size:{size}"]
        d = f"{name}-{size}"
        save(out, f"{d}/a.png", a)
        plans = [("tint18", None, None), ("tint18", "jpeg85", None),
                 ("recolour", None, (4.0, 5.5)), ("recolour", None, (5.5, 8.0)),
                 ("recolour", "noise2", (4.0, 8.0)), ("recolour", "jpeg85", (4.0, 8.0)),
                 ("clone", None, None), ("clone", "jpeg85", None)]
        for k, (kind, nk, rng_de) in enumerate(plans):
            pid = f"{d}-{k:02d}-{kind}" + (f"-{nk}" if nk else "")
            if kind == "tint18":
                res = tint(rng, a)
            elif kind == "recolour":
                res = recolour(rng, a, rng.uniform(*rng_de))
            else:
                res = clone(rng, a)
            if res is None:
                skipped.append(f"{pid}: no place found")
                continue
            b, how = res
            changed = np.any(b != a, axis=-1)
            de = de76(a, b)[changed]
            tags = base + [f"edit:{kind}"] + ([bucket(float(de.mean()))] if kind != "clone" else [])
            note = f"{how}; {int(changed.sum())} px changed, ΔE76 mean {de.mean():.1f}, max {de.max():.1f}"
            if nk:
                tags.append(f"nuisance:{nk}")
                note += f"; B then {nk}"
                bb = nuisance(rng, nk, b)
                rel = save(out, f"{d}/{pid}.{'jpg' if nk.startswith('jpeg') else 'png'}", bb)
            else:
                rel = save(out, f"{d}/{pid}.png", b)
            pairs.append({"name": f"faint-{pid}", "a": f"{d}/a.png", "b": rel, "expect": "different",
                          "boxes": [bbox(changed)], "tags": tags, "note": note})
        for nk in ["jpeg75", "jpeg85", "noise2", "noise3", "bright6"]:
            pid = f"{d}-cf-{nk}"
            bb = nuisance(rng, nk, a)
            rel = save(out, f"{d}/{pid}.{'jpg' if nk.startswith('jpeg') else 'png'}", bb)
            pairs.append({"name": f"faint-{pid}", "a": f"{d}/a.png", "b": rel, "expect": "same", "boxes": [],
                          "tags": base + [f"nuisance:{nk}"], "note": f"change-free: {nk}"})
    manifest = {"name": "changeset-faint",
                "note": f"made by scripts/eval/make-changeset-faint.py (seed {SEED}); boxes are [x, y, w, h]",
                "pairs": pairs}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    for s in skipped:
        print(f"make-changeset-faint: skipped {s}", file=sys.stderr)
    n_same = sum(p["expect"] == "same" for p in pairs)
    print(f"make-changeset-faint: {len(pairs)} pairs ({n_same} change-free) -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
