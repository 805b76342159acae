"""spotdiff.compare and spotdiff.Comparer against the CLI: the same reports, boxes and
pictures for every kind of input; errors as exceptions with the CLI's one-line message;
threads."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spotdiff
from conftest import REPO, cli, cli_error, cli_json, fixture_pairs, real_pairs

ALL_PAIRS = fixture_pairs() + real_pairs()


@pytest.fixture(scope="module")
def comparer() -> spotdiff.Comparer:
    return spotdiff.Comparer()


def test_the_default_backbone_is_found_as_the_cli_finds_it(comparer: spotdiff.Comparer) -> None:
    assert comparer.model == "efficientnet-lite0"
    models, runtime = spotdiff.locate_backbone()
    assert models == str(REPO / "models")
    assert runtime == str(REPO / ".deps/onnxruntime/libonnxruntime.so")


@pytest.mark.parametrize("name,a,b", ALL_PAIRS, ids=[p[0] for p in ALL_PAIRS])
def test_report_equals_the_cli_json(comparer: spotdiff.Comparer, name: str, a: str, b: str) -> None:
    expected = cli_json(a, b)
    r = comparer.compare(a, b)
    assert r.report == expected
    assert r.verdict == expected["verdict"]
    assert [bx.xywh for bx in r.boxes] == [(x["x"], x["y"], x["w"], x["h"]) for x in expected["boxes"]]
    assert r.scores.ssim == expected["scores"]["ssim"]
    assert r.model == expected["model"] == "efficientnet-lite0"
    # The module-level function uses a cached comparer with the same backbone.
    assert spotdiff.compare(a, b).report == expected


OPTION_CASES = [
    ("pixel", ["--method", "pixel"], {"method": "pixel"}),
    ("ssim", ["--method", "ssim", "--ssim-threshold", "0.3"], {"method": "ssim", "ssim_threshold": 0.3}),
    ("deep", ["--method", "deep", "--deep-threshold", "0.6"], {"method": "deep", "deep_threshold": "0.6"}),
    (
        "strict",
        ["--threshold", "2.3", "--min-area", "40", "--merge-distance", "3"],
        {"threshold": 2.3, "min_area": 40, "merge_distance": 3},
    ),
    (
        "ignore",
        ["--ignore", "0,0,320,200", "--ignore", "400,300,100,100"],
        {"ignore": [(0, 0, 320, 200), "400,300,100,100"]},
    ),
]


@pytest.mark.parametrize("label,flags,kw", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_options_have_the_cli_names_and_effects(
    comparer: spotdiff.Comparer, label: str, flags: list, kw: dict
) -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    assert comparer.compare(a, b, **kw).report == cli_json(a, b, *flags)


def test_size_policies_and_model_none_as_the_cli() -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "tests/fixtures/speck-a.png")
    for policy in ("pad", "resize"):
        assert spotdiff.compare(a, b, size_policy=policy).report == cli_json(a, b, "--size-policy", policy)
    off = spotdiff.Comparer(model="none")
    assert off.model is None
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    r = off.compare(a, b)
    assert r.report == cli_json(a, b, "--model", "none")
    assert r.report["model"] is None and r.scores.semantic is None


def test_defaults_are_the_clis() -> None:
    help_text = cli("compare", "--help").stdout
    for name in ("min_area", "size_policy", "align", "global_change", "max_pixels"):
        assert f"[default: {spotdiff.OPTION_DEFAULTS[name]}]" in help_text, name
    assert spotdiff.OPTION_DEFAULTS["min_area"] == 12
    assert spotdiff.OPTION_DEFAULTS["merge_distance"] == 12
    assert spotdiff.OPTION_DEFAULTS["max_pixels"] == 100_000_000
    assert f"[default: {spotdiff.OPTION_DEFAULTS['max_pixels']}]" in help_text
    for flag in ("--threshold", "--ssim-threshold", "--deep-threshold", "--min-area",
                 "--merge-distance", "--ignore", "--size-policy", "--align", "--global-change",
                 "--max-pixels", "--method",
                 "--model", "--ort-lib"):
        assert flag in help_text
        assert flag[2:].replace("-", "_") in {*spotdiff.OPTION_DEFAULTS, "model", "ort_lib"}


def _rgb(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _without_inputs(report: dict) -> dict:
    # What an in-memory input changes: the report's description of A and B.
    return {k: v for k, v in report.items() if k not in ("a", "b")}


# Opaque PNGs: decoded alike by every library (a JPEG's pixels depend on the decoder:
# PIL's and OpenCV's libjpeg-turbo can differ from spotdiff's by a level here and there).
IN_MEMORY = [p for p in ALL_PAIRS if p[0] in ("example", "isoluminant", "pyimagesearch-01", "reg-cli-sample0")]


@pytest.mark.parametrize("name,a,b", IN_MEMORY, ids=[p[0] for p in IN_MEMORY])
def test_numpy_pil_and_bytes_give_the_files_results(
    comparer: spotdiff.Comparer, name: str, a: str, b: str
) -> None:
    want = _without_inputs(comparer.compare(a, b).report)
    ra, rb = _rgb(a), _rgb(b)
    got = {
        "rgb array": comparer.compare(ra, rb),
        "bgr array": comparer.compare(ra[:, :, ::-1], rb[:, :, ::-1], channels="bgr"),
        "bgr comparer": spotdiff.Comparer(channels="bgr").compare(
            np.ascontiguousarray(ra[:, :, ::-1]), rb[:, :, ::-1]
        ),
        "rgba array": comparer.compare(
            np.dstack([ra, np.full(ra.shape[:2], 255, np.uint8)]),
            np.dstack([rb, np.full(rb.shape[:2], 255, np.uint8)]),
        ),
        "pil": comparer.compare(Image.open(a), Image.open(b)),
        "bytes": comparer.compare(Path(a).read_bytes(), Path(b).read_bytes()),
        "pathlib": comparer.compare(Path(a), Path(b)),
    }
    for label, r in got.items():
        assert _without_inputs(r.report) == want, label
    assert got["rgb array"].report["a"]["format"] == "raw"
    assert got["rgb array"].report["a"]["path"] == "A (array)"
    assert got["bytes"].report["b"]["path"] == "B (bytes)"
    # BGR given as if it were RGB swaps red and blue: not the same images any more.
    if name == "isoluminant":
        assert _without_inputs(comparer.compare(ra[:, :, ::-1], rb[:, :, ::-1]).report) != want


def test_alpha_arrays_and_jpeg_bytes_give_the_files_results(comparer: spotdiff.Comparer) -> None:
    pairs = dict((n, (a, b)) for n, a, b in ALL_PAIRS)
    a, b = pairs["odiff-extreme-alpha"]
    want = _without_inputs(comparer.compare(a, b).report)
    rgba = [np.asarray(Image.open(p).convert("RGBA")) for p in (a, b)]
    assert _without_inputs(comparer.compare(*rgba).report) == want
    bgra = [np.ascontiguousarray(x[:, :, [2, 1, 0, 3]]) for x in rgba]
    assert _without_inputs(comparer.compare(*bgra, channels="bgra").report) == want
    a, b = pairs["resemble-people"]
    want = _without_inputs(comparer.compare(a, b).report)
    assert _without_inputs(comparer.compare(Path(a).read_bytes(), Path(b).read_bytes()).report) == want


def test_gray_arrays() -> None:
    a = np.zeros((64, 80), np.uint8)
    b = a.copy()
    b[10:30, 20:50] = 200
    r = spotdiff.compare(a, b, method="pixel")
    assert [bx.xywh for bx in r.boxes] == [(20, 10, 30, 20)]
    assert spotdiff.compare(a, a[:, :, None].copy()).verdict == "identical"


def test_pictures_equal_the_cli_pictures(tmp_path: Path) -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    out = tmp_path / "out"
    r = cli("compare", a, b, "--out", str(out), "--color", "#00c8ff", "--thickness", "3",
            "--fill-opacity", "0.25")
    assert r.returncode == 1, r.stderr
    res = spotdiff.compare(a, b)
    style = {"color": "#00c8ff", "thickness": 3, "fill_opacity": 0.25}
    pictures = {
        "a_boxes.png": res.a_boxes(**style),
        "b_boxes.png": res.b_boxes(**style),
        "side_by_side.png": res.side_by_side(**style),
        "heatmap.png": res.heatmap(),
        "filled.png": res.filled(**style),
    }
    for file, arr in pictures.items():
        want = np.asarray(Image.open(out / file).convert("RGB"))
        assert arr.dtype == np.uint8 and arr.shape == want.shape, file
        assert np.array_equal(arr, want), file
    mask = res.mask()
    assert mask.shape == (427, 640)
    assert np.array_equal(mask, np.asarray(Image.open(out / "mask.png").convert("L")))
    assert int((mask == 255).sum()) == sum(bx.changed_pixels for bx in res.boxes)
    # BGR out for OpenCV; (r, g, b) colours; the arrays are writable.
    bgr = res.side_by_side(channels="bgr", color=(0, 200, 255), thickness=3)
    assert np.array_equal(bgr[:, :, ::-1], pictures["side_by_side.png"])
    bgr[0, 0] = 0
    assert res.picture("side").shape == (427, 2 * 640 + 12, 3)


def test_boxes_and_scores_are_typed(comparer: spotdiff.Comparer) -> None:
    r = comparer.compare(str(REPO / "examples/before.png"), str(REPO / "examples/after.png"))
    assert r.different and bool(r) and len(r.boxes) == 4
    for bx, raw in zip(r.boxes, r.report["boxes"]):
        assert isinstance(bx, spotdiff.Box)
        assert bx.score == raw["mean_change"] == bx.mean_change
        assert bx.kind in ("visual", "semantic")
        assert bx.xyxy == (bx.x, bx.y, bx.x + bx.w, bx.y + bx.h)
        assert bx.area == bx.w * bx.h
    assert isinstance(r.scores, spotdiff.Scores)
    assert 0 < r.scores.ssim < 1
    assert json.loads(r.to_json()) == r.report
    assert r.report["schema"] == spotdiff.REPORT_SCHEMA
    assert set(r.timings) >= {"maps_ms", "boxes_ms"}
    same = comparer.compare(str(REPO / "examples/before.png"), str(REPO / "examples/before.png"))
    assert same.verdict == "identical" and same.boxes == [] and same.scores.ssim == 1.0
    assert not same
    assert "identical" in repr(same)


def _one_line(e: BaseException) -> str:
    s = str(e)
    assert s and "\n" not in s, s
    return s


def test_bad_input_raises_the_clis_one_line_message(tmp_path: Path) -> None:
    good = str(REPO / "examples/before.png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes((REPO / "examples/after.png").read_bytes()[:3000])
    not_image = str(REPO / "README.md")
    missing = str(tmp_path / "missing.png")
    for bad, kind in [(missing, spotdiff.FileError), (not_image, spotdiff.DecodeError),
                      (str(truncated), spotdiff.DecodeError), (str(tmp_path), spotdiff.FileError)]:
        with pytest.raises(kind) as e:
            spotdiff.compare(good, bad)
        assert _one_line(e.value) == cli_error("compare", good, bad)
        assert isinstance(e.value, spotdiff.SpotdiffError) and isinstance(e.value, ValueError)
        assert e.value.kind == {spotdiff.FileError: "io", spotdiff.DecodeError: "decode"}[kind]
    # Sizes differ: the CLI's message, with the hint in the package's terms.
    small = str(REPO / "tests/fixtures/move-fur-a.png")
    with pytest.raises(spotdiff.SizeError) as e:
        spotdiff.compare(good, small)
    cli_line = cli_error("compare", good, small)
    assert _one_line(e.value).split("; ")[0] == cli_line.split("; ")[0]
    assert 'size_policy="pad"' in str(e.value)
    # A pixel limit, checked before decoding.
    with pytest.raises(spotdiff.LimitError) as e:
        spotdiff.compare(good, good, max_pixels=1000)
    cli_line = cli_error("compare", good, good, "--max-pixels", "1000")
    assert _one_line(e.value) == cli_line.replace("--max-pixels", "max_pixels=...")
    with pytest.raises(spotdiff.LimitError):
        spotdiff.compare(np.zeros((100, 100, 3), np.uint8), np.zeros((100, 100, 3), np.uint8), max_pixels=99)
    # Corrupt bytes.
    with pytest.raises(spotdiff.DecodeError) as e:
        spotdiff.compare(b"not an image", Path(good).read_bytes())
    assert _one_line(e.value).startswith("A (bytes): not an image in a supported format")


def test_bad_options_and_types_raise() -> None:
    a = str(REPO / "examples/before.png")
    for kw, needle in [
        ({"method": "magic"}, "unknown method"),
        ({"threshold": -1}, "not `auto` or a positive number"),
        ({"threshold": "lots"}, "not `auto` or a positive number"),
        ({"ssim_threshold": 3}, "out of range"),
        ({"min_area": -3}, "min_area"),
        ({"ignore": [(0, 0, 0, 5)]}, "ignore"),
        ({"size_policy": "stretch"}, "size policy"),
    ]:
        with pytest.raises(spotdiff.OptionError) as e:
            spotdiff.compare(a, a, **kw)
        assert needle in _one_line(e.value), e.value
        assert e.value.kind == "option"
    with pytest.raises(TypeError, match="unknown option"):
        spotdiff.compare(a, a, treshold=5)
    with pytest.raises(TypeError, match="uint8"):
        spotdiff.compare(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="shape"):
        spotdiff.compare(np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError, match="not int"):
        spotdiff.compare(a, 42)
    with pytest.raises(spotdiff.OptionError, match="channels"):
        spotdiff.compare(a, a, channels="hsv")
    r = spotdiff.compare(a, str(REPO / "examples/after.png"))
    with pytest.raises(spotdiff.OptionError, match="picture"):
        r.picture("thumbnail")
    with pytest.raises(spotdiff.OptionError, match="color"):
        r.side_by_side(color="#12345")
    with pytest.raises(spotdiff.OptionError, match="thickness"):
        r.side_by_side(thickness=0)


def test_backbone_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    # A named model that does not exist, or a runtime that is not one: errors.
    with pytest.raises(spotdiff.ModelError, match="no such model manifest"):
        spotdiff.Comparer(model="nonesuch")
    missing = tmp_path / "libonnxruntime.so"
    with pytest.raises(spotdiff.OnnxRuntimeError) as e:
        spotdiff.Comparer(model="efficientnet-lite0", ort_lib=missing)
    assert _one_line(e.value).startswith(f"{missing}: ONNX Runtime library not found")
    # The deep method without a backbone.
    with pytest.raises(spotdiff.OptionError, match="needs a backbone"):
        spotdiff.Comparer(model="none").compare(a, b, method="deep")
    # No default backbone installed: a warning, pixel + SSIM, as the CLI (its note).
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("SPOTDIFF_MODELS", str(empty))
    with pytest.warns(spotdiff.SpotdiffWarning, match="no backbone model in"):
        c = spotdiff.Comparer()
    assert c.model is None
    r = cli("compare", a, b, "--json", env={"SPOTDIFF_MODELS": str(empty)})
    assert "note: no backbone model in" in r.stderr
    want = json.loads(r.stdout)
    want.pop("pictures")
    assert c.compare(a, b).report == want
    # An explicit model path, as the CLI's --model.
    monkeypatch.delenv("SPOTDIFF_MODELS")
    manifest = str(REPO / "models/efficientnet-lite0.json")
    assert spotdiff.Comparer(model=manifest).compare(a, b).report == cli_json(a, b, "--model", manifest)


def test_four_threads_at_once_give_the_same_results(comparer: spotdiff.Comparer) -> None:
    pairs = ALL_PAIRS[:8]
    want = [comparer.compare(a, b).report for _, a, b in pairs]
    got: dict = {}
    errors: list = []

    def work(t: int) -> None:
        try:
            for i in range(len(pairs)):
                k = (i + 2 * t) % len(pairs)  # each thread its own order
                _, a, b = pairs[k]
                got[(t, k)] = comparer.compare(a, b).report
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert len(got) == 4 * len(pairs)
    for (t, k), report in got.items():
        assert report == want[k], (t, pairs[k][0])


def test_the_gil_is_released_while_comparing(comparer: spotdiff.Comparer) -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.perf_counter()
        for _ in range(3):
            comparer.compare(a, b)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # Python code ran in the other thread all through the comparisons: no gap near
    # the length of one comparison.
    gaps = np.diff([start, *during, end])
    assert len(during) >= 10, (len(during), end - start)
    assert gaps.max() < (end - start) / 3, (gaps.max(), end - start)


def test_shard_of_is_the_clis_partition(tmp_path: Path) -> None:
    manifest = tmp_path / "pairs.jsonl"
    a = str(REPO / "tests/fixtures/speck-a.png")
    names = [f"pair-{i}" for i in range(30)] + ["ümlaut", ""]
    manifest.write_text("".join(json.dumps({"name": n, "a": a, "b": a}) + "\n" for n in names))
    for i in (1, 2, 3):
        r = cli("batch", "--manifest", str(manifest), "--shard", f"{i}/3", "--method", "pixel",
                "--model", "none")
        assert r.returncode == 0, r.stderr
        got = [json.loads(line)["name"] for line in r.stdout.splitlines()]
        assert got == [n for n in names if spotdiff.shard_of(n, 3) == i]


def test_stubs_cover_the_native_module() -> None:
    stub = (REPO / "python/spotdiff/_spotdiff.pyi").read_text()
    declared = set(re.findall(r"^(?:class|def) (\w+)|^(\w+):", stub, re.M))
    declared = {a or b for a, b in declared} - {"__version__"}
    public = {n for n in dir(spotdiff._spotdiff) if not n.startswith("_")}
    assert public == declared
    assert (REPO / "python/spotdiff/py.typed").is_file()
    for obj in (spotdiff.compare, spotdiff.Comparer, spotdiff.Comparer.compare, spotdiff.Comparison,
                spotdiff.Box, spotdiff.shard_of, spotdiff.locate_backbone, spotdiff.Comparison.picture):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj


def test_the_streamlit_example_compiles() -> None:
    import py_compile

    py_compile.compile(str(REPO / "examples/streamlit_app.py"), doraise=True)


def test_tolerances_pass_a_small_change_as_the_cli_does(comparer: spotdiff.Comparer) -> None:
    a, b = str(REPO / "examples/before.png"), str(REPO / "examples/after.png")
    strict = comparer.compare(a, b, method="pixel")
    assert strict.verdict == "different" and strict.boxes
    changed = strict.report["tolerance"] if "tolerance" in strict.report else None
    assert changed is None, "no tolerance asked, none reported"
    total = sum(bx.changed_pixels for bx in strict.boxes)
    within = comparer.compare(a, b, method="pixel", max_diff_pixels=total)
    assert within.verdict == "same"
    assert [bx.xywh for bx in within.boxes] == [bx.xywh for bx in strict.boxes]
    assert within.report["tolerance"]["tolerated"] is True
    assert within.report == cli_json(a, b, "--method", "pixel", "--max-diff-pixels", str(total))
    beyond = comparer.compare(a, b, method="pixel", max_diff_pixels=total - 1)
    assert beyond.verdict == "different"
    assert comparer.compare(a, b, method="pixel", max_diff_ratio=1.0).verdict == "same"
    with pytest.raises(spotdiff.OptionError, match="max_diff_pixels"):
        comparer.compare(a, b, max_diff_pixels=-1)
    with pytest.raises(spotdiff.OptionError, match="max_diff_ratio"):
        comparer.compare(a, b, max_diff_ratio=1.5)
