"""Synthetic archives: textured scenes (from the compare tests) written as JPEG files, with
capture metadata where a test needs it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.compare.test_compare import _layered_view, scene

__all__ = ["_layered_view", "jpeg_bytes", "jpeg_file", "scene"]


def jpeg_bytes(
    rgb: np.ndarray,
    quality: int = 90,
    *,
    captured: str | None = None,
    make: str | None = None,
    model: str | None = None,
) -> bytes:
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if captured:
        exif[0x0132] = captured
        exif.get_ifd(0x8769)[0x9003] = captured  # DateTimeOriginal
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(
        buf, "JPEG", quality=quality, exif=exif.tobytes() if len(exif) else b""
    )
    return buf.getvalue()


def jpeg_file(path: Path, rgb: np.ndarray, quality: int = 90, **exif: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(rgb, quality, **exif))
    return path
