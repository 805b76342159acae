"""Type stubs of the native module (built from python/src/lib.rs). Use ``spotdiff``."""

from os import PathLike
from typing import Optional, Sequence, Tuple, Union

REPORT_SCHEMA: int
__version__: str

_Threshold = Union[str, float, None]
_Rect = Union[str, Tuple[int, int, int, int]]
_Source = Union[str, PathLike[str], bytes, "Pixels"]

class SpotdiffError(ValueError):
    """A comparison could not be made; ``str(e)`` is one line."""

    kind: Optional[str]

class FileError(SpotdiffError): ...
class DecodeError(SpotdiffError): ...
class LimitError(SpotdiffError): ...
class SizeError(SpotdiffError): ...
class ModelError(SpotdiffError): ...
class OnnxRuntimeError(SpotdiffError): ...
class OptionError(SpotdiffError): ...

class Options:
    """Comparison options, validated once."""

    def __init__(
        self,
        *,
        method: str = "fused",
        threshold: _Threshold = None,
        ssim_threshold: _Threshold = None,
        deep_threshold: _Threshold = None,
        min_area: int = 12,
        merge_distance: int = 12,
        ignore: Union[_Rect, Sequence[_Rect], None] = None,
        size_policy: str = "auto",
        align: str = "auto",
        global_change: str = "different",
        max_pixels: int = 100_000_000,
        max_diff_pixels: Optional[int] = None,
        max_diff_ratio: Optional[float] = None,
    ) -> None: ...
    @property
    def method(self) -> str: ...

class Pixels:
    """Raw pixels: ``channels`` bytes per pixel (1, 3 or 4), rows of ``width``."""

    def __init__(
        self, data: bytes, width: int, height: int, channels: int, order: str = "rgb"
    ) -> None: ...

class Comparison:
    """A finished comparison."""

    @property
    def report_json(self) -> str: ...
    @property
    def timings(self) -> Sequence[Tuple[str, float]]: ...
    def render(
        self,
        picture: str,
        color: Union[str, Tuple[int, int, int], None] = None,
        thickness: int = 2,
        fill_opacity: float = 0.5,
        bgr: bool = False,
    ) -> Tuple[bytearray, int, int, int]: ...

class Session:
    """The backbone and what comparisons share."""

    def __init__(
        self,
        model: Optional[str] = None,
        models_dir: Union[str, PathLike[str], None] = None,
        ort_lib: Union[str, PathLike[str], None] = None,
    ) -> None: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def note(self) -> Optional[str]: ...
    def compare(self, a: _Source, b: _Source, options: Options) -> Comparison: ...
