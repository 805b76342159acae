#!/usr/bin/env python3
"""Change-model set, kind 1: UI screenshots rendered with headless Chromium, with edits
made in the DOM and change-free re-renders. Truth = the pixels that differ.

Usage: .deps/eval-venv/bin/python scripts/eval/make-changeset-ui.py OUT
       (scripts/eval/make-changeset.sh runs it with OUT = out/changeset/ui)

Inputs (committed): scripts/eval/ui/pages/*.html (12 small static pages),
scripts/eval/ui/edits.mjs (the edits, one JS call each), scripts/eval/ui/render.mjs (the
renderer: Debian's /usr/bin/chromium driven by playwright-core, flags --headless
--no-sandbox --disable-gpu --disable-background-networking --disable-component-update
--no-first-run; viewport 1280x800 or 390x844 at device scale 1; docs-long full page).

Writes OUT/manifest.json and OUT/PAGE/*.{png,jpg,webp}. Per page:
  a.png                 the page as written (reference A of every pair of the page)
  EDIT.png              the page after one edit; truth box = bounding box of the pixels
                        that differ from a.png (both lossless PNG, same renderer and
                        flags). An edit whose render equals a.png is skipped and reported.
  multi.png             three edits at once; one truth box per edit (from its own render)
  a-q85.jpg, EDIT-q85.jpg   A and B of some edits both re-saved as JPEG q85 (Pillow);
                        truth boxes as for the PNG pair
  change-free B's: rerender.png (the page rendered by a second browser process), nosubpixel.png
  (browser launched with --disable-font-subpixel-positioning), subpixel.png (body moved by
  a CSS transform translate(0.4px, 0.4px)), jpeg85.jpg, jpeg75.jpg, webp80.webp (a.png
  re-saved by Pillow 12: JPEG 4:2:0, WebP lossy quality 80)
Tags: kind:ui, page:NAME, edit:KIND (char, word, color, move, icon, remove, border, weight,
multi), font:11-13 / font:14-16 / font:17+ (text edits: the edited text's CSS size),
de:3-5 / 5-8 / 8-12 / 12-18 / 18-26 (colour edits: CIE76 ΔE between the old and new CSS
colour, in CIE Lab D65), color:text / fill / line / icon (what was recoloured),
nuisance:rerender / nosubpixel / subpixel04 / jpeg85 / jpeg75 / webp80 / jpeg85-ab (the
JPEG copies of edited pairs are tagged jpeg85-ab:KIND instead of edit:KIND and carry no
font:, de: or color: tag, so those tags always mean lossless pairs),
theme:dark, width:phone, layout:long, identical (B decodes to exactly A's pixels).
Each pair's `note` says what changed (CSS values, ΔE, number of differing pixels).
Deterministic: no randomness; the same Chromium build and fonts give the same pixels.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import color as skcolor

HERE = Path(__file__).resolve().parent
UI = HERE / "ui"
PAGES_DIR = UI / "pages"
BUCKETS = [(3, 5), (5, 8), (8, 12), (12, 18), (18, 26)]
PROP_TAG = {"color": "text", "background-color": "fill", "fill": "icon"}
MAX_STRONG = 0.08  # a re-render changing more pixels than this by > 64 levels is no nuisance
SPILL = 3  # px: a diff reaching further than this outside the edited element is reported


def node_json(*args) -> object:
    out = subprocess.run(["node", *map(str, args)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def css_rgb(s: str) -> tuple[int, int, int]:
    m = re.match(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)", s)
    if not m:
        raise ValueError(f"not an rgb colour: {s}")
    return tuple(int(round(float(v))) for v in m.groups())


def lab(rgb) -> np.ndarray:
    return skcolor.rgb2lab(np.array(rgb, dtype=np.float64).reshape(1, 1, 3) / 255.0)[0, 0]


def delta_e76(c1, c2) -> float:
    return float(np.linalg.norm(lab(c1) - lab(c2)))


def delta_e00(c1, c2) -> float:
    return float(skcolor.deltaE_ciede2000(lab(c1), lab(c2)))


def de_bucket(de: float) -> str:
    for lo, hi in BUCKETS:
        if lo <= de < hi:
            return f"de:{lo}-{hi}"
    return "de:<3" if de < 3 else "de:26+"


def font_tag(px: float) -> str:
    return "font:11-13" if px <= 13.5 else "font:14-16" if px <= 16.5 else "font:17+"


def hexc(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def bbox(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def inside(box, rect, margin) -> bool:
    x, y, w, h = rect
    return (box[0] >= x - margin and box[1] >= y - margin
            and box[0] + box[2] <= x + w + margin and box[1] + box[3] <= y + h + margin)


def render(jobs: list[dict], work: Path, parts: int = 2) -> tuple[str, dict]:
    """Runs render.mjs on the jobs, split by page over `parts` browser processes."""
    pages = sorted({j["page"] for j in jobs})
    groups = [[j for j in jobs if pages.index(j["page"]) % parts == k] for k in range(parts)]

    def run(k):
        jp, rp = work / f"jobs-{k}.json", work / f"results-{k}.json"
        jp.write_text(json.dumps(groups[k]))
        subprocess.run(["node", str(UI / "render.mjs"), str(jp), str(rp)], check=True)
        return json.loads(rp.read_text())

    with ThreadPoolExecutor(parts) as ex:
        outs = list(ex.map(run, range(parts)))
    results = {r["id"]: r for o in outs for r in o["results"]}
    return outs[0]["browser"], results


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".render"
    work.mkdir(exist_ok=True)
    t0 = time.time()
    pages = node_json(UI / "edits.mjs")

    jobs = []
    for p in pages:
        d = out / p["page"]
        d.mkdir(exist_ok=True)
        base = {"page": str(PAGES_DIR / f"{p['page']}.html"), "width": p["width"], "height": p["height"],
                "full_page": bool(p.get("full_page")), "browser": "default", "js": None}
        name = p["page"]
        jobs.append({**base, "id": f"{name}/a", "out": str(d / "a.png")})
        jobs.append({**base, "id": f"{name}/rerender", "browser": "rerender", "out": str(d / "rerender.png")})
        jobs.append({**base, "id": f"{name}/nosubpixel", "browser": "nosubpixel", "out": str(d / "nosubpixel.png")})
        jobs.append({**base, "id": f"{name}/subpixel", "out": str(d / "subpixel.png"),
                     "js": "(document.body.style.transform = 'translate(0.4px, 0.4px)', null)"})
        edits = {e[0]: e for e in p["edits"]}
        for eid, _kind, js in p["edits"]:
            jobs.append({**base, "id": f"{name}/{eid}", "out": str(d / f"{eid}.png"), "js": js})
        jobs.append({**base, "id": f"{name}/multi", "out": str(d / "multi.png"),
                     "js": "[" + ", ".join(edits[e][2] for e in p["multi"]) + "]"})
    print(f"make-changeset-ui: rendering {len(jobs)} screenshots", file=sys.stderr)
    browser, results = render(jobs, work)
    t_render = time.time() - t0

    pairs, skipped, reports = [], [], []
    for p in pages:
        name, d = p["page"], out / p["page"]
        rel = lambda f: f"{name}/{f}"  # noqa: E731
        base_tags = ["kind:ui", f"page:{name}"] + p.get("tags", [])
        a = load_rgb(d / "a.png")
        H, W = a.shape[:2]

        # edits: truth = bounding box of the differing pixels
        truth = {}
        for eid, kind, js in p["edits"]:
            b = load_rgb(d / f"{eid}.png")
            if b.shape != a.shape:
                skipped.append(f"{name}/{eid}: size {b.shape[1]}x{b.shape[0]} != {W}x{H}")
                continue
            diff = np.any(a != b, axis=-1)
            box = bbox(diff)
            if box is None:
                skipped.append(f"{name}/{eid}: the edit changes no pixel")
                (d / f"{eid}.png").unlink()
                continue
            ret = results[f"{name}/{eid}"]["ret"]
            tags = base_tags + [f"edit:{kind}"]
            de_px = np.sqrt(((skcolor.rgb2lab(a[diff][None] / 255.0) - skcolor.rgb2lab(b[diff][None] / 255.0)) ** 2)
                            .sum(-1))[0]
            note = f"{kind} {js}; {int(diff.sum())} px differ, pixel ΔE76 max {de_px.max():.1f}"
            if kind in ("char", "word") and ret.get("font_px"):
                tags.append(font_tag(ret["font_px"]))
                note += f"; {ret['font_px']:g} px text"
            if kind == "color":
                c0, c1 = css_rgb(ret["before"]), css_rgb(ret["after"])
                de76, de00 = delta_e76(c0, c1), delta_e00(c0, c1)
                tags += [de_bucket(de76), f"color:{PROP_TAG.get(ret['prop'], 'line')}"]
                note += f"; {ret['prop']} {hexc(c0)} -> {hexc(c1)}: ΔE76 {de76:.1f}, ΔE00 {de00:.1f}"
            if not inside(box, ret["rect"], SPILL):
                tags.append("layout:spill")
                reports.append(f"{name}/{eid}: changed pixels {box} reach beyond the element {ret['rect']}")
            truth[eid] = (box, diff)
            pairs.append({"name": f"ui-{name}-{eid}", "a": rel("a.png"), "b": rel(f"{eid}.png"),
                          "expect": "different", "boxes": [box], "tags": tags, "note": note})

        # three edits at once: one box per edit, checked against the combined render
        b = load_rgb(d / "multi.png")
        diff = np.any(a != b, axis=-1)
        missing = [e for e in p["multi"] if e not in truth]
        if missing:
            skipped.append(f"{name}/multi: {missing} skipped above")
        else:
            boxes = [truth[e][0] for e in p["multi"]]
            union = np.zeros_like(diff)
            for x, y, w, h in boxes:
                union[max(0, y - 1):y + h + 1, max(0, x - 1):x + w + 1] = True
            own = [bbox(diff[y:y + h, x:x + w]) is not None for x, y, w, h in boxes]
            if (diff & ~union).any() or not all(own):
                skipped.append(f"{name}/multi: the combined render does not match its three edits")
            else:
                pairs.append({"name": f"ui-{name}-multi", "a": rel("a.png"), "b": rel("multi.png"),
                              "expect": "different", "boxes": boxes,
                              "tags": base_tags + ["edit:multi"], "note": "edits " + ", ".join(p["multi"])})

        # JPEG q85 on both sides
        Image.fromarray(a).save(d / "a-q85.jpg", quality=85)
        for eid in p["jpeg"]:
            if eid not in truth:
                continue
            Image.open(d / f"{eid}.png").convert("RGB").save(d / f"{eid}-q85.jpg", quality=85)
            src = next(q for q in pairs if q["name"] == f"ui-{name}-{eid}")
            kind = next(e[1] for e in p["edits"] if e[0] == eid)
            pairs.append({**src, "name": f"ui-{name}-{eid}-q85", "a": rel("a-q85.jpg"), "b": rel(f"{eid}-q85.jpg"),
                          "tags": base_tags + ["nuisance:jpeg85-ab", f"jpeg85-ab:{kind}"],
                          "note": src["note"] + "; A and B saved as JPEG q85"})

        # change-free
        Image.fromarray(a).save(d / "jpeg85.jpg", quality=85)
        Image.fromarray(a).save(d / "jpeg75.jpg", quality=75)
        Image.fromarray(a).save(d / "webp80.webp", quality=80)
        for f, nk in [("rerender.png", "rerender"), ("nosubpixel.png", "nosubpixel"), ("subpixel.png", "subpixel04"),
                      ("jpeg85.jpg", "jpeg85"), ("jpeg75.jpg", "jpeg75"), ("webp80.webp", "webp80")]:
            b = load_rgb(d / f)
            note = f"change-free: {nk}"
            if b.shape != a.shape:
                # a transformed body may add one row of scrollable overflow to a full-page shot
                if b.shape[0] - a.shape[0] in (1, 2) and b.shape[1] == a.shape[1]:
                    Image.fromarray(b[:H]).save(d / f)
                    b = b[:H]
                    note += f" (cropped to {W}x{H})"
                else:
                    skipped.append(f"{name}/{f}: size differs")
                    continue
            tags = base_tags + [f"nuisance:{nk}"]
            n = int(np.any(a != b, axis=-1).sum())
            strong = float((np.abs(a.astype(int) - b).max(-1) > 64).mean())
            if nk != "webp80" and not nk.startswith("jpeg") and strong > MAX_STRONG:
                # not change-free after all (e.g. a transformed body re-anchors position:fixed)
                skipped.append(f"{name}/{f}: {100 * strong:.1f} % of the pixels change by more than 64 levels")
                continue
            if n == 0:
                tags.append("identical")
                note += "; pixel-identical to A"
            else:
                note += f"; {n} px differ ({100.0 * n / (H * W):.2f} %), max |Δ| {int(np.abs(a.astype(int) - b).max())}"
            pairs.append({"name": f"ui-{name}-cf-{nk}", "a": rel("a.png"), "b": rel(f),
                          "expect": "same", "boxes": [], "tags": tags, "note": note})

    fonts = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout.split("\n")
    manifest = {
        "name": "changeset-ui",
        "note": (f"made by scripts/eval/make-changeset-ui.py; Chromium {browser} (headless, Debian), "
                 f"fonts: {', '.join(sorted({f.split(',')[0] for f in fonts if f}))}; boxes are [x, y, w, h]"),
        "pairs": pairs,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    for s in skipped:
        print(f"make-changeset-ui: skipped {s}", file=sys.stderr)
    for r in reports:
        print(f"make-changeset-ui: note: {r}", file=sys.stderr)
    n_same = sum(q["expect"] == "same" for q in pairs)
    print(f"make-changeset-ui: {len(pairs)} pairs ({n_same} change-free) -> {out} "
          f"(Chromium {browser}; render {t_render:.0f} s, total {time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    sys.exit(main())
