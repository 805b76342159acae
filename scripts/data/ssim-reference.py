#!/usr/bin/env python3
"""Reference SSIM values for real image pairs, computed with scikit-image.

Writes tests/data/ssim_reference.json, which the Rust tests compare against.

Grayscale is computed here explicitly so that it can be reproduced bit for bit
in Rust: the image is decoded with Pillow to 8-bit RGB(A) (or L), the alpha
channel is dropped (not composited), and

    L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16

(Pillow's 'L' conversion). An 8-bit grayscale source is used as is (the
formula is the identity when R = G = B, since the weights add up to 65536).

Usage (from the repository root, with the bench venv):

    .deps/bench/venv/bin/python scripts/data/ssim-reference.py \
        [--realpairs ../shared/realpairs] [--out tests/data/ssim_reference.json]

Set up the venv with:  python3 -m venv .deps/bench/venv &&
    .deps/bench/venv/bin/pip install scikit-image
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import skimage
from PIL import Image, features
from skimage.metrics import structural_similarity

REPO = Path(__file__).resolve().parents[2]

# Same-size pairs of varied content, relative to the realpairs folder.
# At most two JPEG pairs: their pixels depend on the JPEG decoder.
PAIRS = [
    # photo, JPEG (RGB): clothing colour and a hair style changed
    ("resemblejs/demoassets/People.jpg", "resemblejs/demoassets/People2.jpg"),
    # photo with scribbled text, RGBA PNG
    ("odiff/test/png/orange.png", "odiff/test/png/orange_changed.png"),
    # the classic recipe's own example: card with chip and name removed
    ("pyimagesearch_image_diff/images/original_02.png",
     "pyimagesearch_image_diff/images/modified_02.png"),
    # UI screenshot, small text change
    ("reg-cli/sample/expected/sample0.png", "reg-cli/sample/actual/sample0.png"),
    # binarised PCB scan, grayscale JPEG, with alignment jitter
    ("deeppcb/PCBData/group00041/00041/00041200_temp.jpg",
     "deeppcb/PCBData/group00041/00041/00041200_test.jpg"),
    # form whose button colour changed (mostly a colour change)
    ("looks-same/benchmark/fixtures/reference.png",
     "looks-same/benchmark/fixtures/actual.png"),
    # web page where section background shades changed
    ("argos-image-difference/test/benchmark/base.png",
     "argos-image-difference/test/benchmark/compare.png"),
    # rendered scene, camera/lighting change only (no semantic change)
    ("clevr-change-samples/images/CLEVR_default_000000.png",
     "clevr-change-samples/nsc_images/CLEVR_nonsemantic_000000.png"),
    # map rendered with different road styling, RGB vs RGBA PNG
    ("pixelmatch/4a.png", "pixelmatch/4b.png"),
]

GAUSSIAN = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                data_range=255)
UNIFORM7 = dict(data_range=255)  # skimage defaults: 7x7 uniform, sample covariance

GRAY_FORMULA = ("L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16 on the decoded 8-bit "
                "RGB(A) array, alpha dropped (not composited); an 8-bit L source is used "
                "as is; palette images are expanded to RGB(A) first; then cast to float64")

JPEG_NOTE = ("JPEG pixels depend on the decoder. Checked once against the Rust image crate "
             "0.25.10 (zune-jpeg 0.5.15), with the same gray formula: People.jpg differs from "
             "Pillow/libjpeg-turbo on 559 pixels, deeppcb 00041200_temp.jpg on 291, all by 1 "
             "level; ssim_gaussian then moves by 1.5e-5 (People) and 3.3e-5 (deeppcb). PNG "
             "pairs give identical gray input. Suggested test tolerance: 1e-4 for JPEG pairs, "
             "float rounding only (about 1e-5 with f32 sums) for PNG pairs.")


def gray_u8(path: Path) -> tuple[np.ndarray, dict]:
    """Decode with Pillow and apply Pillow's 'L' formula explicitly in numpy."""
    with Image.open(path) as im:
        im.load()
        info = {"format": im.format, "mode": im.mode, "width": im.width, "height": im.height}
        mode = im.mode
        if mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            mode = im.mode
        if mode in ("L", "LA"):
            arr = np.asarray(im)
            return (arr if arr.ndim == 2 else arr[..., 0]).astype(np.uint8), info
        if mode not in ("RGB", "RGBA"):
            raise SystemExit(f"{path}: unsupported mode {im.mode} (expected 8-bit RGB/RGBA/L)")
        arr = np.asarray(im).astype(np.uint32)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    gray = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
    return gray.astype(np.uint8), info


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realpairs", type=Path, default=REPO.parent / "shared" / "realpairs")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "ssim_reference.json")
    args = ap.parse_args()

    root = args.realpairs.resolve()
    if not root.is_dir():
        print(f"error: realpairs folder not found: {root}", file=sys.stderr)
        return 2

    pairs = []
    for a_rel, b_rel in PAIRS:
        a_path, b_path = root / a_rel, root / b_rel
        ga, ia = gray_u8(a_path)
        gb, ib = gray_u8(b_path)
        if ga.shape != gb.shape:
            print(f"error: size mismatch {a_rel} {ga.shape} vs {b_rel} {gb.shape}", file=sys.stderr)
            return 2
        fa, fb = ga.astype(np.float64), gb.astype(np.float64)
        s_gauss, smap = structural_similarity(fa, fb, full=True, **GAUSSIAN)
        s_unif = structural_similarity(fa, fb, **UNIFORM7)
        entry = {
            "a": a_rel,
            "b": b_rel,
            "width": int(ga.shape[1]),
            "height": int(ga.shape[0]),
            "a_mode": ia["mode"],
            "b_mode": ib["mode"],
            "format": ia["format"],
            "a_sha256": sha256(a_path),
            "b_sha256": sha256(b_path),
            "gray_a_sum": int(ga.astype(np.int64).sum()),
            "gray_b_sum": int(gb.astype(np.int64).sum()),
            "ssim_gaussian": round(float(s_gauss), 8),
            "ssim_uniform7": round(float(s_unif), 8),
            "ssim_gaussian_full_map_mean": round(float(smap.mean()), 8),
        }
        pairs.append(entry)
        print(f"{a_rel:60s} {ga.shape[1]:5d}x{ga.shape[0]:<5d} "
              f"gauss={entry['ssim_gaussian']:.6f} unif7={entry['ssim_uniform7']:.6f}")

    doc = {
        "generated_by": "scripts/data/ssim-reference.py",
        "skimage_version": skimage.__version__,
        "numpy_version": np.__version__,
        "pillow_version": Image.__version__,
        "jpeg_decoder": f"Pillow {Image.__version__} with libjpeg-turbo "
                        f"{features.version('libjpeg_turbo') or features.version('jpg')}",
        "png_decoder": f"Pillow {Image.__version__} with zlib {features.version('zlib')}",
        "params": {
            "ssim_gaussian": {
                "call": "structural_similarity(a, b, gaussian_weights=True, sigma=1.5, "
                        "use_sample_covariance=False, data_range=255)",
                "window": "Gaussian sigma=1.5, truncate=3.5 -> radius 5, 11x11, "
                          "scipy.ndimage mode='reflect' (edge sample repeated: d c b a | a b c d)",
                "kernel": "separable; weights exp(-x^2 / (2 * 1.5^2)) for x in -5..=5, "
                          "normalised to sum 1 (checked: a plain numpy re-implementation "
                          "with symmetric padding reproduces every value to 1e-8)",
                "K1": 0.01, "K2": 0.03, "C1": (0.01 * 255) ** 2, "C2": (0.03 * 255) ** 2,
                "covariance": "population (divide by window weight sum)",
                "global_score": "mean of the SSIM map after cropping a 5-pixel border "
                                "(skimage crops (win_size-1)//2 on every side)",
            },
            "ssim_uniform7": {
                "call": "structural_similarity(a, b, data_range=255)",
                "window": "7x7 uniform, scipy.ndimage.uniform_filter mode='reflect'",
                "covariance": "sample (NP/(NP-1) with NP=49)",
                "global_score": "mean of the SSIM map after cropping a 3-pixel border",
            },
            "ssim_gaussian_full_map_mean": "the same Gaussian map as ssim_gaussian, "
                                           "averaged over every pixel (no border crop)",
            "input": "8-bit grayscale as described in 'gray', cast to float64",
        },
        "gray": GRAY_FORMULA,
        "jpeg_note": JPEG_NOTE,
        "pairs": pairs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
