#!/usr/bin/env python3
"""Make the registration fixtures: real photos, B moved by a known transform.

Writes tests/fixtures/registration/:
  a-NAME.png            A: a crop of a sample photo
  CASE-b.png            B: A's scene under the case's transform (no edit)
  patch.png             the object pasted into B for the "with paste" variant
  scroll-a.png, scroll-b.png   a synthetic page at two scroll offsets, one word changed
  truth.json            per case: A, B, the true 3x3 matrix (A -> B, pixel centres at
                        integers: B(M (x, y, 1)) = A(x, y)), the photometric change, the
                        share of A that B does not cover, and where the patch goes
                        (in B's pixels) and lands (its box in A's pixels)

The "with paste" variant of a case is CASE-b.png with patch.png copied into it at
`paste_b` [x, y, w, h]: the test composes it, so it is byte-for-byte what this script
would have written, at half the committed size. The pasted object is the only change.

Run from the repository root with the evaluation venv (pinned scikit-image,
scikit-learn, opencv-python-headless, Pillow: scripts/requirements-eval.txt):

  .deps/eval-venv/bin/python scripts/data/make-registration-pairs.py

Deterministic (no randomness beyond a fixed seed). Sources, all inside the wheels:
  skimage/data: chelsea.png, coffee.png, astronaut.png, rocket.jpg (public domain / CC0)
  sklearn/datasets/images: china.jpg, flower.jpg (sklearn's sample images)
"""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata
from sklearn.datasets import load_sample_image

OUT = os.path.join("tests", "fixtures", "registration")
W, H = 256, 192  # crop size: small files, still real photos


def save(img: np.ndarray, name: str) -> None:
    Image.fromarray(img).save(os.path.join(OUT, name), optimize=True)


def crop(src: np.ndarray, cx: int, cy: int) -> tuple[np.ndarray, tuple[int, int]]:
    x0, y0 = cx - W // 2, cy - H // 2
    assert 0 <= x0 and 0 <= y0 and x0 + W <= src.shape[1] and y0 + H <= src.shape[0]
    return src[y0 : y0 + H, x0 : x0 + W].copy(), (x0, y0)


def translate(tx: float, ty: float) -> np.ndarray:
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64)


