"""The decoded input (`Picture`), its JPEG tables, the limits of an intake, and orientation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from photoloupe.io.formats import EXTENSIONS

# IJG standard luminance table (natural order), used to estimate JPEG quality.
IJG_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
).ravel()
_A = TypeVar("_A", bound=np.generic)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one input. All are configurable; defaults suit a newsroom laptop."""

    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 120_000_000
    max_decode_seconds: float = 30.0
    # Reading Content Credentials is native code too; a pathological file must not hang it.
    max_c2pa_seconds: float = 30.0
    # Frames are counted, not decoded, but counting a GIF walks every frame.
    max_frames_counted: int = 10_000


@dataclass(frozen=True)
class JpegTables:
    """Quantisation tables (natural order) and chroma subsampling, as the encoder stored them."""

    quantization: dict[int, tuple[int, ...]]
    subsampling: str | None
    progressive: bool

    @property
    def estimated_quality(self) -> int | None:
        """The IJG quality whose scaled standard luma table is closest to table 0."""
        luma = self.quantization.get(0)
        if luma is None or len(luma) != 64:
            return None
        table = np.asarray(luma, dtype=np.float64)
        best_q, best_err = 0, float("inf")
        for q in range(1, 101):
            scale = 5000 / q if q < 50 else 200 - 2 * q
            std = np.clip(np.floor((IJG_LUMA * scale + 50) / 100), 1, 255)
            err = float(np.abs(std - table).sum())
            if err < best_err:
                best_q, best_err = q, err
        return best_q


@dataclass(frozen=True, eq=False)
class Picture:
    """A decoded input. `pixels` is the first frame, 8-bit RGB, in stored orientation."""

    data: bytes
    name: str
    path: str | None
    format: str
    mime: str
    width: int
    height: int
    frames: int
    animated: bool
    color_mode: str
    bit_depth: int
    has_alpha: bool
    orientation: int
    pixels: npt.NDArray[np.uint8]
    icc_profile: bytes | None = None
    exif: bytes | None = None
    jpeg: JpegTables | None = None
    text_chunks: dict[str, str] = field(default_factory=dict)
    is_dng: bool = False
    notes: tuple[str, ...] = ()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def extension_matches_content(self) -> bool | None:
        """None when the name has no extension photoloupe knows."""
        allowed = EXTENSIONS.get(self.extension)
        if allowed is None:
            return None
        return self.format in allowed

    def display_pixels(self) -> npt.NDArray[np.uint8]:
        """The pixels as a person should see them: EXIF orientation applied."""
        return orient_array(self.pixels, self.orientation)


def orient_array(array: npt.NDArray[_A], orientation: int) -> npt.NDArray[_A]:
    """Turn an array stored with EXIF `orientation` (1-8) the way it is meant to be displayed.

    Works for pictures (H, W, C) and maps (H, W) alike.

    >>> orient_array(np.array([[1, 2], [3, 4]]), 6).tolist()  # 90° clockwise
    [[3, 1], [4, 2]]
    """
    a = array
    match orientation:
        case 2:
            a = a[:, ::-1]
        case 3:
            a = a[::-1, ::-1]
        case 4:
            a = a[::-1, :]
        case 5:
            a = np.swapaxes(a, 0, 1)
        case 6:
            a = np.rot90(a, k=-1)
        case 7:
            a = np.swapaxes(a[::-1, ::-1], 0, 1)
        case 8:
            a = np.rot90(a, k=1)
        case _:
            return array
    return np.ascontiguousarray(a)
