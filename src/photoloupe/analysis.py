"""The seam between the pipeline and the analyses: what an analysis is, and what it may share.

An analysis is a function from a `Context` to a `Finding`, registered once as an
`AnalysisSpec` in `photoloupe.registry`. The `Context` holds one picture and computes each
quantity that several analyses read once, on first use: the grey plane, the JPEG's own luma
plane, the exiv2 parse, and whatever an analysis module chooses to share through `shared`
(the JPEG analyses share their DCT blocks that way).

Adding an analysis is one module with a `Context -> Finding` function, plus one line in
`photoloupe.registry.ANALYSES`. A local analysis (one that leaves a map) is weighed by the
edit-localisation fusion only once `make train` has learned its weight; until then it is
reported with a note saying that the combined edit map does not count it.

>>> from photoloupe.io import load_picture
>>> context = Context(load_picture("examples/harbour.jpg"))
>>> context.grey.shape == context.pixels.shape[:2], context.luma.exact
(True, True)
>>> context.shared("answer", lambda: 42), context.shared("answer", lambda: 0)
(42, 42)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.findings import Finding
from photoloupe.io import Picture
from photoloupe.provenance.metadata import Exiv2Blocks, parse_exiv2

T = TypeVar("T")

# What an analysis contributes to the verdict:
# - "detector": the whole-picture AI detector;
# - "local": a map of where the picture behaves unlike the rest, which the fusion weighs;
# - "regions": verified regions of its own (copy-move), which the fusion adds as they are;
# - "global": a whole-picture check with no map for the fusion (tables, the thumbnail).
Kind = Literal["detector", "local", "regions", "global"]
JPEG_FORMATS = ("JPEG", "MPO")


@dataclass(frozen=True)
class Luma:
    """A luma plane, and whether it is the JPEG's own Y plane (not a conversion of RGB)."""

    y: npt.NDArray[np.uint8]
    exact: bool


class Context:
    """One picture and the quantities computed from it, each once, on first use.

    Not shared between pictures or threads: the pipeline makes one per picture.
    """

    def __init__(self, picture: Picture) -> None:
        self.picture = picture
        self._shared: dict[str, Any] = {}

    @classmethod
    def of(cls, source: Context | Picture) -> Context:
        """`source` itself when it is a context, else a new context for that picture: an
        analysis can be called on a bare `Picture` too."""
        return source if isinstance(source, Context) else cls(source)

    @property
    def pixels(self) -> npt.NDArray[np.uint8]:
        """The decoded pixels (rows, columns, 3), as stored (before EXIF orientation)."""
        return self.picture.pixels

    @cached_property
    def grey(self) -> npt.NDArray[np.uint8]:
        """The pixels in grey, by OpenCV's Rec. 601 weights (the one formula the analyses
        that need a grey plane share)."""
        px = self.picture.pixels
        grey = cv2.cvtColor(px, cv2.COLOR_RGB2GRAY) if px.ndim == 3 else px
        return np.ascontiguousarray(grey, dtype=np.uint8)

    @cached_property
    def luma(self) -> Luma:
        """The JPEG's own Y plane where libjpeg can give it (the JPEG analyses read the
        coefficients' own plane, not a conversion of the RGB), else `grey`."""
        picture = self.picture
        if picture.format in JPEG_FORMATS and picture.jpeg is not None:
            try:
                with Image.open(io.BytesIO(picture.data)) as im:
                    # An Adobe JPEG stored as RGB (transform 0) has no Y plane to decode.
                    rgb_stored = im.info.get("adobe_transform") == 0 and im.mode == "RGB"
                    if im.mode in ("L", "RGB") and not rgb_stored:
                        im.draft("L", im.size)  # libjpeg then outputs the Y component itself
                        if im.mode == "L" and im.size == (picture.width, picture.height):
                            return Luma(np.asarray(im.convert("L"), dtype=np.uint8), True)
            except Exception:  # any decoder trouble: fall back to the RGB pixels
                pass
        return Luma(self.grey, False)

    @cached_property
    def exiv2(self) -> Exiv2Blocks:
        """One exiv2 parse of the file: its EXIF, XMP, IPTC, comment and thumbnail."""
        return parse_exiv2(self.picture.data)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for, the same value afterwards. Keys are
        named after the module that shares them ("jpeg.dct")."""
        if key not in self._shared:
            self._shared[key] = compute()
        value: T = self._shared[key]
        return value


@dataclass(frozen=True)
class AnalysisSpec:
    """A registered analysis.

    name: its key in the report's `analyses` and `maps`.
    run: the function, `Context -> Finding`.
    kind: what it contributes (see `Kind`).
    area_codes: the codes by which a local analysis says that it marks an area; each of them
        alone also marks some untouched photos, so the report adds that only the fusion
        decides.
    in_triage: whether a triage run (`scan --quick`) keeps it.
    """

    name: str
    run: Callable[[Context], Finding]
    kind: Kind = "global"
    area_codes: frozenset[str] = frozenset()
    in_triage: bool = False
