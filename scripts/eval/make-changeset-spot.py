#!/usr/bin/env python3
"""Change-model set, kind 3: spot-the-difference photos, 5-15 small edits per pair, JPEG on
both sides.

Usage: .deps/eval-venv/bin/python scripts/eval/make-changeset-spot.py OUT
       (scripts/eval/make-changeset.sh runs it with OUT = out/changeset/spot)

Photos: the ten photos of make-changeset-faint.py (scikit-image and scikit-learn wheels),
long side 512 px. Three edited pairs per photo (5-8, 8-11 and 12-15 edits) and one
change-free pair. Edit kinds (each small: 8-32 px; one truth box each):
  paint     a filled ellipse, rectangle or triangle in a colour far from the local one
  erase     an elliptical region over local detail inpainted away (OpenCV cv2.inpaint,
            Telea, radius 5)
  recolour  a small ellipse with its (a, b) in CIE Lab rotated by 90-180°
  paste     a small elliptical patch copied from a far part of the same photo
  rotate    a small disc rotated by 90, 180 or 30-60° (cv2.warpAffine, bilinear)
  line+     a thin line (1-2 px, 20-60 px long) added in B
  line-     a thin line present in A and not in B (drawn into A: "removed" in B)
Each edit must be visible (at least 30 pixels with CIE76 ΔE > 10 between the clean A and
B) and lie at least 20 px from every other edit, so one edit = one box. Truth box = the
bounding box of the pixels whose ΔE between the clean A and B exceeds 2.3 (a
just-noticeable difference) within the edit's zone. Then A and B are each saved as JPEG
with their own quality, drawn from 85-90 (Pillow, 4:2:0). The change-free pair is the
photo saved twice, at two such qualities.
Tags: kind:spot, photo:NAME, edits:5-8 / 8-11 / 12-15, nuisance:jpeg-ab (no edit:KIND tags:
a pair holds most kinds, so a per-kind row would repeat the whole set; the note lists the
kinds in the order of the boxes). Deterministic: numpy.random.default_rng(SEED) only.
"""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from skimage import color

SEED = 5151
KINDS = ["paint", "erase", "recolour", "paste", "rotate", "line+", "line-"]
JND, VISIBLE = 2.3, 10.0
GAP = 20  # px between the zones of two edits (spotdiff merges changes closer than 12 px)


