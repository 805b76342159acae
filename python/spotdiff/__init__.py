"""spotdiff: find every region that changed between two images.

It draws a box around each changed region, says how similar the images are (pixel,
structural and deep-feature scores) and draws pictures a person can check at a glance.
The work is done by the spotdiff Rust library, with the GIL released.

    >>> import spotdiff
    >>> r = spotdiff.compare("before.png", "after.png")
    >>> r.verdict                       # "identical", "same" or "different"
    >>> [(b.x, b.y, b.w, b.h) for b in r.boxes]
    >>> side = r.side_by_side()         # numpy array, H x W x 3, RGB

Images are paths, bytes of an image file, PIL images, or numpy arrays of uint8
(H x W gray, H x W x 3 RGB, H x W x 4 RGBA). OpenCV's arrays are BGR: pass
``channels="bgr"`` (for inputs; the picture methods take it too, for outputs).

For many pairs, make one :class:`Comparer` (it loads the deep-feature backbone once)
and call :meth:`Comparer.compare` from as many threads as you like. For a cluster,
see :mod:`spotdiff.ray`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from . import _spotdiff
from ._spotdiff import (
    REPORT_SCHEMA,
    DecodeError,
    FileError,
    LimitError,
    ModelError,
    OnnxRuntimeError,
    OptionError,
    SizeError,
    SpotdiffError,
    __version__,
)

if TYPE_CHECKING:
    import numpy

__all__ = [
    "Box",
    "Comparer",
    "Comparison",
    "DecodeError",
    "FileError",
    "LimitError",
    "ModelError",
    "OPTION_DEFAULTS",
    "OnnxRuntimeError",
    "OptionError",
    "PICTURES",
    "REPORT_SCHEMA",
    "Scores",
    "SizeError",
    "SpotdiffError",
    "SpotdiffWarning",
    "compare",
    "locate_backbone",
    "shard_of",
    "__version__",
]

#: What an image may be: a path, the bytes of an image file, a PIL image, or a numpy
#: array of uint8 (H x W, H x W x 1, H x W x 3 or H x W x 4).
ImageLike = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]

#: The comparison options and their defaults: the names and defaults of
#: ``spotdiff compare`` (``--min-area`` is ``min_area``, ...).
OPTION_DEFAULTS: Dict[str, Any] = {
    "method": "fused",
    "threshold": "auto",
    "ssim_threshold": "auto",
    "deep_threshold": "auto",
    "min_area": 12,
    "merge_distance": 12,
    "ignore": (),
    "size_policy": "auto",
    "align": "auto",
    "global_change": "different",
    "max_pixels": 100_000_000,
    "max_diff_pixels": None,
    "max_diff_ratio": None,
}

#: Picture names, as ``spotdiff compare --write`` takes them.
PICTURES = ("a", "b", "side", "heatmap", "mask", "filled")


class SpotdiffWarning(UserWarning):
    """Said once per :class:`Comparer` when the default backbone is not installed and
    the fused method falls back to pixel + SSIM evidence (as the command line's note)."""


@dataclass(frozen=True)
class Box:
    """One changed region, in pixels of A (after the size policy).

    ``score`` is the box's mean colour change: the mean CIE76 ΔE of its changed pixels
    (``mean_change``; 2.3 is just noticeable, the default threshold is 12). Larger is a
    stronger change; sort or filter boxes by it. A ``semantic`` box (found by the deep
    features only) may score low: see ``deep_change`` for its feature distance.
    """

    x: int
    y: int
    w: int
    h: int
    #: Mean ΔE of the changed pixels (= ``mean_change``).
    score: float
    #: ``"visual"``, or ``"semantic"`` when only the deep features see the change.
    kind: str
    #: ``w * h``.
    area: int
    #: Pixels in the box above the threshold (the mask's white pixels).
    changed_pixels: int
    #: Mean ΔE of the changed pixels.
    mean_change: float
    #: Largest ΔE in the box.
    peak_change: float
    #: Largest deep-feature distance ``2 (1 - cos)`` in the box; ``None`` without a
    #: backbone.
    deep_change: Optional[float]
    #: Which evidence found it: ``"pixel"``, ``"ssim"``, ``"deep"``.
    evidence: Tuple[str, ...]

    @property
    def xywh(self) -> Tuple[int, int, int, int]:
        """``(x, y, w, h)``."""
        return (self.x, self.y, self.w, self.h)

    @property
    def xyxy(self) -> Tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``, right and bottom exclusive (``cv2.rectangle`` wants
        ``(x0, y0), (x1 - 1, y1 - 1)``)."""
        return (self.x, self.y, self.x + self.w, self.y + self.h)

    @classmethod
    def from_report(cls, b: Dict[str, Any]) -> "Box":
        """A box from one entry of the report's ``boxes``."""
        return cls(
            x=b["x"],
            y=b["y"],
            w=b["w"],
            h=b["h"],
            score=b["mean_change"],
            kind=b["kind"],
            area=b["area"],
            changed_pixels=b["changed_pixels"],
            mean_change=b["mean_change"],
            peak_change=b["peak_change"],
            deep_change=b["deep_change"],
            evidence=tuple(b["evidence"]),
        )


@dataclass(frozen=True)
class Scores:
    """Image-level scores (the report's ``scores``)."""

    #: Mean SSIM on luma, as scikit-image computes it (1 = identical).
    ssim: float
    #: Share of pixels inside reported changes (0..1).
    changed_pixel_ratio: float
    #: Share of pixels that differ at all (0..1).
    differing_pixel_ratio: float
    #: Largest colour change, ΔE.
    max_delta_e: float
    #: Cosine similarity of the backbone's pooled embeddings; ``None`` without a
    #: backbone. Unrelated photos still score 0.5-0.8: decide from the boxes.
    semantic: Optional[float]
    #: Mean cosine similarity of corresponding feature cells; ``None`` without one.
    patch_similarity: Optional[float]


class Comparison:
    """The result of one comparison.

    ``report`` is the dict ``spotdiff compare --json`` prints (without ``pictures``);
    ``verdict``, ``boxes`` and ``scores`` are parts of it in Python form. The picture
    methods draw on request and return numpy arrays.
    """

    __slots__ = ("_native", "report", "boxes", "scores")

    def __init__(self, native: "_spotdiff.Comparison") -> None:
        self._native = native
        #: The JSON report as a dict (``json.dumps(report)`` is the CLI's ``--json``).
        self.report: Dict[str, Any] = json.loads(native.report_json)
        #: The changed regions, in the report's order.
        self.boxes: List[Box] = [Box.from_report(b) for b in self.report["boxes"]]
        s = self.report["scores"]
        #: Image-level scores.
        self.scores = Scores(**{f: s.get(f) for f in Scores.__dataclass_fields__})

    @property
    def verdict(self) -> str:
        """``"identical"`` (pixel-for-pixel equal), ``"same"`` (differences, none above
        the thresholds) or ``"different"`` (at least one box)."""
        return self.report["verdict"]

    @property
    def different(self) -> bool:
        """True when at least one box was found (the CLI's exit code 1)."""
        return bool(self.boxes)

    @property
    def model(self) -> Optional[str]:
        """The backbone that gave deep evidence, ``None`` when none ran."""
        return self.report["model"]

    @property
    def thresholds(self) -> Dict[str, Optional[float]]:
        """The thresholds in force: ``pixel_delta_e``, ``ssim_dissimilarity``,
        ``deep_distance``."""
        return self.report["thresholds"]

    @property
    def timings(self) -> Dict[str, float]:
        """Milliseconds spent in the comparison's steps."""
        return dict(self._native.timings)

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.report, indent=indent, ensure_ascii=False)

    def picture(
        self,
        name: str,
        *,
        color: Union[str, Tuple[int, int, int], None] = None,
        thickness: int = 2,
        fill_opacity: float = 0.5,
        channels: str = "rgb",
    ) -> "numpy.ndarray":
        """Draws one picture: ``a``, ``b``, ``side``, ``heatmap``, ``mask`` or
        ``filled`` (as ``spotdiff compare --write``). Returns a uint8 array,
        H x W x 3 (RGB, or BGR with ``channels="bgr"``), H x W for the mask.

        ``color`` is the box and fill colour (``"#ff0044"`` or ``(r, g, b)``), as the
        CLI's ``--color``; ``thickness`` and ``fill_opacity`` as its options.
        """
        import numpy as np

        data, h, w, c = self._native.render(
            name,
            color=color,
            thickness=thickness,
            fill_opacity=fill_opacity,
            bgr=_order(channels) == "bgr",
        )
        arr = np.frombuffer(data, dtype=np.uint8)
        return arr.reshape((h, w) if c == 1 else (h, w, c))

    def a_boxes(self, **style: Any) -> "numpy.ndarray":
        """A with the boxes drawn (``a_boxes.png``); style as :meth:`picture`."""
        return self.picture("a", **style)

    def b_boxes(self, **style: Any) -> "numpy.ndarray":
        """B with the boxes drawn (``b_boxes.png``)."""
        return self.picture("b", **style)

    def side_by_side(self, **style: Any) -> "numpy.ndarray":
        """A | B with boxes on both (``side_by_side.png``)."""
        return self.picture("side", **style)

    def heatmap(self, **style: Any) -> "numpy.ndarray":
        """The change heatmap over a dimmed B (``heatmap.png``)."""
        return self.picture("heatmap", **style)

    def mask(self) -> "numpy.ndarray":
        """H x W uint8, 255 where a pixel changed inside a box (``mask.png``)."""
        return self.picture("mask")

    def filled(self, **style: Any) -> "numpy.ndarray":
        """B with the changed pixels filled in the highlight colour (``filled.png``)."""
        return self.picture("filled", **style)

    def __bool__(self) -> bool:
        return self.different

    def __repr__(self) -> str:
        return (
            f"<spotdiff.Comparison {self.verdict}: {len(self.boxes)} box"
            f"{'' if len(self.boxes) == 1 else 'es'}, ssim {self.scores.ssim:.4f}>"
        )


