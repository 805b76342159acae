#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/TARGET/) from the test fixtures:
small files (a few hundred bytes to a few KB), one per format and variant for `decode`,
option headers over fixture pixels for `compare` and `render`, upload bodies like the
web page's for `form`, the committed manifests for `manifest`. Deterministic; needs
Pillow (scripts/data/requirements.txt).

Usage: python3 scripts/data/make-fuzz-seeds.py
"""
import io
import json
import shutil
import struct
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus"


def crop(name, size):
    img = Image.open(ROOT / "tests" / "fixtures" / name).convert("RGBA")
    w, h = img.size
    return img.crop((w // 3, h // 3, w // 3 + size, h // 3 + size))


def encode(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def exif_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def decode_seeds():
    rgba = crop("two-changes-far-a.png", 12)
    rgb = rgba.convert("RGB")
    alpha = rgba.copy()
    alpha.putalpha(Image.linear_gradient("L").resize(alpha.size))
    seeds = {
        "rgb.png": encode(rgb, "PNG"),
        "rgba.png": encode(alpha, "PNG"),
        "gray.png": encode(rgb.convert("L"), "PNG"),
        "gray-alpha.png": encode(alpha.convert("LA"), "PNG"),
        "palette.png": encode(rgb.convert("P", palette=Image.ADAPTIVE, colors=8), "PNG"),
        "16bit.png": encode(rgb.convert("I;16"), "PNG"),
        "optimized.png": encode(rgb, "PNG", optimize=True),
        "baseline.jpg": encode(rgb, "JPEG", quality=80),
        "progressive.jpg": encode(rgb, "JPEG", quality=80, progressive=True),
        "gray.jpg": encode(rgb.convert("L"), "JPEG", quality=80),
        "rotated.jpg": encode(crop("two-changes-far-a.png", 12).convert("RGB").resize((12, 8)), "JPEG", exif=exif_orientation(6)),
        "rotated.png": encode(rgb.resize((12, 8)), "PNG", exif=exif_orientation(8)),
        "frames.gif": encode(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "GIF", save_all=True,
                             append_images=[rgb.rotate(90).convert("P", palette=Image.ADAPTIVE, colors=16)]),
        "rgb.bmp": encode(rgb, "BMP"),
        "rgba.bmp": encode(alpha, "BMP"),
        "lzw.tiff": encode(rgb, "TIFF", compression="tiff_lzw"),
        "raw.tiff": encode(alpha, "TIFF"),
        "lossless.webp": encode(alpha, "WEBP", lossless=True),
        "lossy.webp": encode(rgb, "WEBP", quality=70),
    }
    for name, data in seeds.items():
        write("decode", name, data)


def pixel_seeds():
    # Option header (see fuzz/targets.rs `pair`): method, thresholds, min area, merge
    # distance, size policy, ignore flag (+4), style (colour, thickness, opacity),
    # A's size, same-size flag, opaque flag; then pixels, then B's edits.
    px = crop("two-changes-far-a.png", 16).tobytes()
    heads = {
        "fused-same": [2, 0, 0, 12, 12, 0, 0, 255, 0, 68, 1, 128, 15, 15, 1, 0],
        "pixel-strict": [0, 140, 0, 1, 0, 0, 1, 2, 2, 8, 8, 0, 200, 0, 3, 7, 7, 1, 0],
        "ssim-pad": [1, 0, 160, 4, 30, 2, 0, 0, 255, 0, 3, 64, 15, 9, 0, 11, 5, 1],
        "resize": [0, 0, 0, 12, 12, 1, 0, 0, 0, 255, 2, 255, 15, 7, 0, 31, 15, 0],
        "alpha": [2, 0, 0, 3, 3, 0, 0, 255, 255, 0, 2, 30, 7, 7, 1, 1],
    }
    edits = bytes([3, 2, 3, 4, 4, 250, 10, 10, 255, 9, 1, 2, 2, 0, 0, 255, 255])
    for name, head in heads.items():
        data = bytes(head) + px + edits
        write("compare", name, data)
        write("render", name, data)


def form_body(boundary, parts):
    out = b""
    for name, filename, data in parts:
        out += b"--" + boundary + b"\r\n"
        if filename:
            out += b'Content-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: image/png\r\n\r\n' % (name, filename)
        else:
            out += b'Content-Disposition: form-data; name="%s"\r\n\r\n' % name
        out += data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def form_seeds():
    # First byte: boundary length - 1; then its letters as (letter - 'a'); the body.
    def seed(boundary, body):
        return bytes([len(boundary) - 1]) + bytes(c - ord("a") for c in boundary) + body

    a = encode(crop("two-changes-far-a.png", 8).convert("RGB"), "PNG")
    b = encode(crop("two-changes-far-b.png", 8).convert("RGB"), "PNG")
    bd = b"formboundary"
    write("form", "pair", seed(bd, form_body(bd, [(b"a", b"a.png", a), (b"b", b"b.png", b)])))
    write("form", "options", seed(bd, form_body(bd, [
        (b"a", b"a.png", a), (b"b", b"b.png", b), (b"method", None, b"pixel"),
        (b"threshold", None, b"5.5"), (b"ignore", None, b"1,2,3,4"), (b"color", None, b"#00c8ff"),
        (b"pictures", None, b"side,heatmap"), (b"size_policy", None, b"pad"), (b"max_pixels", None, b"1000")])))
    write("form", "bad-fields", seed(bd, form_body(bd, [
        (b"treshold", None, b"4"), (b"min_area", None, b"-3"), (b"fill_opacity", None, b"2")])))
    write("form", "empty", seed(b"x", b"--x--\r\n"))


def manifest_seeds():
    for src in ["tests/fixtures/truth.json", "examples/truth.json"]:
        write("manifest", Path(src).parent.name + "-" + Path(src).name, (ROOT / src).read_bytes())
    write("manifest", "list.json", json.dumps([{"a": "a.png", "b": "b.png", "boxes": [[1, 2, 3, 4]]}]).encode())
    write("manifest", "rankings.json", json.dumps({"name": "r", "root": ".", "rankings": [
        {"ref": "r.png", "candidates": [{"path": "c.png", "severity": 0.5}, {"path": "u.png", "unrelated": True}]}]}).encode())


if __name__ == "__main__":
    if OUT.exists():
        shutil.rmtree(OUT)
    decode_seeds()
    pixel_seeds()
    form_seeds()
    manifest_seeds()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {sum(1 for f in OUT.rglob('*') if f.is_file())} seeds, {total} bytes, to {OUT}")
