#!/usr/bin/env python3
"""Generate spotdiff's evaluation set: realistic edits with known boxes on real photos.

Writes (default OUT = out/evalset, git-ignored; nothing here is committed):
  OUT/manifest.json        pairs with truth boxes, masks and tags (format: EVALUATION.md)
  OUT/pairs/NAME-a.png     reference image
  OUT/pairs/NAME-b.png     edited and/or disturbed copy
  OUT/masks/NAME.png       truth mask (white = pixel changed by an edit), edited pairs only
  OUT/rank/...             graded edits of one photo plus unrelated photos, for `rank`

Run:  bash scripts/setup/setup-eval.sh && .deps/eval-venv/bin/python scripts/eval/make-evalset.py [OUT]

Photos: the colour sample photos inside the scikit-image 0.26.0 wheel (astronaut, chelsea,
coffee, rocket, hubble_deep_field, ihc, motorcycle_left, retina; public domain / CC0, see
skimage/data/README.txt) and scikit-learn's sample images (china, flower). Each is scaled
to several sizes (long side 256, 384 and 512 px: a noisy full-frame pair costs the
pipeline about 2 s per megapixel, and the whole evaluation must run in minutes).

Edit kinds (each gives one truth box: the bounding box of the pixels whose CIE76 ΔE
between A and the cleanly edited B exceeds JND = 2.3; an edit is retried elsewhere until
it is clearly visible):
  erase     an object region covered by texture cloned from beside it
  paste     an object cut (soft elliptical mask) from another photo, pasted in
  recolour  isoluminant recolouring: Lab a/b rotated and pushed, L kept
  text      a word drawn with Pillow's bundled font
  move      a region moved by 5-12 px (its old place cloned over)
Nuisances (applied to the whole of B after the edits; must not produce boxes):
  jpeg (q 70-90), brightness (x0.93-1.07), noise (Gaussian σ 2-3), shift (1-2 px,
  truth boxes shifted with it), blur (Gaussian σ 0.6-0.8).
Change-free pairs: B = A with one nuisance, or B identical to A.

Deterministic: numpy.random.default_rng(SEED) only; same pinned packages
(scripts/eval/requirements.txt) give the same files.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import color, data

SEED = 4242
JND = 2.3
VISIBLE = 12.0  # an edit must change a good share of its region by at least this ΔE
SIZES = [256, 384, 512]
EDIT_KINDS = ["erase", "paste", "recolour", "text", "move"]
NUISANCES = ["jpeg", "brightness", "noise", "shift", "blur"]
WORDS = ["SALE", "Draft", "v2.1", "OK", "Total 42", "beta", "#17", "Exit", "NEW", "x3"]


def photos() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_images

    out = {}
    for name in ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                 "retina"]:
        out[name] = np.ascontiguousarray(getattr(data, name)()[..., :3])
    out["motorcycle"] = np.ascontiguousarray(data.stereo_motorcycle()[0][..., :3])
    sk = load_sample_images()
    for name, img in zip(["china", "flower"], sk.images):
        out[name] = np.ascontiguousarray(img[..., :3])
    return out


def scaled(arr: np.ndarray, long_side: int) -> np.ndarray:
    h, w = arr.shape[:2]
    s = long_side / max(h, w)
    size = (max(16, round(w * s)), max(16, round(h * s)))
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))


def to_u8(f):
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def delta_e(a, b):
    return np.sqrt(((color.rgb2lab(a) - color.rgb2lab(b)) ** 2).sum(axis=-1))


def ellipse_mask(h, w, feather=1.0):
    """Soft ellipse filling an h x w box (0..1)."""
    m = Image.new("L", (w * 4, h * 4), 0)
    ImageDraw.Draw(m).ellipse([0, 0, w * 4 - 1, h * 4 - 1], fill=255)
    m = m.reduce(4)
    if feather > 0:
        m = m.filter(ImageFilter.GaussianBlur(feather))
    return np.asarray(m).astype(np.float64) / 255.0


def blend_into(img, x, y, top, alpha):
    h, w = alpha.shape
    reg = img[y:y + h, x:x + w].astype(np.float64)
    a = alpha[..., None]
    img[y:y + h, x:x + w] = to_u8(reg * (1 - a) + top.astype(np.float64) * a)


class Editor:
    def __init__(self, rng, library):
        self.rng = rng
        self.library = library  # other photos, for paste

    def region(self, img, scale):
        H, W = img.shape[:2]
        short = min(H, W)
        w = int(short * scale * self.rng.uniform(0.7, 1.3))
        h = int(short * scale * self.rng.uniform(0.7, 1.3))
        w, h = max(w, 10), max(h, 10)
        x = int(self.rng.integers(4, max(5, W - w - 4)))
        y = int(self.rng.integers(4, max(5, H - h - 4)))
        return x, y, w, h

    def apply(self, kind, img, rect):
        x, y, w, h = rect
        H, W = img.shape[:2]
        rng = self.rng
        if kind == "erase":
            # clone texture from beside the region (left/right/up/down, whichever fits)
            options = [(dx, dy) for dx, dy in [(-w - 6, 0), (w + 6, 0), (0, -h - 6), (0, h + 6)]
                       if 0 <= x + dx and x + dx + w <= W and 0 <= y + dy and y + dy + h <= H]
            if not options:
                return False
            dx, dy = options[int(rng.integers(len(options)))]
            src = img[y + dy:y + dy + h, x + dx:x + dx + w].copy()
            blend_into(img, x, y, src, ellipse_mask(h, w, 1.5))
        elif kind == "paste":
            other = self.library[int(rng.integers(len(self.library)))]
            oh, ow = other.shape[:2]
            if ow <= w or oh <= h:
                return False
            sx, sy = int(rng.integers(0, ow - w)), int(rng.integers(0, oh - h))
            blend_into(img, x, y, other[sy:sy + h, sx:sx + w], ellipse_mask(h, w, 1.0))
        elif kind == "recolour":
            reg = img[y:y + h, x:x + w]
            lab = color.rgb2lab(reg)
            t = rng.uniform(np.pi / 2, 3 * np.pi / 2)
            a, b = lab[..., 1], lab[..., 2]
            push = rng.uniform(25, 40) * np.array([np.cos(t + 1), np.sin(t + 1)])
            lab2 = lab.copy()
            lab2[..., 1] = a * np.cos(t) - b * np.sin(t) + push[0]
            lab2[..., 2] = a * np.sin(t) + b * np.cos(t) + push[1]
            rgb = np.clip(color.lab2rgb(lab2), 0, 1) * 255
            blend_into(img, x, y, rgb, ellipse_mask(h, w, 1.0))
        elif kind == "text":
            word = WORDS[int(rng.integers(len(WORDS)))]
            size = max(10, int(h * 0.8))
            font = ImageFont.load_default(size=size)
            im = Image.fromarray(img)
            d = ImageDraw.Draw(im)
            l, t_, r, bt = d.textbbox((0, 0), word, font=font)
            if x + (r - l) + 4 > W or y + (bt - t_) + 4 > H:
                return False
            reg = img[y:y + bt - t_, x:x + r - l]
            ink = (250, 250, 250) if reg.mean() < 128 else (10, 10, 10)
            hue = [(230, 40, 40), (30, 60, 220), (250, 210, 30), ink][int(rng.integers(4))]
            d.text((x - l, y - t_), word, font=font, fill=hue)
            img[:] = np.asarray(im)
        elif kind == "move":
            d = int(rng.integers(5, 13)) * (1 if rng.random() < 0.5 else -1)
            horizontal = rng.random() < 0.5
            dx, dy = (d, 0) if horizontal else (0, d)
            if not (0 <= x + dx and x + dx + w <= W and 0 <= y + dy and y + dy + h <= H):
                return False
            obj = img[y:y + h, x:x + w].copy()
            mask = ellipse_mask(h, w, 1.0)
            # fill the old place from beside it, then put the object down moved
            sx = x - w - 6 if x - w - 6 >= 0 else x + w + 6
            if sx + w > W:
                return False
            blend_into(img, x, y, img[y:y + h, sx:sx + w].copy(), mask)
            blend_into(img, x + dx, y + dy, obj, mask)
        return True


def grow(rect, by, W, H):
    x, y, w, h = rect
    return max(0, x - by), max(0, y - by), min(W, x + w + by), min(H, y + h + by)


def apart(r1, r2, gap):
    return (r1[0] + r1[2] + gap <= r2[0] or r2[0] + r2[2] + gap <= r1[0]
            or r1[1] + r1[3] + gap <= r2[1] or r2[1] + r2[3] + gap <= r1[1])


def edit_image(editor, a, kinds, scale):
    """Apply one edit per kind; returns (b, boxes, mask) or None. Every edit must be clearly
    visible and lie apart from the others (so one edit = one box)."""
    H, W = a.shape[:2]
    b = a.copy()
    boxes, regions = [], []
    for kind in kinds:
        for _attempt in range(30):
            rect = editor.region(b, scale)
            if kind == "text":
                rect = (rect[0], rect[1], rect[2], max(12, rect[3] // 2))
            zone = grow(rect, 14, W, H)  # moves and feathering reach beyond the rect
            zr = (zone[0], zone[1], zone[2] - zone[0], zone[3] - zone[1])
            if not all(apart(zr, r, 24) for r in regions):
                continue
            trial = b.copy()
            if not editor.apply(kind, trial, rect):
                continue
            x0, y0, x1, y1 = zone
            de = delta_e(a[y0:y1, x0:x1], trial[y0:y1, x0:x1])
            strong = de > VISIBLE
            if strong.sum() < max(40, 0.25 * rect[2] * rect[3] if kind != "text" else 40):
                continue
            # nothing outside the zone may change
            outside = np.any(trial != b, axis=-1)
            outside[y0:y1, x0:x1] = False
            if outside.any():
                continue
            ys, xs = np.nonzero(de > JND)
            boxes.append([int(xs.min() + x0), int(ys.min() + y0), int(xs.max() - xs.min() + 1),
                          int(ys.max() - ys.min() + 1)])
            regions.append(zr)
            b = trial
            break
        else:
            return None
    de = delta_e(a, b)
    mask = de > JND
    return b, boxes, mask


def nuisance(rng, kind, img):
    """Returns (disturbed image, (dx, dy) content shift)."""
    if kind == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(rng.integers(70, 91)))
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), (0, 0)
    if kind == "brightness":
        f = rng.uniform(0.93, 0.97) if rng.random() < 0.5 else rng.uniform(1.03, 1.07)
        return to_u8(img.astype(np.float64) * f), (0, 0)
    if kind == "noise":
        return to_u8(img + rng.normal(0, rng.uniform(2, 3), img.shape)), (0, 0)
    if kind == "shift":
        dx, dy = [int(v) for v in rng.choice([-2, -1, 1, 2], 2)]
        if rng.random() < 0.5:
            dy = 0
        h, w = img.shape[:2]
        ys = np.clip(np.arange(h) - dy, 0, h - 1)
        xs = np.clip(np.arange(w) - dx, 0, w - 1)
        return img[ys][:, xs], (dx, dy)
    if kind == "blur":
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 0.8)))), (0, 0)
    raise ValueError(kind)


def shift_boxes(boxes, mask, d, W, H):
    dx, dy = d
    if dx == 0 and dy == 0:
        return boxes, mask
    out = []
    for x, y, w, h in boxes:
        x0, y0 = max(0, x + dx), max(0, y + dy)
        x1, y1 = min(W, x + w + dx), min(H, y + h + dy)
        out.append([x0, y0, x1 - x0, y1 - y0])
    ys = np.clip(np.arange(H) - dy, 0, H - 1)
    xs = np.clip(np.arange(W) - dx, 0, W - 1)
    return out, mask[ys][:, xs]


def save_png(path: Path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG", compress_level=1)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/evalset")
    rng = np.random.default_rng(SEED)
    lib = photos()
    names = sorted(lib)
    pairs = []

    for size in SIZES:
        scaled_lib = {n: scaled(lib[n], size) for n in names}
        for name in names:
            a = scaled_lib[name]
            H, W = a.shape[:2]
            others = [scaled_lib[n] for n in names if n != name]
            editor = Editor(rng, others)
            tag_base = [f"size:{size}", f"photo:{name}"]
            # change-free: identical, then one nuisance each
            plans = [("same", [], None)] if name in ("astronaut", "coffee") else []
            for nk in rng.permutation(NUISANCES)[:3]:
                plans.append(("same", [], str(nk)))
            # edited: 1-3 edits of random kinds, a nuisance on most
            for i in range(6):
                n_edits = int(rng.integers(1, 4))
                kinds = [str(k) for k in rng.choice(EDIT_KINDS, n_edits, replace=False)]
                # every kind appears alone at least once per photo and size
                if i < len(EDIT_KINDS):
                    kinds = [EDIT_KINDS[(i + names.index(name)) % len(EDIT_KINDS)]]
                nk = str(rng.choice(NUISANCES)) if rng.random() < 0.6 else None
                plans.append(("different", kinds, nk))
            for idx, (expect, kinds, nk) in enumerate(plans):
                pid = f"{name}-{size}-{idx:02d}"
                mask = None
                boxes = []
                b = a.copy()
                if kinds:
                    res = None
                    for _ in range(5):
                        res = edit_image(editor, a, kinds, rng.uniform(0.06, 0.16))
                        if res:
                            break
                    if res is None:
                        print(f"make-evalset: skipped {pid} (no room for {kinds})", file=sys.stderr)
                        continue
                    b, boxes, mask = res
                if nk:
                    b, d = nuisance(rng, nk, b)
                    if mask is not None:
                        boxes, mask = shift_boxes(boxes, mask, d, W, H)
                tags = tag_base + [f"edit:{k}" for k in kinds] + ([f"nuisance:{nk}"] if nk else [])
                if not kinds and not nk:
                    tags.append("identical")
                entry = {"name": pid, "a": f"pairs/{pid}-a.png", "b": f"pairs/{pid}-b.png",
                         "expect": expect, "boxes": boxes, "tags": tags}
                save_png(out / entry["a"], a)
                save_png(out / entry["b"], b)
                if mask is not None:
                    entry["mask"] = f"masks/{pid}.png"
                    save_png(out / entry["mask"], (mask * 255).astype(np.uint8))
                pairs.append(entry)

    # ranking: graded edits of one photo, plus unrelated photos (other sizes on purpose)
    rankings = []
    for ref_name in ["astronaut", "coffee", "china", "motorcycle"]:
        a = scaled(lib[ref_name], 512)
        others = [scaled(lib[n], 512) for n in names if n != ref_name]
        editor = Editor(rng, others)
        folder = f"rank/{ref_name}"
        save_png(out / folder / "ref.png", a)
        cands = []
        b, _ = nuisance(rng, "jpeg", a)
        save_png(out / folder / "sev0.png", b)
        cands.append({"path": f"{folder}/sev0.png", "severity": 0})
        for sev in range(1, 7):
            kinds = [EDIT_KINDS[(sev + j) % len(EDIT_KINDS)] for j in range(sev)]
            res = None
            for _ in range(10):
                res = edit_image(editor, a, kinds, 0.05 + 0.025 * sev)
                if res:
                    break
            assert res, f"rank set: no room for severity {sev} on {ref_name}"
            save_png(out / folder / f"sev{sev}.png", res[0])
            cands.append({"path": f"{folder}/sev{sev}.png", "severity": sev})
        for n in [n for n in names if n != ref_name][:3]:
            u = scaled(lib[n], 400)
            save_png(out / folder / f"unrelated-{n}.png", u)
            cands.append({"path": f"{folder}/unrelated-{n}.png", "unrelated": True})
        rankings.append({"name": ref_name, "ref": f"{folder}/ref.png", "candidates": cands})

    manifest = {
        "schema": 1,
        "name": "generated",
        "note": "made by scripts/eval/make-evalset.py (seed %d); boxes are [x, y, w, h]" % SEED,
        "pairs": pairs,
        "rankings": rankings,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    n_same = sum(p["expect"] == "same" for p in pairs)
    print(f"make-evalset: {len(pairs)} pairs ({n_same} change-free), {len(rankings)} rankings -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
