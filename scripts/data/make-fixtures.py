#!/usr/bin/env python3
"""Make the committed test fixtures and README demo images of spotdiff.

Writes
  tests/fixtures/NAME-a.png, NAME-b.png   image pairs whose names say the expected result
  tests/fixtures/truth.json               every pair: expect "same" | "different" and boxes
  examples/before.png, examples/after.png demo pair for the README
  examples/truth.json                     its true boxes, same format

Run (from the repository root; a throwaway venv, pinned packages, nothing else needed):

  python3 -m venv .deps/fixtures-venv
  .deps/fixtures-venv/bin/pip install -r scripts/data/requirements.txt
  .deps/fixtures-venv/bin/python scripts/data/make-fixtures.py           # (re)write the files
  .deps/fixtures-venv/bin/python scripts/data/make-fixtures.py --check   # compare, write nothing

Deterministic: no clock, no unseeded randomness (numpy.random.default_rng(SEED) only),
PNGs written by Pillow without metadata. With the pinned versions of
scripts/data/requirements.txt (Python 3.11, x86-64 Linux wheels) the output is
byte-for-byte the committed files; `--check` regenerates in memory and exits 1 on any
difference. Other Pillow versions may rasterise text or compress PNGs differently
(bundled FreeType / zlib), which changes bytes but not the boxes.

Sources (all inside the scikit-image 0.26.0 wheel, skimage/data/; see examples/README.md):
  rocket.jpg   public domain (SpaceX photo of DSCOVR on Falcon 9)
  astronaut.png public domain (NASA, Eileen Collins)
  coffee.png   CC0 (Rachel Michetti)
  chelsea.png  CC0 (Stefan van der Walt)
Text is drawn with Pillow's bundled default TrueType font (Aileron Regular, CC0,
ImageFont.load_default(size=...)), so no system font is involved.

Truth boxes are [x, y, w, h] in pixels, computed from the images themselves: the bounding
box of the pixels whose CIE76 colour difference between A and B exceeds JND = 2.3,
taken separately inside each edit's region. The script also asserts that no pixel
outside the edit regions differs at all, so the boxes are the whole truth.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import PIL
import skimage
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from skimage import color, data
from skimage.restoration import inpaint_biharmonic

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = "tests/fixtures"
EXAMPLES = "examples"
SEED = 20240611
JND = 2.3  # CIE76 ΔE of one just-noticeable difference
SS = 4  # supersampling factor for drawn shapes and text

PINNED = {"PIL": "12.3.0", "numpy": "2.4.6", "skimage": "0.26.0"}


# ----------------------------------------------------------------------------- helpers
def font(size: float) -> ImageFont.FreeTypeFont:
    f = ImageFont.load_default(size=size)
    assert isinstance(f, ImageFont.FreeTypeFont), "Pillow without FreeType"
    return f


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as HxWx3 uint8."""
    arr = getattr(data, name)()
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, name
    return arr


def resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))