def _order(channels: Optional[str]) -> str:
    c = (channels or "rgb").lower()
    if c in ("rgb", "rgba"):
        return "rgb"
    if c in ("bgr", "bgra"):
        return "bgr"
    raise OptionError(f'invalid option channels={channels!r}: use "rgb" or "bgr"')


def _source(x: Any, order: str) -> Any:
    """What the native side takes: a path (str), encoded bytes, or Pixels."""
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x)
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    if hasattr(x, "__array_interface__") and hasattr(x, "dtype"):
        return _pixels(x, order)
    if hasattr(x, "mode") and hasattr(x, "tobytes") and hasattr(x, "size"):
        return _pil(x)
    raise TypeError(
        "an image is a path, bytes of an image file, a PIL image or a numpy array, "
        f"not {type(x).__name__}"
    )


def _pixels(arr: Any, order: str) -> "_spotdiff.Pixels":
    import numpy as np

    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"a numpy image must be uint8, not {arr.dtype} "
            "(scale it to 0..255 and use .astype(numpy.uint8))"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"a numpy image is H x W, H x W x 1, H x W x 3 or H x W x 4, not shape {arr.shape}"
        )
    h, w, c = arr.shape
    return _spotdiff.Pixels(arr.tobytes(), w, h, c, order)  # C order, one copy


