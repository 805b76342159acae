#!/usr/bin/env python3
"""Check a backbone ONNX model described by a manifest (models/*.json).

1. The model file's SHA-256 matches the manifest (unless --model or --no-sha).
2. Classification: the image, centre-cropped and resized to 224x224 and normalised as
   the manifest says, gives these top-5 ImageNet classes (with --expect-top1 LO-HI the
   top-1 class must lie in that range, e.g. 281-285 for the cat classes on chelsea.png).
3. Features: the image resized to 320x480 (H x W) and a batch of two give feature maps
   of shape [N, channels, H/stride, W/stride] for every feature in the manifest and a
   pooled output with N rows.

usage: check-backbone.py MANIFEST IMAGE [--expect-top1 281-285] [--model ONNX]
                         [--no-sha] [--mean M M M --std S S S]
IMAGE: an 8-bit PNG or binary PPM (decoded here; no imaging packages needed).

chelsea.png (a cat) ships in the scikit-image wheel:
  pip download --no-deps --only-binary=:all: scikit-image==0.26.0 -d /tmp/ski
  unzip -j -o /tmp/ski/scikit_image-*.whl skimage/data/chelsea.png -d /tmp/ski
  .deps/venv/bin/python scripts/models/check-backbone.py models/efficientnet-lite0.json \
      /tmp/ski/chelsea.png --expect-top1 281-285
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import zlib

import numpy as np
import onnxruntime as ort

CAT_CLASSES = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat",
               285: "Egyptian cat"}


def read_png(path):
    """Decode an 8-bit, non-interlaced PNG to an HxWx3 uint8 RGB array."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or interlace or channels is None:
        raise ValueError(f"{path}: only 8-bit non-interlaced gray/RGB(A) PNG is supported")
    bpp, stride = channels, width * channels
    raw = zlib.decompress(b"".join(idat))
    rows = np.frombuffer(raw, np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: running sum along the row, per channel
            cur = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        elif kind in (3, 4):  # Average / Paeth depend on the decoded left pixel
            cur = bytearray(stride)
            lin, up = line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    pred = (a + b) >> 1
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (lin[i] + pred) & 255
            cur = np.frombuffer(bytes(cur), np.uint8).astype(np.int32)
        else:
            raise ValueError(f"{path}: bad PNG filter type {kind}")
        out[y] = cur
        prev = cur
    img = out.reshape(height, width, channels)
    if channels in (1, 2):
        img = np.repeat(img[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def read_ppm(path):
    with open(path, "rb") as fh:
        data = fh.read()
    parts = data.split(maxsplit=4)
    if parts[0] != b"P6" or int(parts[3]) != 255:
        raise ValueError(f"{path}: only binary 8-bit PPM (P6) is supported")
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][: w * h * 3], np.uint8).reshape(h, w, 3)


def read_image(path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return read_ppm(path) if magic == b"P6" else read_png(path)


def resize(img, out_h, out_w):
    """Bilinear resize (half-pixel centres) of an HxWxC float array."""
    h, w = img.shape[:2]

    def coords(n_out, n_in):
        x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        x = np.clip(x, 0, n_in - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (x - lo)[:, None]

    y0, y1, fy = coords(out_h, h)
    x0, x1, fx = coords(out_w, w)
    top = img[y0][:, x0] * (1 - fx)[None] + img[y0][:, x1] * fx[None]
    bot = img[y1][:, x0] * (1 - fx)[None] + img[y1][:, x1] * fx[None]
    return top * (1 - fy)[:, :, None] + bot * fy[:, :, None]


def to_input(img, mean, std):
    x = (img.astype(np.float32) / 255.0 - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def centre_crop(img, fraction=224 / 256):
    h, w = img.shape[:2]
    side = int(round(min(h, w) * fraction))
    top, left = (h - side) // 2, (w - side) // 2
    return img[top:top + side, left:left + side]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("manifest")
    ap.add_argument("image")
    ap.add_argument("--model", help="ONNX file to check instead of the manifest's (skips SHA-256)")
    ap.add_argument("--no-sha", action="store_true", help="skip the SHA-256 check")
    ap.add_argument("--expect-top1", help="LO-HI: fail unless the top-1 class is in this range")
    ap.add_argument("--mean", type=float, nargs=3, help="override the manifest mean")
    ap.add_argument("--std", type=float, nargs=3, help="override the manifest std")
    args = ap.parse_args()

    with open(args.manifest) as fh:
        man = json.load(fh)
    path = args.model or os.path.join(os.path.dirname(os.path.abspath(args.manifest)), man["file"])
    if not args.model and not args.no_sha and man.get("sha256"):
        digest = sha256(path)
        if digest != man["sha256"]:
            sys.exit(f"FAIL {path}: sha256 {digest} != manifest {man['sha256']}")
        print(f"sha256 ok    {digest}")
    mean, std = args.mean or man["mean"], args.std or man["std"]

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    img = read_image(args.image).astype(np.float32)
    print(f"image        {args.image} {img.shape[1]}x{img.shape[0]}  mean={mean} std={std}")
    failures = []

    # Classification at 224x224.
    logits_name = man.get("logits")
    if logits_name:
        x = to_input(resize(centre_crop(img), 224, 224), mean, std)
        (logits,) = sess.run([logits_name], {man["input"]: x})
        z = logits.reshape(-1).astype(np.float64)
        prob = np.exp(z - z.max())
        prob /= prob.sum()
        top = np.argsort(-prob)[:5]
        print("top-5        " + "  ".join(f"{i}:{prob[i]:.4f}" for i in top)
              + (f"  (top-1 {CAT_CLASSES[top[0]]})" if top[0] in CAT_CLASSES else ""))
        if args.expect_top1:
            lo, hi = (int(v) for v in args.expect_top1.split("-"))
            if not lo <= top[0] <= hi:
                failures.append(f"top-1 class {top[0]} not in {lo}-{hi}")

    # Feature maps at a non-square size and with a batch of two.
    names = [f["name"] for f in man["features"]] + [man["pooled"]]
    names += [logits_name] if logits_name else []
    for n, (h, w) in ((1, (320, 480)), (2, (224, 224)), (1, (448, 672))):
        x = to_input(resize(img, h, w), mean, std)
        x = np.concatenate([x] * n) if n > 1 else x
        outs = sess.run(names, {man["input"]: x})
        shapes = []
        for feat, out in zip(man["features"], outs):
            want = (n, feat["channels"], h // feat["stride"], w // feat["stride"])
            shapes.append(f"{feat['name']}{list(out.shape)}")
            if out.shape != want:
                failures.append(f"{feat['name']} at {n}x3x{h}x{w}: {out.shape} != {want}")
            if not np.isfinite(out).all():
                failures.append(f"{feat['name']} at {n}x3x{h}x{w} has non-finite values")
        pooled = outs[len(man["features"])]
        shapes.append(f"{man['pooled']}{list(pooled.shape)}")
        if pooled.shape[0] != n or any(d != 1 for d in pooled.shape[2:]):
            failures.append(f"{man['pooled']} at {n}x3x{h}x{w}: unexpected shape {pooled.shape}")
        if n == 2 and not np.allclose(outs[0][0], outs[0][1], atol=1e-4):
            failures.append("batch items differ for identical inputs")
        if logits_name:
            shapes.append(f"top-1 {int(np.argmax(outs[-1][0]))}")
        print(f"input {n}x3x{h}x{w}  " + "  ".join(shapes))

    if failures:
        for f in failures:
            print(f"FAIL {f}")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
