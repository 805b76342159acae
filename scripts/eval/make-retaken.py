#!/usr/bin/env python3
"""Re-taken photo pairs: the same scene photographed twice, one object changed.

Usage: .deps/eval-venv/bin/python scripts/eval/make-retaken.py OUT [SEED]   (e.g. out/retaken;
       SEED 13 by default: the set DEEP_CONFIRM was measured on; another seed is a held-out set)
Then:  target/release/spotdiff eval OUT/manifest.json --align auto [--model none]

Photos: the ten photos of make-changeset-faint.py (scikit-image and scikit-learn
wheels), long side 448 px. For each photo, four pairs, A = the photo:
  paste    an elliptical patch (44-72 px) copied from a far part of the photo onto
           another place (feathered edge)
  move     the same, and the patch's old place inpainted (OpenCV Telea): two boxes
  remove   an elliptical region over local detail (40-64 px) inpainted away
  none     no edit (change-free: expect no box)
and B = the (edited) scene "taken again": a perspective change (corners moved by up
to 1.2 % of the size, a rotation of up to 0.8°, a zoom of 2-4 % that crops the border),
a white-balance change (channel gains 0.92-1.08), a lighting change (gamma 0.9-1.1 and
a brightness ramp of up to ±8 % across the frame), then JPEG (quality 88-92) on both
sides. The truth boxes are in A's frame: the bounding box of the pixels where the edit
changed the scene by CIE76 ΔE > 2.3. Each edit must be visible (at least 150 pixels at
ΔE > 10). Tags: kind:retaken, edit:KIND, photo:NAME. Deterministic (numpy's generator, one seed).
"""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("faint", HERE / "make-changeset-faint.py")
faint = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faint)

SEED = 13
LONG = 448


def ellipse_mask(h, w, cy, cx, ry, rx, feather=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    edge = feather / min(ry, rx)
    return np.clip((1 + edge - d) / (2 * edge), 0, 1)


def place(rng, h, w, ry, rx, avoid=(), gap=0):
    for _ in range(500):
        cy = int(rng.integers(ry + 8, h - ry - 8))
        cx = int(rng.integers(rx + 8, w - rx - 8))
        if all(abs(cy - y) > ry + r2y + gap or abs(cx - x) > rx + r2x + gap for y, x, r2y, r2x in avoid):
            return cy, cx
    raise RuntimeError("no room")


def textured(rng, a, h, w, ry, rx, avoid=()):
    """A place over local detail (high local standard deviation)."""
    L = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(L, (31, 31))
    std = np.sqrt(np.maximum(cv2.blur(L * L, (31, 31)) - mean * mean, 0))
    best, best_s = None, -1
    for _ in range(60):
        try:
            cy, cx = place(rng, h, w, ry, rx, avoid)
        except RuntimeError:
            break
        if std[cy, cx] > best_s:
            best, best_s = (cy, cx), std[cy, cx]
    return best


def paste(rng, a, remove_source):
    h, w = a.shape[:2]
    ry, rx = (int(rng.integers(22, 37)) for _ in range(2))
    sy, sx = textured(rng, a, h, w, ry, rx)
    dy, dx = place(rng, h, w, ry, rx, avoid=[(sy, sx, ry, rx)], gap=40)
    m = ellipse_mask(h, w, dy, dx, ry, rx)[..., None]
    shifted = np.roll(np.roll(a.astype(np.float32), dy - sy, axis=0), dx - sx, axis=1)
    b = a.astype(np.float32) * (1 - m) + shifted * m
    b = faint.to_u8(b)
    zones = [(dy, dx, ry, rx)]
    if remove_source:
        hole = (ellipse_mask(h, w, sy, sx, ry, rx, feather=0.5) > 0.5).astype(np.uint8) * 255
        b = cv2.inpaint(b, hole, 5, cv2.INPAINT_TELEA)
        zones.append((sy, sx, ry, rx))
    return b, zones


def remove(rng, a):
    h, w = a.shape[:2]
    ry, rx = (int(rng.integers(20, 33)) for _ in range(2))
    cy, cx = textured(rng, a, h, w, ry, rx)
    hole = (ellipse_mask(h, w, cy, cx, ry, rx, feather=0.5) > 0.5).astype(np.uint8) * 255
    return cv2.inpaint(a, hole, 5, cv2.INPAINT_TELEA), [(cy, cx, ry, rx)]


def retake(rng, img):
    """The scene photographed again: perspective, zoom, white balance, lighting."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    zoom = 1 + rng.uniform(0.02, 0.04)
    ang = np.deg2rad(rng.uniform(-0.8, 0.8))
    c, s = np.cos(ang) * zoom, np.sin(ang) * zoom
    centre = np.array([w / 2, h / 2])
    dst = []
    for p in src:
        q = p - centre
        q = np.array([c * q[0] - s * q[1], s * q[0] + c * q[1]]) + centre
        q += rng.uniform(-0.012, 0.012, 2) * np.array([w, h])
        dst.append(q)
    H = cv2.getPerspectiveTransform(src, np.float32(dst))
    b = cv2.warpPerspective(img, H, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    f = b.astype(np.float32) / 255
    f = f ** rng.uniform(0.9, 1.1)
    f *= rng.uniform(0.92, 1.08, 3)
    ramp = rng.uniform(-0.08, 0.08)
    axis = rng.integers(2)
    t = (np.arange(w if axis == 0 else h) / (w if axis == 0 else h) - 0.5) * 2 * ramp
    f *= (1 + (t[None, :, None] if axis == 0 else t[:, None, None]))
    return faint.to_u8(f * 255)


def jpeg(img, q):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(q))
    return buf.getvalue()


def main() -> int:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else SEED
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pairs = []
    for name, full in faint.photos().items():
        a = np.ascontiguousarray(faint.scaled(full, LONG)[..., :3])
        (out / f"{name}-a.jpg").write_bytes(jpeg(a, rng.integers(88, 93)))
        for kind in ["paste", "move", "remove", "none"]:
            for _ in range(20):
                if kind == "paste":
                    scene, zones = paste(rng, a, False)
                elif kind == "move":
                    scene, zones = paste(rng, a, True)
                elif kind == "remove":
                    scene, zones = remove(rng, a)
                else:
                    scene, zones = a, []
                de = faint.de76(a, scene)
                if kind == "none" or (de > 10).sum() >= 150 * len(zones):
                    break
            boxes = []
            for cy, cx, ry, rx in zones:
                zone = np.zeros(de.shape, bool)
                zone[max(cy - ry - 4, 0):cy + ry + 5, max(cx - rx - 4, 0):cx + rx + 5] = True
                changed = zone & (de > 2.3)
                if changed.any():
                    boxes.append(faint.bbox(changed))
            b = retake(rng, scene)
            rel = f"{name}-{kind}-b.jpg"
            (out / rel).write_bytes(jpeg(b, rng.integers(88, 93)))
            pairs.append({
                "name": f"retaken-{name}-{kind}",
                "a": f"{name}-a.jpg",
                "b": rel,
                "expect": "same" if kind == "none" else "different",
                "boxes": boxes,
                "tags": ["kind:retaken", f"edit:{kind}", f"photo:{name}"],
            })
    manifest = {
        "name": "retaken",
        "note": f"made by scripts/eval/make-retaken.py (seed {seed}); boxes are [x, y, w, h] in A's frame; "
                "compare with --align auto",
        "pairs": pairs,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {len(pairs)} pairs to {out}/manifest.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