def _pil(im: Any) -> "_spotdiff.Pixels":
    if im.mode not in ("RGB", "RGBA", "L"):
        alpha = "A" in im.mode or "transparency" in getattr(im, "info", {})
        im = im.convert("RGBA" if alpha else "RGB")
    c = {"L": 1, "RGB": 3, "RGBA": 4}[im.mode]
    w, h = im.size
    return _spotdiff.Pixels(im.tobytes(), w, h, c, "rgb")


def _roots() -> List[Path]:
    """Folders that may be a spotdiff clone: the working folder and its parents, the
    folders above the package (an editable install in ``python/``) and above the
    Python environment (a venv in the clone's ``.deps/``)."""
    out: List[Path] = []
    cwd = Path.cwd()
    here = Path(__file__).resolve().parent
    prefix = Path(sys.prefix)
    for p in [cwd, *list(cwd.parents)[:3], *list(here.parents)[:3], *list(prefix.parents)[:3]]:
        if p not in out:
            out.append(p)
    return out


def locate_backbone(ort_lib: Union[str, "os.PathLike[str]", None] = None) -> Tuple[Optional[str], Optional[str]]:
    """Where the backbone is looked for: ``(models_dir, ort_lib)``, either ``None`` when
    not found.

    The runtime: ``ort_lib``, then ``$ORT_DYLIB_PATH``, then
    ``.deps/onnxruntime/libonnxruntime.so`` of a spotdiff clone. The models folder:
    ``$SPOTDIFF_MODELS``, then ``models/`` of a clone. A clone is the working folder or
    one above it, or the folder above the package or the Python environment.
    """
    roots = _roots()
    models = os.environ.get("SPOTDIFF_MODELS") or next(
        (str(r / "models") for r in roots if (r / "models" / "efficientnet-lite0.json").is_file()),
        None,
    )
    if ort_lib is not None:
        runtime: Optional[str] = os.fspath(ort_lib)
    else:
        runtime = os.environ.get("ORT_DYLIB_PATH") or next(
            (
                str(r / ".deps/onnxruntime/libonnxruntime.so")
                for r in roots
                if (r / ".deps/onnxruntime/libonnxruntime.so").is_file()
            ),
            None,
        )
    return models, runtime


