#!/usr/bin/env python3
"""The classic SSIM image-difference recipe, reproduced as commonly published.

    cv2.imread -> cvtColor(BGR2GRAY) -> structural_similarity(full=True, skimage defaults)
    -> diff*255 as uint8 -> Otsu threshold (inverted) -> external contours
    -> one boundingRect per contour

It is a baseline for comparison and timing only; spotdiff does not use it.

Usage:  .deps/bench/venv/bin/python scripts/eval/classic-recipe.py A B [--json]
Output: {"ssim": score, "boxes": [{"x", "y", "w", "h"}, ...]} with --json,
        a short text summary otherwise. Exit 0 on success, 2 on error.
"""
from __future__ import annotations

import argparse
import json
import sys


def classic_map(path_a: str, path_b: str) -> tuple[float, "np.ndarray"]:
    """The recipe up to its difference map: (SSIM score, diff as uint8, 255 = same)."""
    import cv2
    from skimage.metrics import structural_similarity

    image_a = cv2.imread(path_a)
    image_b = cv2.imread(path_b)
    if image_a is None:
        raise ValueError(f"cannot read image: {path_a}")
    if image_b is None:
        raise ValueError(f"cannot read image: {path_b}")
    if image_a.shape[:2] != image_b.shape[:2]:
        raise ValueError(f"sizes differ: {image_a.shape[1]}x{image_a.shape[0]} vs "
                         f"{image_b.shape[1]}x{image_b.shape[0]}")

    gray_a = cv2.cvtColor(image_a, cv2.COLOR_BGR2GRAY)
    gray_b = cv2.cvtColor(image_b, cv2.COLOR_BGR2GRAY)

    (score, diff) = structural_similarity(gray_a, gray_b, full=True)
    diff = (diff * 255).astype("uint8")
    return float(score), diff


def boxes_of(diff, threshold: int | None = None) -> list[dict]:
    """Otsu (threshold None) or a fixed threshold, external contours, bounding rectangles."""
    import cv2

    if threshold is None:
        thresh = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]
    else:
        thresh = cv2.threshold(diff, threshold, 255, cv2.THRESH_BINARY_INV)[1]
    cnts = cv2.findContours(thresh.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cnts = cnts[0] if len(cnts) == 2 else cnts[1]  # OpenCV 4+/5 vs 3 return shapes

    boxes = []
    for c in cnts:
        (x, y, w, h) = cv2.boundingRect(c)
        boxes.append({"x": int(x), "y": int(y), "w": int(w), "h": int(h)})
    return boxes


def classic(path_a: str, path_b: str) -> tuple[float, list[dict]]:
    score, diff = classic_map(path_a, path_b)
    return score, boxes_of(diff)


def main() -> int:
    ap = argparse.ArgumentParser(description="classic SSIM + Otsu + contours recipe")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    try:
        score, boxes = classic(args.a, args.b)
    except Exception as e:  # noqa: BLE001 - report any failure as exit 2
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"ssim": score, "boxes": boxes}))
    else:
        print(f"SSIM: {score:.6f}")
        print(f"boxes: {len(boxes)}")
        for bx in boxes[:20]:
            print(f"  x={bx['x']} y={bx['y']} w={bx['w']} h={bx['h']}")
        if len(boxes) > 20:
            print(f"  ... {len(boxes) - 20} more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
