#!/usr/bin/env python3
"""Markdown tables for EVALUATION.md's section "Change-model sets (issue 12)", from the
JSON that `spotdiff eval --by-tag --json` wrote for each change-model set.

Usage: python3 scripts/eval/changeset-report.py EVALDIR [SETDIR] > changeset.md
  reads EVALDIR/changeset-{ui,faint,spot}.json (those present) and, for the file sizes,
  SETDIR (default out/changeset).

Per set: the method table (box recall, precision, F1 at IoU >= 0.5; boxes and flagged pairs
on change-free pairs; verdict accuracy; ms per pair), a per-tag table and, for the UI and
faint sets, how many edits of each kind every method boxes (any box on the pair) and finds
(a box with IoU >= 0.5). All numbers are the tallies of `spotdiff eval` (UI: edit:KIND,
de:, font: = lossless pairs; jpeg85-ab:KIND = the same edits with A and B saved as JPEG).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

SETS = [("ui", "UI screenshots (headless Chromium)"), ("faint", "faint coherent changes on photos"),
        ("spot", "spot-the-difference photos")]
FIELDS = ["pairs", "box_pairs", "truth_boxes", "predicted_boxes", "matched", "change_free_pairs",
          "change_free_boxes", "change_free_flagged", "verdict_correct", "errors", "total_ms"]
HIDE = ("photo:",)  # per-photo rows: in the JSON, not in the tables


def ratio(n, d):
    return n / d if d else 1.0


def f1(t):
    p, r = ratio(t["matched"], t["predicted_boxes"]), ratio(t["matched"], t["truth_boxes"])
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def cell(t):
    parts = []
    if t["truth_boxes"]:
        parts.append(f"{ratio(t['matched'], t['truth_boxes']):.2f} / {ratio(t['matched'], t['predicted_boxes']):.2f}"
                     f" / {f1(t):.2f}")
    parts.append(f"v {ratio(t['verdict_correct'], t['pairs']):.2f}")
    if t["change_free_pairs"]:
        parts.append(f"cf {t['change_free_boxes']}")
    return " · ".join(parts)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and ".render" not in f.parts) / 1e6


def found_table(methods, rows):
    """rows: [(label, {method: tally})]; cell = truth boxes found (IoU >= 0.5) / pairs with
    any box (for one-edit pairs both count out of the pairs)."""
    names = [m["name"] for m in methods]
    out = ["| edits | pairs | boxes | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for label, tallies in rows:
        t0 = tallies[names[0]]
        if t0["pairs"] == 0:
            continue
        cells = [f"{t['matched']} / {t['verdict_correct']}" for t in (tallies[k] for k in names)]
        out.append(f"| {label} | {t0['pairs']} | {t0['truth_boxes']} | " + " | ".join(cells) + " |")
    return out


def report(name, title, data, setdir):
    methods = data["methods"]
    t0 = methods[0]["tally"]
    lines = [f"### {title}: `changeset-{name}`", "",
             f"{data['pairs']} pairs ({t0['change_free_pairs']} change-free), {t0['truth_boxes']} truth boxes"
             + (f", {size_mb(setdir / name):.1f} MB." if (setdir / name).is_dir() else "."), "",
             "| method | recall | precision | F1 | cf boxes | cf pairs flagged | verdict | ms/pair | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        t = m["tally"]
        lines.append(f"| {m['name']} | {m['recall']:.3f} | {m['precision']:.3f} | {m['f1']:.3f} | "
                     f"{t['change_free_boxes']} | {t['change_free_flagged']}/{t['change_free_pairs']} | "
                     f"{m['verdict_accuracy']:.3f} | {m['mean_ms']:.1f} | {t['errors']} |")
    tags = sorted(set(methods[0]["by_tag"]) - {f"kind:{name}"})
    lines += ["", "Per tag: recall / precision / F1 (pairs with truth boxes) · v verdict accuracy · "
              "cf boxes on change-free pairs.", "",
              "| tag | pairs | " + " | ".join(m["name"] for m in methods) + " |",
              "|---|---|" + "---|" * len(methods)]
    for tag in tags:
        if tag.startswith(HIDE):
            continue
        n = methods[0]["by_tag"][tag]["pairs"]
        lines.append(f"| {tag} | {n} | " + " | ".join(cell(m["by_tag"][tag]) for m in methods) + " |")

    by = lambda tag: {m["name"]: m["by_tag"].get(tag, dict.fromkeys(FIELDS, 0)) for m in methods}  # noqa: E731
    if name == "ui":
        kinds = sorted(t[5:] for t in tags if t.startswith("edit:"))
        rows = [(f"{k}, lossless PNG", by(f"edit:{k}")) for k in kinds]
        rows += [(f"{k}, A and B JPEG q85", by(f"jpeg85-ab:{k}")) for k in kinds if f"jpeg85-ab:{k}" in tags]
        rows += [(f"colour ΔE {t[3:]}, lossless", by(t)) for t in sorted(t for t in tags if t.startswith("de:"))]
        rows += [(f"char and word, {t[5:]} px text", by(t)) for t in sorted(t for t in tags if t.startswith("font:"))]
        lines += ["", "Edits found (truth boxes matched by a box with IoU >= 0.5) / pairs boxed (any box on "
                  "the pair), per method; colour rows by the CIE76 ΔE between the old and new CSS colour:", ""]
        lines += found_table(methods, rows)
        cf = [t for t in ("nuisance:rerender", "nuisance:nosubpixel", "nuisance:subpixel04", "nuisance:jpeg85",
                          "nuisance:jpeg75", "nuisance:webp80") if t in tags]
        lines += ["", "Change-free pairs flagged (any box) / boxes, per kind of re-render or re-save:", "",
                  "| change-free B | pairs | " + " | ".join(m["name"] for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for tag in cf:
            ts = [m["by_tag"][tag] for m in methods]
            lines.append(f"| {tag[9:]} | {ts[0]['pairs']} | "
                         + " | ".join(f"{t['change_free_flagged']} / {t['change_free_boxes']}" for t in ts) + " |")
    if name == "faint":
        rows = [(t[5:], by(t)) for t in tags if t.startswith("edit:")]
        rows += [(f"{t[3:]} ΔE (tint, recolour)", by(t)) for t in tags if t.startswith("de:")]
        lines += ["", "Edits found (truth boxes matched by a box with IoU >= 0.5) / pairs boxed (any box on "
                  "the pair):", ""]
        lines += found_table(methods, rows)
    return lines


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    evaldir = Path(sys.argv[1])
    setdir = Path(sys.argv[2] if len(sys.argv) > 2 else "out/changeset")
    out = []
    for name, title in SETS:
        path = evaldir / f"changeset-{name}.json"
        if not path.exists():
            continue
        out += report(name, title, json.loads(path.read_text()), setdir) + [""]
    if not out:
        print(f"changeset-report: no changeset-*.json in {evaldir}", file=sys.stderr)
        return 2
    print("\n".join(out).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