class Comparer:
    """A comparison session: the backbone, loaded once, and default options.

    ``model`` is a backbone name (``"resnet50"``, ``"efficientnet-lite0"``), a manifest
    ``.json``, a model ``.onnx`` with its manifest beside it, or ``"none"``; by default
    ResNet50 when installed, else EfficientNet-Lite0, else no backbone (the fused method
    then uses pixel + SSIM evidence, as the CLI, and a :class:`SpotdiffWarning` says
    so). ``ort_lib`` is the ONNX Runtime library; see :func:`locate_backbone` for where
    both are looked for. A model that was named but cannot be used raises
    :class:`ModelError` or :class:`OnnxRuntimeError`.

    ``options`` are the defaults of every :meth:`compare` (see ``OPTION_DEFAULTS``):
    ``method`` (``fused``, ``pixel``, ``ssim``, ``deep``), ``threshold`` (ΔE or
    ``"auto"``), ``ssim_threshold``, ``deep_threshold``, ``min_area``,
    ``merge_distance``, ``ignore`` (a list of ``(x, y, w, h)``), ``size_policy``
    (``auto``, ``error``, ``align``, ``resize``, ``pad``), ``align`` (``none``,
    ``auto``, ``shift``, ``affine``, ``homography``), ``global_change``
    (``different``, ``ignore``), ``max_pixels``,
    ``max_diff_pixels`` and ``max_diff_ratio`` (tolerances: the verdict is ``same`` while
    the boxes hold no more changed pixels, the boxes are still listed); ``channels`` (``"rgb"`` or
    ``"bgr"``) is how numpy inputs are ordered.

    Thread-safe: one comparer serves any number of threads, each comparison runs with
    the GIL released.
    """

    def __init__(
        self,
        *,
        model: Optional[str] = None,
        ort_lib: Union[str, "os.PathLike[str]", None] = None,
        channels: str = "rgb",
        **options: Any,
    ) -> None:
        unknown = set(options) - set(OPTION_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        self._order = _order(channels)
        self._kw = {**OPTION_DEFAULTS, **options}
        self._options = _spotdiff.Options(**_native_kw(self._kw))
        models_dir, runtime = locate_backbone(ort_lib)
        model = os.fspath(model) if model is not None else None
        self._session = _spotdiff.Session(model, models_dir, runtime)
        if self._session.note:
            warnings.warn(
                f"{self._session.note}; comparing with pixel + SSIM evidence only",
                SpotdiffWarning,
                stacklevel=2,
            )

    @property
    def model(self) -> Optional[str]:
        """The backbone's name, ``None`` without one."""
        return self._session.model

    @property
    def options(self) -> Dict[str, Any]:
        """The default options of this comparer."""
        return dict(self._kw)

    def compare(
        self, a: ImageLike, b: ImageLike, *, channels: Optional[str] = None, **options: Any
    ) -> Comparison:
        """Compares ``a`` (the reference) with ``b``. Keyword arguments override this
        comparer's options for this call. Raises a :class:`SpotdiffError` subclass
        (one line naming the file or option) when the comparison cannot be made."""
        order = self._order if channels is None else _order(channels)
        if options:
            unknown = set(options) - set(OPTION_DEFAULTS)
            if unknown:
                raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
            opts = _spotdiff.Options(**_native_kw({**self._kw, **options}))
        else:
            opts = self._options
        native = self._session.compare(_source(a, order), _source(b, order), opts)
        return Comparison(native)

    def __repr__(self) -> str:
        return f"<spotdiff.Comparer model={self.model!r} method={self._kw['method']!r}>"


def _native_kw(kw: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(kw)
    out["ignore"] = list(kw["ignore"]) if kw["ignore"] is not None else None
    return out


_COMPARERS: Dict[Tuple[Optional[str], Optional[str]], Comparer] = {}
_COMPARERS_LOCK = threading.Lock()


def _comparer(model: Optional[str], ort_lib: Any) -> Comparer:
    key = (model, os.fspath(ort_lib) if ort_lib is not None else None)
    with _COMPARERS_LOCK:
        c = _COMPARERS.get(key)
        if c is None:
            c = _COMPARERS[key] = Comparer(model=model, ort_lib=ort_lib)
        return c


def compare(
    a: ImageLike,
    b: ImageLike,
    *,
    model: Optional[str] = None,
    ort_lib: Union[str, "os.PathLike[str]", None] = None,
    channels: str = "rgb",
    **options: Any,
) -> Comparison:
    """Compares two images, as ``spotdiff compare A B``.

    ``a`` and ``b``: paths, bytes of image files, PIL images or numpy uint8 arrays
    (``channels="bgr"`` for OpenCV's). ``options``: the CLI's, by the same names with
    ``_`` for ``-`` (see ``OPTION_DEFAULTS``). ``model``/``ort_lib``: the backbone, as
    :class:`Comparer`; the comparer for each (model, ort_lib) is made once per process
    and reused.
    """
    return _comparer(model, ort_lib).compare(a, b, channels=channels, **options)


def shard_of(name: str, shards: int) -> int:
    """The shard (1..``shards``) that ``spotdiff batch --shard I/N`` gives the pair named
    ``name``: FNV-1a (64-bit) of its UTF-8 bytes, modulo N, plus one."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % shards + 1
