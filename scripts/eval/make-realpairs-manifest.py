#!/usr/bin/env python3
"""Write eval/realpairs.json: the real pairs of ../shared/realpairs with the ground truth
their sources give (see SOURCES.md there), as a `spotdiff eval` manifest.

Boxes are converted from the sources' inclusive x1,y1,x2,y2 to [x, y, w, h]. Pairs whose
truth is only a verdict (Playwright should-match / should-fail, CLEVR-Change) have no
`boxes`. DeepPCB pairs use the loose match rule (DeepPCB's own: IoU >= 0.33, or half
the predicted box inside the loosely drawn defect box). CLEVR-Change distractors (camera or lighting change only) expect "same".

Usage: python3 scripts/eval/make-realpairs-manifest.py [REALPAIRS_DIR]   (standard library only)
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RP = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "realpairs"


def xyxy(x1, y1, x2, y2):
    return [x1, y1, x2 - x1 + 1, y2 - y1 + 1]


pairs = []


def add(name, a, b, boxes=None, expect=None, tags=(), match=None):
    assert (RP / a).is_file() and (RP / b).is_file(), (a, b)
    p = {"name": name, "a": a, "b": b}
    if match:
        p["match"] = match
    if expect:
        p["expect"] = expect
    if boxes is not None:
        p["boxes"] = boxes
    p["tags"] = list(tags)
    pairs.append(p)


LS = "looks-same/test/data/src"
add("looks-same-1px", f"{LS}/no-caret.png", f"{LS}/1px-diff.png", [xyxy(12, 6, 12, 6)], tags=["source:looks-same"])
add("looks-same-unnoticeable", f"{LS}/ref.png", f"{LS}/different-unnoticable.png", [], tags=["source:looks-same"])
add("looks-same-antialiasing", f"{LS}/antialiasing-ref.png", f"{LS}/antialiasing-actual.png", [],
    tags=["source:looks-same"])
add("looks-same-button", "looks-same/benchmark/fixtures/reference.png", "looks-same/benchmark/fixtures/actual.png",
    [xyxy(48, 568, 847, 639)], tags=["source:looks-same", "truth:measured"])
for c in ["red", "green", "blue"]:
    add(f"looks-same-{c}", f"{LS}/ref.png", f"{LS}/{c}.png", expect="different", tags=["source:looks-same"])
add("odiff-orange", "odiff/test/png/orange.png", "odiff/test/png/orange_changed.png",
    [xyxy(153, 50, 200, 83), xyxy(214, 36, 295, 86), xyxy(28, 178, 94, 191)], tags=["source:odiff", "truth:measured"])
add("odiff-extreme-alpha", "odiff/test/png/extreme-alpha.png", "odiff/test/png/extreme-alpha-1.png", [],
    tags=["source:odiff"])
PY = "pyimagesearch_image_diff/images"
add("pyimagesearch-01", "tiepta-check-image/images/original_01.png", f"{PY}/modified_01.png",
    [xyxy(362, 215, 466, 279)], tags=["source:pyimagesearch", "truth:measured"])
add("pyimagesearch-02", f"{PY}/original_02.png", f"{PY}/modified_02.png",
    [xyxy(41, 87, 96, 136), xyxy(53, 261, 181, 277)], tags=["source:pyimagesearch", "truth:measured"])
add("pyimagesearch-03", f"{PY}/original_03.png", f"{PY}/modified_03.png",
    [xyxy(525, 30, 559, 43), xyxy(127, 47, 261, 55), xyxy(548, 70, 553, 85), xyxy(477, 190, 532, 221),
     xyxy(334, 242, 342, 250)], tags=["source:pyimagesearch", "truth:measured"])
add("reg-cli-sample0", "reg-cli/sample/expected/sample0.png", "reg-cli/sample/actual/sample0.png",
    [xyxy(181, 173, 276, 235), xyxy(380, 192, 456, 225)], tags=["source:reg-cli", "truth:measured"])
add("reg-cli-sample1", "reg-cli/sample/expected/sample1.png", "reg-cli/sample/actual/sample1.png", [],
    tags=["source:reg-cli"])
add("resemble-ghost", "resemblejs/demoassets/ghost1.png", "resemblejs/demoassets/ghost2.png",
    expect="different", tags=["source:resemblejs"])
add("resemble-people", "resemblejs/demoassets/People.jpg", "resemblejs/demoassets/People2.jpg",
    expect="different", tags=["source:resemblejs"])
add("resemble-text-aa", "resemblejs/nodejs-tests/assets/text.png", "resemblejs/nodejs-tests/assets/textAa.png",
    [], tags=["source:resemblejs"])

PW = Path("playwright-image-tools/tests/image_tools/fixtures")
for exp in sorted((RP / PW).rglob("*-expected.png")):
    act = exp.with_name(exp.name.replace("-expected.png", "-actual.png"))
    if not act.is_file():
        continue
    kind = "should-match" if "should-match" in exp.parts else "should-fail"
    rel = exp.relative_to(RP)
    name = f"playwright-{rel.parent.name}-{exp.name.replace('-expected.png', '')}"
    add(name, str(rel), str(act.relative_to(RP)), expect="same" if kind == "should-match" else "different",
        tags=["source:playwright", f"playwright:{kind}"])

for i in range(5):
    ref = f"clevr-change-samples/images/CLEVR_default_{i:06d}.png"
    add(f"clevr-{i:06d}-semantic", ref, f"clevr-change-samples/sc_images/CLEVR_semantic_{i:06d}.png",
        expect="different", tags=["source:clevr-change", "clevr:semantic"])
    add(f"clevr-{i:06d}-distractor", ref, f"clevr-change-samples/nsc_images/CLEVR_nonsemantic_{i:06d}.png",
        expect="same", tags=["source:clevr-change", "clevr:distractor"])

for line in (RP / "deeppcb/PCBData_test.txt").read_text().split("\n"):
    if not line.strip():
        continue
    img, ann = line.split()
    stem = img[:-4]
    if not (RP / "deeppcb/PCBData" / f"{stem}_temp.jpg").is_file():
        continue
    boxes = []
    for row in (RP / "deeppcb/PCBData" / ann).read_text().split("\n"):
        v = row.replace(",", " ").split()
        if len(v) >= 4:
            x1, y1, x2, y2 = (int(t) for t in v[:4])
            boxes.append([x1, y1, x2 - x1, y2 - y1])
    add(f"deeppcb-{Path(stem).name}", f"deeppcb/PCBData/{stem}_temp.jpg", f"deeppcb/PCBData/{stem}_test.jpg",
        boxes, tags=["source:deeppcb"], match="loose")

manifest = {
    "name": "realpairs",
    "root": "../../shared/realpairs",
    "note": "made by scripts/eval/make-realpairs-manifest.py; truth from ../shared/realpairs/SOURCES.md",
    "pairs": pairs,
}
text = json.dumps(manifest, indent=1)
text = re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3, \4]", text)
text = re.sub(r"\[\s+(\"[^\"]*\")(,\s+(\"[^\"]*\"))?\s+\]", lambda m: "[" + m.group(1) + (", " + m.group(3) if m.group(3) else "") + "]", text)
out = ROOT / "eval/realpairs.json"
out.write_text(text + "\n")
print(f"{out}: {len(pairs)} pairs")