def crop(arr: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    assert 0 <= x and 0 <= y and x + w <= arr.shape[1] and y + h <= arr.shape[0]
    return arr[y : y + h, x : x + w].copy()


def to_u8(f: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """base*(1-alpha) + top*alpha, alpha HxW in 0..1; uint8 out."""
    a = alpha[..., None]
    return to_u8(base.astype(np.float64) * (1 - a) + top.astype(np.float64) * a)


def shifted(arr: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """out[y, x] = arr[y + dy, x + dx] (edges clamped): the clone-stamp source."""
    h, w = arr.shape[:2]
    ys = np.clip(np.arange(h) + dy, 0, h - 1)
    xs = np.clip(np.arange(w) + dx, 0, w - 1)
    return arr[ys][:, xs]


def mask_from_drawing(size: tuple[int, int], draw_fn, blur: float = 0.0) -> np.ndarray:
    """Anti-aliased coverage mask (0..1): draw_fn(ImageDraw, scale) at SS x, box-reduced."""
    w, h = size
    m = Image.new("L", (w * SS, h * SS), 0)
    draw_fn(ImageDraw.Draw(m), SS)
    m = m.reduce(SS)
    if blur > 0:
        m = m.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(m).astype(np.float64) / 255.0


def lab(arr: np.ndarray) -> np.ndarray:
    return color.rgb2lab(arr)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((lab(a) - lab(b)) ** 2).sum(axis=-1))


def luma601(rgb) -> float:
    r, g, b = (float(v) for v in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


def lstar(rgb) -> float:
    return float(lab(np.array([[rgb]], dtype=np.uint8))[0, 0, 0])


def truth_boxes(a: np.ndarray, b: np.ndarray, regions: list[tuple[int, int, int, int]]):
    """One box per edit region: bbox of pixels with ΔE > JND inside it. Asserts that no
    pixel outside the regions differs and that every region holds a visible change."""
    de = delta_e(a, b)
    anydiff = np.any(a != b, axis=-1)
    inside = np.zeros(de.shape, dtype=bool)
    boxes = []
    for x0, y0, x1, y1 in regions:
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, de.shape[1]), min(y1, de.shape[0])
        inside[y0:y1, x0:x1] = True
        ys, xs = np.nonzero(de[y0:y1, x0:x1] > JND)
        assert len(xs), f"edit region {(x0, y0, x1, y1)} holds no visible change"
        bx, by = int(xs.min()) + x0, int(ys.min()) + y0
        boxes.append([bx, by, int(xs.max()) + x0 - bx + 1, int(ys.max()) + y0 - by + 1])
    stray = anydiff & ~inside
    assert not stray.any(), f"{int(stray.sum())} changed pixels outside the edit regions"
    return boxes


def png_bytes(arr: np.ndarray) -> bytes:
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def json_bytes(obj) -> bytes:
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    # one box per line: [x, y, w, h]
    text = re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3, \4]", text)
    return (text + "\n").encode("utf-8")


class Outputs:
    """Collects every output file (relative path -> bytes) before anything is written."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.fixtures: list[dict] = []

    def pair(self, name, a, b, expect, boxes, note, folder=FIXTURES, names=None):
        assert a.shape == b.shape
        fa, fb = names or (f"{name}-a.png", f"{name}-b.png")
        self.files[f"{folder}/{fa}"] = png_bytes(a)
        self.files[f"{folder}/{fb}"] = png_bytes(b)
        entry = {"name": name, "a": fa, "b": fb, "expect": expect, "boxes": boxes, "note": note}
        if expect == "same":
            assert boxes == []
        else:
            assert boxes
        return entry


# ----------------------------------------------------------------------------- A. fixtures
TEXT_SIZE = (360, 120)
TEXT_INK = (33, 37, 41)
TEXT_LINES = [(14, 24, "Invoice #4711   Total: 120.00 EUR"), (14, 70, "Status: draft (3 items)     Save")]


def render_text(lines, offset_hr=(0, 0)) -> np.ndarray:
    """Two lines of UI text, FreeType anti-aliased at SS x and box-reduced; offset_hr moves
    the text by whole high-resolution pixels (1 = 1/SS of an output pixel)."""
    w, h = TEXT_SIZE
    im = Image.new("RGB", (w * SS, h * SS), (255, 255, 255))
    d = ImageDraw.Draw(im)
    f = font(18 * SS)
    for x, y, text in lines:
        d.text((x * SS + offset_hr[0], y * SS + offset_hr[1]), text, font=f, fill=TEXT_INK)
    return np.asarray(im.reduce(SS))


def fx_text_aa_same(out: Outputs):
    a = render_text(TEXT_LINES)
    b = render_text(TEXT_LINES, offset_hr=(1, 1))
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=-1)
    n, mx = int((diff > 0).sum()), int(diff.max())
    assert n > 200 and mx > 40, "sub-pixel shift should disturb many glyph edges"
    return out.pair(
        "text-aa-same", a, b, "same", [],
        f"Identical text; B is rendered 0.25 px right and 0.25 px down (4x supersampled "
        f"FreeType glyphs, moved by 1 high-res px, box-downsampled), so only anti-aliased "
        f"glyph edges differ: {n} pixels differ, by up to {mx}/255 in a channel, max "
        f"CIE76 dE {delta_e(a, b).max():.1f}.",
    )


def fx_text_word_changed(out: Outputs):
    a = render_text(TEXT_LINES)
    changed = [TEXT_LINES[0], (TEXT_LINES[1][0], TEXT_LINES[1][1], TEXT_LINES[1][2].replace("Save", "Send"))]
    b = render_text(changed)
    boxes = truth_boxes(a, b, [(200, 60, 360, 110)])
    return out.pair(
        "text-word-changed", a, b, "different", boxes,
        "Same text and position; the last word of line 2 'Save' becomes 'Send'. The box "
        "is the union of the changed glyphs (the shared 'S' is unchanged).",
    )


def isoluminant_colours():
    """A red and a green-blue of equal Rec.601 luma (|dY'| <= 0.5) and CIE L* (<= 1),
    as far apart in Lab as possible."""
    red = (200, 56, 64)
    y_red, l_red = luma601(red), lstar(red)
    g, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    r = np.rint((y_red - 0.587 * g - 0.114 * b) / 0.299)
    ok = (r >= 0) & (r <= 255)
    cand = np.stack([r[ok], g[ok], b[ok]], axis=-1).astype(np.uint8)
    y = cand.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    lab_c = lab(cand[None])[0]
    lab_red = lab(np.array([[red]], dtype=np.uint8))[0, 0]
    hue = np.degrees(np.arctan2(lab_c[:, 2], lab_c[:, 1])) % 360
    de = np.sqrt(((lab_c - lab_red) ** 2).sum(-1))
    sel = (np.abs(y - y_red) <= 0.5) & (np.abs(lab_c[:, 0] - l_red) <= 1.0) & (hue > 140) & (hue < 230)
    i = int(np.argmax(np.where(sel, de, -1)))
    assert sel[i]
    return red, tuple(int(v) for v in cand[i])


def fx_isoluminant(out: Outputs):
    base = crop(resize(photo("coffee"), (360, 240)), 40, 0, 320, 240)
    ca, cb = isoluminant_colours()
    rect = (228, 12, 306, 52)  # a flat "price tag" on the wood, top right

    def draw(d, s):
        d.rounded_rectangle([v * s for v in rect], radius=8 * s, fill=255)

    m = mask_from_drawing((320, 240), draw)
    a = blend(base, np.broadcast_to(np.array(ca, np.uint8), base.shape), m)
    b = blend(base, np.broadcast_to(np.array(cb, np.uint8), base.shape), m)
    boxes = truth_boxes(a, b, [(rect[0] - 2, rect[1] - 2, rect[2] + 3, rect[3] + 3)])
    ga = np.rint(a.astype(np.float64) @ [0.299, 0.587, 0.114])
    gb = np.rint(b.astype(np.float64) @ [0.299, 0.587, 0.114])
    gmax = int(np.abs(ga - gb).max())
    return out.pair(
        "isoluminant", a, b, "different", boxes,
        f"coffee.png (CC0) at 0.6x, 320x240 crop. A rounded rectangle painted flat "
        f"sRGB {ca} in A and {cb} in B: Rec.601 luma {luma601(ca):.2f} vs {luma601(cb):.2f}, "
        f"CIE L* {lstar(ca):.2f} vs {lstar(cb):.2f}, CIE76 dE "
        f"{delta_e(np.array([[ca]], np.uint8), np.array([[cb]], np.uint8))[0, 0]:.1f}. "
        f"Rec.601 grayscale versions differ by at most {gmax} level(s) anywhere, so a "
        f"grayscale comparison sees no change.",
    )


UI_BG = (245, 246, 248)
CARD = (255, 255, 255)


def fx_erasure_flat(out: Outputs):
    w, h = 320, 200
    im = Image.new("RGB", (w * SS, h * SS), UI_BG)
    d = ImageDraw.Draw(im)
    S = lambda *v: [x * SS for x in v]  # noqa: E731
    d.rectangle(S(0, 0, w, 34), fill=(37, 99, 235))
    d.text(S(14, 9), "Inbox", font=font(15 * SS), fill=(255, 255, 255))
    d.text(S(258, 10), "Help", font=font(12 * SS), fill=(219, 234, 254))
    d.rounded_rectangle(S(12, 46, 308, 188), radius=8 * SS, fill=CARD, outline=(218, 222, 228), width=SS)
    d.text(S(26, 60), "Weekly report", font=font(15 * SS), fill=(17, 24, 39))
    d.text(S(26, 82), "3 new messages since Monday", font=font(11 * SS), fill=(107, 114, 128))
    for y, x1 in ((108, 280), (122, 262), (136, 214)):
        d.rounded_rectangle(S(26, y, x1, y + 7), radius=3 * SS, fill=(229, 231, 235))
    d.rounded_rectangle(S(26, 154, 100, 176), radius=5 * SS, fill=(37, 99, 235))
    d.text(S(45, 158), "Open", font=font(12 * SS), fill=(255, 255, 255))
    # the object to erase: a round logo badge with a white "play" triangle and a ring
    cx, cy, r = 274, 74, 15
    d.ellipse(S(cx - r, cy - r, cx + r, cy + r), fill=(249, 115, 22))
    d.ellipse(S(cx - r + 3, cy - r + 3, cx + r - 3, cy + r - 3), outline=(255, 237, 213), width=SS)
    d.polygon(S(cx - 5, cy - 7, cx - 5, cy + 7, cx + 7, cy), fill=(255, 255, 255))
    a = np.asarray(im.reduce(SS))
    b = a.copy()
    b[cy - r - 1 : cy + r + 2, cx - r - 1 : cx + r + 2] = CARD  # painted over, flat card colour
    boxes = truth_boxes(a, b, [(cx - r - 2, cy - r - 2, cx + r + 3, cy + r + 3)])
    return out.pair(
        "erasure-flat", a, b, "different", boxes,
        "Synthetic 320x200 UI card (drawn at 4x, box-downsampled). B paints the orange "
        "round logo badge over with the card's flat white; both windows are flat in B, so "
        "SSIM alone under-reports it. Box = the badge.",
    )


def erase_name_tag(img: np.ndarray, ox: int, oy: int):
    """Clone-stamp the name tag of astronaut.png (full-size coords, image offset ox, oy)
    with the orange suit 42 px above it; the helmet's black shell is left untouched."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = 276 - ox, 336 - oy, 334 - ox, 380 - oy
    rect = mask_from_drawing((w, h), lambda d, s: d.rectangle([x0 * s, y0 * s, x1 * s - 1, y1 * s - 1], fill=255), blur=1.0)
    luma = img.astype(np.float64) @ [0.299, 0.587, 0.114]
    helmet = np.asarray(Image.fromarray(((luma < 22) * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3))) > 0
    helmet[: y0 + 18] = False  # only the shell's dark edge at the tag's lower right
    m = rect * ~helmet
    return blend(img, shifted(img, 0, -42), m), (x0 - 3, y0 - 3, x1 + 3, y1 + 3)


def fx_erasure_photo(out: Outputs):
    ox, oy = 212, 260
    a = crop(photo("astronaut"), ox, oy, 300, 240)
    b, region = erase_name_tag(a, ox, oy)
    boxes = truth_boxes(a, b, [region])
    return out.pair(
        "erasure-photo", a, b, "different", boxes,
        "astronaut.png (public domain), 300x240 crop at (212, 260). B erases the purple "
        "name tag by cloning the orange suit texture from 42 px above (feathered clone "
        "stamp). Box = the erased tag.",
    )


def recolour_lamp(img: np.ndarray, cx: float, cy: float, r0: float, r1: float) -> np.ndarray:
    """Sodium-orange lamp glare -> blue-white LED: swap R and B of warm pixels in a disc."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    rad = np.hypot(xx - cx, yy - cy)
    fall = np.clip((r1 - rad) / (r1 - r0), 0, 1)
    f = img.astype(np.float64)
    warm = np.clip((f[..., 0] - f[..., 2]) / 40.0, 0, 1)
    return blend(img, img[..., ::-1], fall * warm)


def heal(img: np.ndarray, src: np.ndarray, m: np.ndarray, open_bottom: bool = False) -> np.ndarray:
    """Healing-brush correction of a clone source: add the smooth (biharmonic) fill of
    img - src from just outside the mask, so the cloned texture takes on the brightness
    and colour gradient of its new place (the sky's falls off across the frame).
    open_bottom: ignore the boundary below the mask (where the erased object goes on)."""
    inside = m > 1e-3
    ys, xs = np.nonzero(inside)
    y0, y1 = max(ys.min() - 4, 0), min(ys.max() + 5, img.shape[0])
    x0, x1 = max(xs.min() - 4, 0), min(xs.max() + 5, img.shape[1])
    unknown = inside[y0:y1, x0:x1].copy()
    if open_bottom:
        last = ys.max() - y0
        unknown[last:] |= unknown[last]
    diff = img[y0:y1, x0:x1].astype(np.float64) - src[y0:y1, x0:x1]
    filled = inpaint_biharmonic(diff, unknown, channel_axis=-1)
    out = src.astype(np.float64)
    out[y0:y1, x0:x1] += filled
    return out


def clone_region(img, polygon, dx, dy, blur=1.2, rows=None, open_bottom=False):
    """Clone stamp with healing: polygon filled from the image shifted by (dx, dy)."""
    h, w = img.shape[:2]
    m = mask_from_drawing((w, h), lambda d, s: d.polygon([(x * s, y * s) for x, y in polygon], fill=255), blur=blur)
    if rows is not None:  # vertical feather: full strength above rows[0], none below rows[1]
        yy = np.arange(h)[:, None]
        m = m * np.clip((rows[1] - yy) / (rows[1] - rows[0]), 0, 1)
    return blend(img, heal(img, shifted(img, dx, dy), m, open_bottom), m)


def fx_two_changes_far(out: Outputs):
    ox, oy = 120, 105
    rocket = photo("rocket")
    a = crop(rocket, ox, oy, 400, 300)
    # 1. top right: the white lightning-rod antenna on the mast, erased with sky 30 px right
    ant = [(436 - ox, 108 - oy), (456 - ox, 108 - oy), (458 - ox, 186 - oy), (434 - ox, 186 - oy)]
    b = clone_region(a, ant, 30, 0, open_bottom=True)
    # 2. bottom left: an orange lamp turned blue-white
    b = recolour_lamp(b, 150 - ox, 377 - oy, 22, 30)
    boxes = truth_boxes(a, b, [(430 - ox, 100 - oy, 464 - ox, 196 - oy), (150 - ox - 31, 377 - oy - 31, 150 - ox + 32, 377 - oy + 32)])
    return out.pair(
        "two-changes-far", a, b, "different", boxes,
        "rocket.jpg (public domain), 400x300 crop at (120, 105). Two small edits ~390 px "
        "apart: (1) top right, the white antenna on top of the lightning mast erased with "
        "sky cloned from 30 px to the right; (2) bottom left, an orange lamp's glare "
        "recoloured blue-white (R and B swapped on warm pixels in a disc).",
    )


def fx_speck(out: Outputs):
    a = resize(photo("chelsea"), (300, 200))
    b = a.copy()
    rng = np.random.default_rng(SEED)
    pts: list[tuple[int, int]] = []
    while len(pts) < 3:
        x, y = int(rng.integers(20, 280)), int(rng.integers(20, 180))
        if all(abs(x - px) + abs(y - py) > 80 for px, py in pts):
            pts.append((x, y))
    des = []
    for x, y in pts:
        delta = rng.integers(-6, 7, size=3)
        delta[int(rng.integers(0, 3))] = 6 * (1 if rng.random() < 0.5 else -1)
        b[y, x] = np.clip(a[y, x].astype(int) + delta, 0, 255).astype(np.uint8)
        des.append(float(delta_e(a[y : y + 1, x : x + 1], b[y : y + 1, x : x + 1])[0, 0]))
    assert all(0 < d < 10 for d in des), des
    assert int(np.any(a != b, axis=-1).sum()) == 3
    return out.pair(
        "speck", a, b, "same", [],
        "chelsea.png (CC0) resized to 300x200. B differs only at 3 isolated single pixels "
        + ", ".join(f"({x}, {y})" for x, y in pts)
        + " changed by CIE76 dE "
        + ", ".join(f"{d:.1f}" for d in des)
        + " (each < 10): noise, not a change.",
    )


# ----------------------------------------------------------------------------- B. demo
def make_demo(out: Outputs):
    before = photo("rocket")  # 427x640
    h, w = before.shape[:2]
    after = before.copy()
    regions, kinds = [], []

    # 1. the lightning mast right of the rocket, erased down to its lamps by cloning the
    #    sky 60 px to its right (vertical feather where the lamps' glare begins)
    mast = [(435, 108), (455, 108), (457, 186), (462, 186), (486, 372), (433, 372)]
    after = clone_region(after, mast, 60, 0, rows=(356, 370), open_bottom=True)
    regions.append((428, 100, 494, 376))
    kinds.append("lightning mast erased (sky cloned over it)")

    # 2. a round mission patch from astronaut.png pasted into the sky as a logo
    src = photo("astronaut")
    patch = resize(crop(src, 133, 348, 76, 76), (60, 60))
    pcx, pcy, pr = 255, 66, 29.5
    canvas = after.copy()
    canvas[pcy - 30 : pcy + 30, pcx - 30 : pcx + 30] = patch
    disc = mask_from_drawing((w, h), lambda d, s: d.ellipse([(pcx - pr) * s, (pcy - pr) * s, (pcx + pr) * s, (pcy + pr) * s], fill=255))
    after = blend(after, canvas, disc)
    regions.append((pcx - 33, pcy - 33, pcx + 34, pcy + 34))
    kinds.append("mission patch pasted from astronaut.png")

    # 3. an orange lamp at the lower left turned blue-white
    after = recolour_lamp(after, 150, 377, 24, 32)
    regions.append((150 - 33, 377 - 33, 150 + 34, 377 + 34))
    kinds.append("lamp glare recoloured orange -> blue-white")

    # 4. a small text label next to the rocket
    lx, ly, text = 352, 232, "DSCOVR"
    f = font(13 * SS)
    label = Image.new("RGBA", (w * SS, h * SS), (0, 0, 0, 0))
    d = ImageDraw.Draw(label)
    tb = d.textbbox((lx * SS, ly * SS), text, font=f)
    pad = 4 * SS
    d.rounded_rectangle([tb[0] - pad, tb[1] - pad, tb[2] + pad, tb[3] + pad], radius=3 * SS, fill=(10, 14, 24, 170))
    d.text((lx * SS, ly * SS), text, font=f, fill=(255, 255, 255, 255))
    label = np.asarray(label.reduce(SS)).astype(np.float64)
    after = blend(after, label[..., :3], label[..., 3] / 255.0)
    regions.append((lx - 8, ly - 8, lx + 72, ly + 26))
    kinds.append("text label added")

    boxes = truth_boxes(before, after, regions)
    out.files[f"{EXAMPLES}/before.png"] = png_bytes(before)
    out.files[f"{EXAMPLES}/after.png"] = png_bytes(after)
    entry = {
        "name": "demo", "a": "before.png", "b": "after.png", "expect": "different", "boxes": boxes,
        "note": "rocket.jpg from scikit-image (public domain), 640x427, four edits; boxes in "
        "order: " + "; ".join(f"{i + 1}. {k}" for i, k in enumerate(kinds)) + ".",
    }
    out.files[f"{EXAMPLES}/truth.json"] = json_bytes([entry])
    return entry


# ----------------------------------------------------------------------------- main
def build() -> Outputs:
    out = Outputs()
    fixtures = [
        fx_text_aa_same(out),
        fx_text_word_changed(out),
        fx_isoluminant(out),
        fx_erasure_flat(out),
        fx_erasure_photo(out),
        fx_two_changes_far(out),
        fx_speck(out),
    ]
    out.files[f"{FIXTURES}/truth.json"] = json_bytes(fixtures)
    make_demo(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk; write nothing")
    ap.add_argument("--root", type=Path, default=ROOT, help="write under this folder (default: the repository)")
    args = ap.parse_args()
    versions = {"PIL": PIL.__version__, "numpy": np.__version__, "skimage": skimage.__version__}
    if versions != PINNED:
        print(f"make-fixtures: warning: versions {versions} differ from the pinned {PINNED}; "
              "bytes may differ from the committed files", file=sys.stderr)
    out = build()
    bad = 0
    for rel, blob in out.files.items():
        path = args.root / rel
        digest = hashlib.sha256(blob).hexdigest()[:16]
        if args.check:
            same = path.is_file() and path.read_bytes() == blob
            bad += not same
            print(f"{'ok  ' if same else 'DIFF'} {rel} {len(blob)} B sha256:{digest}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob)
            print(f"wrote {rel} {len(blob)} B sha256:{digest}")
    if args.check and bad:
        print(f"make-fixtures: {bad} file(s) differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