def _faint():
    spec = importlib.util.spec_from_file_location("make_changeset_faint",
                                                  Path(__file__).resolve().parent / "make-changeset-faint.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


faint = _faint()
photos, scaled, to_u8, de76, bbox, local_std = (faint.photos, faint.scaled, faint.to_u8, faint.de76, faint.bbox,
                                                faint.local_std)


def soft_ellipse(h, w):
    m = Image.new("L", (w * 4, h * 4), 0)
    ImageDraw.Draw(m).ellipse([0, 0, w * 4 - 1, h * 4 - 1], fill=255)
    return np.asarray(m.reduce(4)).astype(np.float64) / 255.0


def blend(img, x, y, top, alpha):
    h, w = alpha.shape
    reg = img[y:y + h, x:x + w].astype(np.float64)
    img[y:y + h, x:x + w] = to_u8(reg * (1 - alpha[..., None]) + top.astype(np.float64) * alpha[..., None])


def far_colour(rng, reg):
    """A saturated colour far (in Lab) from the region's mean."""
    mean = color.rgb2lab(reg.reshape(1, -1, 3).mean(1, keepdims=True) / 255.0)[0, 0]
    best, best_d = None, -1
    for _ in range(12):
        c = rng.integers(0, 256, 3)
        d = np.linalg.norm(color.rgb2lab(c.reshape(1, 1, 3) / 255.0)[0, 0] - mean)
        if d > best_d:
            best, best_d = c, d
    return tuple(int(v) for v in best)


def draw_aa(img, x, y, w, h, paint):
    """Draws with Pillow at 4x and blends the coverage in (anti-aliased edges)."""
    m = Image.new("L", (w * 4, h * 4), 0)
    paint(ImageDraw.Draw(m), w * 4, h * 4)
    return np.asarray(m.reduce(4)).astype(np.float64) / 255.0


class Editor:
    def __init__(self, rng, detail):
        self.rng = rng
        self.detail = detail  # local std of L (5 px windows)

    def apply(self, kind, a, b, x, y, w, h):
        """Edits b (or a, for line-) in place inside the zone; False when it cannot."""
        rng = self.rng
        H, W = b.shape[:2]
        if kind == "paint":
            shape = int(rng.integers(3))
            col = far_colour(rng, b[y:y + h, x:x + w])

            def paint(d, ww, hh):
                if shape == 0:
                    d.ellipse([0, 0, ww - 1, hh - 1], fill=255)
                elif shape == 1:
                    d.rectangle([0, 0, ww - 1, hh - 1], fill=255)
                else:
                    d.polygon([(ww // 2, 0), (ww - 1, hh - 1), (0, hh - 1)], fill=255)
            alpha = draw_aa(b, x, y, w, h, paint)
            blend(b, x, y, np.broadcast_to(np.array(col, np.uint8), (h, w, 3)), alpha)
        elif kind == "erase":
            if self.detail[y:y + h, x:x + w].mean() < 4:
                return False  # nothing to erase here
            mask = np.zeros((H, W), np.uint8)
            cv2.ellipse(mask, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
            res = cv2.inpaint(np.ascontiguousarray(b[..., ::-1]), mask, 5, cv2.INPAINT_TELEA)[..., ::-1]
            b[mask > 0] = res[mask > 0]
        elif kind == "recolour":
            reg = b[y:y + h, x:x + w]
            lab = color.rgb2lab(reg)
            t = rng.uniform(np.pi / 2, np.pi) * (1 if rng.random() < 0.5 else -1)
            a_, b_ = lab[..., 1].copy(), lab[..., 2].copy()
            lab[..., 1] = a_ * np.cos(t) - b_ * np.sin(t)
            lab[..., 2] = a_ * np.sin(t) + b_ * np.cos(t)
            rgb = np.clip(color.lab2rgb(lab), 0, 1) * 255
            blend(b, x, y, rgb, soft_ellipse(h, w))
        elif kind == "paste":
            for _ in range(20):
                sx, sy = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
                if abs(sx - x) > 3 * w and abs(sy - y) > 3 * h:
                    break
            else:
                return False
            blend(b, x, y, b[sy:sy + h, sx:sx + w].copy(), soft_ellipse(h, w))
        elif kind == "rotate":
            s = min(w, h)
            ang = float(rng.choice([90, 180, rng.uniform(30, 60)]))
            cx, cy = x + s / 2 - 0.5, y + s / 2 - 0.5
            M = cv2.getRotationMatrix2D((cx, cy), ang, 1.0)
            rot = cv2.warpAffine(b, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            alpha = soft_ellipse(s, s)
            blend(b, x, y, rot[y:y + s, x:x + s], alpha)
        elif kind in ("line+", "line-"):
            target = b if kind == "line+" else a
            col = far_colour(rng, target[y:y + h, x:x + w])
            width = int(rng.integers(1, 3)) * 4
            horizontal = w >= h

            def paint(d, ww, hh):
                if horizontal:
                    d.line([(0, hh // 2), (ww - 1, hh // 2 + int(rng.integers(-hh // 3, hh // 3 + 1)))],
                           fill=255, width=width)
                else:
                    d.line([(ww // 2, 0), (ww // 2 + int(rng.integers(-ww // 3, ww // 3 + 1)), hh - 1)],
                           fill=255, width=width)
            alpha = draw_aa(target, x, y, w, h, paint)
            blend(target, x, y, np.broadcast_to(np.array(col, np.uint8), (h, w, 3)), alpha)
        return True


def zone_for(rng, kind, W, H):
    if kind in ("line+", "line-"):
        long_, short = int(rng.integers(20, 61)), int(rng.integers(6, 13))
        w, h = (long_, short) if rng.random() < 0.5 else (short, long_)
    elif kind == "rotate":
        w = h = int(rng.integers(14, 33))
    else:
        w, h = int(rng.integers(8, 33)), int(rng.integers(8, 33))
    x, y = int(rng.integers(2, W - w - 2)), int(rng.integers(2, H - h - 2))
    return x, y, w, h


def apart(r1, r2, gap):
    return (r1[0] + r1[2] + gap <= r2[0] or r2[0] + r2[2] + gap <= r1[0]
            or r1[1] + r1[3] + gap <= r2[1] or r2[1] + r2[3] + gap <= r1[1])


def make_pair(rng, photo, n):
    H, W = photo.shape[:2]
    ed = Editor(rng, local_std(color.rgb2lab(photo)[..., 0], 5))
    a, b = photo.copy(), photo.copy()
    kinds = [KINDS[k % len(KINDS)] for k in rng.permutation(max(n, len(KINDS)))[:n]]
    boxes, zones, done = [], [], []
    for kind in kinds:
        for _ in range(80):
            zone = zone_for(rng, kind, W, H)
            if not all(apart(zone, z, GAP) for z in zones):
                continue
            ta, tb = a.copy(), b.copy()
            if not ed.apply(kind, ta, tb, *zone):
                continue
            x, y, w, h = zone
            de = de76(ta[y:y + h, x:x + w], tb[y:y + h, x:x + w])
            if (de > VISIBLE).sum() < 30:
                continue
            outside = np.any((ta != a) | (tb != b), axis=-1)
            outside[y:y + h, x:x + w] = False
            if outside.any():
                continue
            box = bbox(de > JND)
            boxes.append([box[0] + x, box[1] + y, box[2], box[3]])
            zones.append(zone)
            done.append(kind)
            a, b = ta, tb
            break
    return a, b, boxes, done


def jpeg(rng, img):
    q = int(rng.integers(85, 91))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=q)
    return buf.getvalue(), q


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    pairs, short = [], []
    for name, full in photos().items():
        photo = scaled(full, 512)
        for k, (lo, hi) in enumerate([(5, 8), (8, 11), (12, 15)]):
            want = int(rng.integers(lo, hi + 1))
            for _try in range(3):
                a, b, boxes, kinds = make_pair(rng, photo, want)
                if len(boxes) >= lo:
                    break
            if len(boxes) < lo:
                short.append(f"{name}-{k}: {len(boxes)} of {want} edits placed")
                continue
            pid = f"{name}-{k}"
            ja, qa = jpeg(rng, a)
            jb, qb = jpeg(rng, b)
            (out / f"{pid}-a.jpg").write_bytes(ja)
            (out / f"{pid}-b.jpg").write_bytes(jb)
            tags = ["kind:spot", f"photo:{name}", f"edits:{lo}-{hi}", "nuisance:jpeg-ab"]
            pairs.append({"name": f"spot-{pid}", "a": f"{pid}-a.jpg", "b": f"{pid}-b.jpg", "expect": "different",
                          "boxes": boxes, "tags": tags,
                          "note": f"{len(boxes)} edits ({', '.join(kinds)}); A JPEG q{qa}, B JPEG q{qb}"})
        ja, qa = jpeg(rng, photo)
        jb, qb = jpeg(rng, photo)
        (out / f"{name}-cf-a.jpg").write_bytes(ja)
        (out / f"{name}-cf-b.jpg").write_bytes(jb)
        pairs.append({"name": f"spot-{name}-cf", "a": f"{name}-cf-a.jpg", "b": f"{name}-cf-b.jpg", "expect": "same",
                      "boxes": [], "tags": ["kind:spot", f"photo:{name}", "nuisance:jpeg-ab"],
                      "note": f"change-free: the photo saved as JPEG q{qa} and q{qb}"})
    manifest = {"name": "changeset-spot",
                "note": f"made by scripts/eval/make-changeset-spot.py (seed {SEED}); boxes are [x, y, w, h]",
                "pairs": pairs}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for s in short:
        print(f"make-changeset-spot: skipped {s}", file=sys.stderr)
    n_boxes = sum(len(p["boxes"]) for p in pairs)
    print(f"make-changeset-spot: {len(pairs)} pairs, {n_boxes} edits -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