def warp_from_source(src: np.ndarray, m_bs: np.ndarray) -> np.ndarray:
    """B(q) = S(m_bs q): B's pixel q shows the source's point m_bs q (Lanczos)."""
    return cv2.warpPerspective(
        src, m_bs, (W, H), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def uncovered(m_ab: np.ndarray, bw: int, bh: int, valid=None) -> float:
    """Share of A's pixels whose image in B falls outside B (or B's valid box)."""
    ys, xs = np.mgrid[0:H, 0:W]
    p = np.stack([xs.ravel(), ys.ravel(), np.ones(W * H)])
    q = m_ab @ p
    qx, qy = q[0] / q[2], q[1] / q[2]
    x0, y0, x1, y1 = valid if valid else (0, 0, bw, bh)
    inside = (qx >= x0 - 0.5) & (qx <= x1 - 0.5) & (qy >= y0 - 0.5) & (qy <= y1 - 0.5)
    return float(1.0 - inside.mean())


def box_in_a(m_ab: np.ndarray, r: list[int]) -> list[int]:
    """Bounds in A of B's box r = [x, y, w, h] (pixel edges at +-0.5)."""
    inv = np.linalg.inv(m_ab)
    x, y, w, h = r
    pts = np.array([[x - 0.5, y - 0.5, 1], [x + w - 0.5, y - 0.5, 1],
                    [x + w - 0.5, y + h - 0.5, 1], [x - 0.5, y + h - 0.5, 1]]).T
    q = inv @ pts
    qx, qy = q[0] / q[2] + 0.5, q[1] / q[2] + 0.5
    x0, y0 = int(np.floor(qx.min())), int(np.floor(qy.min()))
    x1, y1 = int(np.ceil(qx.max())), int(np.ceil(qy.max()))
    return [x0, y0, x1 - x0, y1 - y0]


def params(m: np.ndarray) -> dict:
    a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    return {
        "dx": float(m[0, 2]), "dy": float(m[1, 2]),
        "scale": float(np.sqrt(abs(a * d - b * c))),
        "angle_deg": float(np.degrees(np.arctan2(c - b, a + d))),
    }


def scroll_pair() -> dict:
    """A long synthetic page (text lines), cropped at two scroll offsets 40 px apart."""
    rng = np.random.default_rng(20240611)
    words = ("registration phase shift scroll window header footer layout button "
             "settings profile account search result page content example value "
             "update review status report item table column invoice total").split()
    font = ImageFont.load_default(size=13)
    page = Image.new("RGB", (W, 720), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    lines = []
    for i, y in enumerate(range(12, 700, 19)):
        n = int(rng.integers(3, 6))
        text = " ".join(words[int(k)] for k in rng.integers(0, len(words), n))
        colour = (30, 30, 30) if i % 7 else (20, 60, 160)
        draw.text((10, y), text, fill=colour, font=font)
        lines.append((y, text))
    page_a = np.array(page)
    # One word changed on the page B shows.
    changed = page.copy()
    d2 = ImageDraw.Draw(changed)
    y_edit, text = lines[17]
    first = text.split()[0]
    w_first = int(d2.textlength(first, font=font))
    d2.rectangle([10, y_edit, 10 + w_first + 1, y_edit + 17], fill=(255, 255, 255))
    d2.text((10, y_edit), "modified", fill=(30, 30, 30), font=font)
    page_b = np.array(changed)
    off_a, off_b = 240, 200  # A shows the page from y = 240, B from y = 200
    a = page_a[off_a : off_a + H]
    b = page_b[off_b : off_b + H]
    save(a, "scroll-a.png")
    save(b, "scroll-b.png")
    # A(x, y) = page(x, y + 240) = B(x, y + 40): the shift is (0, +40).
    m = translate(0, off_a - off_b)
    diff = np.abs(a[: H - 40].astype(int) - b[40:].astype(int)).max(axis=2) > 0
    ys, xs = np.nonzero(diff)
    edit = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return {
        "a": "scroll-a.png", "b": "scroll-b.png", "matrix": m.tolist(), **params(m),
        "model": "translation", "uncovered_share": 40 * W / (W * H),
        "edit_a": edit, "note": "the changed word, in A's pixels",
    }


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    chelsea = skdata.chelsea()      # 300x451
    coffee = skdata.coffee()        # 400x600
    astronaut = skdata.astronaut()  # 512x512
    rocket = skdata.rocket()        # 427x640
    china = load_sample_image("china.jpg")    # 427x640
    flower = load_sample_image("flower.jpg")  # 427x640

    sources = {
        "chelsea": (chelsea, 225, 150),
        "coffee": (coffee, 300, 190),
        "china": (china, 330, 200),
        "flower": (flower, 300, 220),
        "astronaut": (astronaut, 260, 170),
        "rocket": (rocket, 330, 210),
    }
    crops = {}
    for name, (src, cx, cy) in sources.items():
        a, origin = crop(src, cx, cy)
        crops[name] = (src, a, origin)
        save(a, f"a-{name}.png")

    # The pasted object: a piece of another photo (the coffee cup's rim).
    patch = coffee[95:135, 170:218].copy()  # 40x48
    save(patch, "patch.png")
    ph, pw = patch.shape[:2]

    cases = {}

    def add(case: str, src_name: str, b: np.ndarray, m_ab: np.ndarray, paste_at, *,
            model: str, photometric=None, valid=None) -> None:
        bh, bw = b.shape[:2]
        save(b, f"{case}-b.png")
        paste = [paste_at[0], paste_at[1], pw, ph]
        cases[case] = {
            "a": f"a-{src_name}.png", "b": f"{case}-b.png",
            "size_b": [bw, bh], "model": model,
            "matrix": m_ab.tolist(), **params(m_ab),
            "uncovered_share": uncovered(m_ab, bw, bh, valid),
            "photometric": photometric,
            "paste_b": paste, "paste_a": box_in_a(m_ab, paste),
        }

    # 1. Shifted by (7, -4) with padded edges: B(x + 7, y - 4) = A(x, y), black fill.
    src, a, _ = crops["chelsea"]
    b = np.zeros_like(a)
    b[0 : H - 4, 7:W] = a[4:H, 0 : W - 7]
    add("shift", "chelsea", b, translate(7, -4), (150, 60), model="translation",
        valid=(7, 0, W, H - 4))

    # 2. Cropped by 10 px on every side and rescaled back to W x H.
    src, a, _ = crops["coffee"]
    inner = a[10 : H - 10, 10 : W - 10]
    b = np.array(Image.fromarray(inner).resize((W, H), Image.LANCZOS))
    sx, sy = W / (W - 20), H / (H - 20)
    # q = (p - 10 + 0.5) s - 0.5
    m = np.array([[sx, 0, (-10 + 0.5) * sx - 0.5], [0, sy, (-10 + 0.5) * sy - 0.5], [0, 0, 1]])
    add("crop10", "coffee", b, m, (60, 110), model="similarity")

    # 3. Rotated by 1 and 3 degrees about A's centre (re-taken from the same scene).
    src, a, origin = crops["china"]
    for deg, at in ((1, (170, 40)), (3, (40, 120))):
        th = np.radians(deg)
        c = np.array([origin[0] + (W - 1) / 2, origin[1] + (H - 1) / 2])
        rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
        # B's pixel q shows S(c + R(-th)(q - cb)): B is the scene turned by +th.
        cb = np.array([(W - 1) / 2, (H - 1) / 2])
        m_bs = translate(*c) @ np.linalg.inv(rot) @ translate(*(-cb))
        b = warp_from_source(src, m_bs)
        m_ab = np.linalg.inv(m_bs) @ translate(*origin)
        add(f"rot{deg}", "china", b, m_ab, at, model="similarity")

    # 4. Perspective tilt of 2 %: B's top edge spans 2 % more of the scene than its bottom.
    src, a, origin = crops["flower"]
    ox, oy = origin
    dst_b = np.float32([[0, 0], [W - 1, 0], [W - 1, H - 1], [0, H - 1]])
    k = 0.01 * (W - 1)
    src_s = np.float32([[ox - k, oy], [ox + W - 1 + k, oy], [ox + W - 1, oy + H - 1], [ox, oy + H - 1]])
    m_bs = cv2.getPerspectiveTransform(dst_b, src_s).astype(np.float64)
    b = warp_from_source(src, m_bs)
    m_ab = np.linalg.inv(m_bs) @ translate(ox, oy)
    m_ab /= m_ab[2, 2]
    add("persp2", "flower", b, m_ab, (100, 130), model="homography")

    # 5. Scaled by 0.5 (a different size): B = A at half size (area filter).
    src, a, _ = crops["astronaut"]
    b = cv2.resize(a, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    m = np.array([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]])  # q = (p + 0.5)/2 - 0.5
    add("scale05", "astronaut", b, m, (70, 20), model="similarity")
    # (the patch keeps its size: in A it covers twice the extent)

    # 6. Brightness x1.1 + 5.
    src, a, _ = crops["rocket"]
    b = np.clip(np.round(a.astype(np.float64) * 1.1 + 5), 0, 255).astype(np.uint8)
    add("bright", "rocket", b, np.eye(3), (30, 40), model="identity",
        photometric={"gain": 1.1, "offset": 5.0})

    # 7. A vignette: B = A (1 - 0.3 r^2), r = 1 at the corners.
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    r2 = ((xs - (W - 1) / 2) ** 2 + (ys - (H - 1) / 2) ** 2) / (((W - 1) / 2) ** 2 + ((H - 1) / 2) ** 2)
    v = 1 - 0.3 * r2
    b = np.clip(np.round(a.astype(np.float64) * v[..., None]), 0, 255).astype(np.uint8)
    add("vignette", "rocket", b, np.eye(3), (190, 120), model="identity",
        photometric={"vignette": "1 - 0.3 r^2, r = 1 at the corners"})

    truth = {
        "size": [W, H],
        "patch": "patch.png",
        "cases": cases,
        "unrelated": {"a": "a-astronaut.png", "b": "a-coffee.png"},
        "scroll": scroll_pair(),
    }
    with open(os.path.join(OUT, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
