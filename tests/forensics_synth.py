"""Deterministic synthetic pictures for the classic forensic analyses' tests."""

from __future__ import annotations

import io

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.io import Picture, load_picture


def smooth(h: int, w: int, seed: int) -> npt.NDArray[np.float64]:
    """A smooth random colour picture (bicubic upscale of coarse noise), values in [48, 208]."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (h // 32 + 2, w // 32 + 2, 3))
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.asarray((img - img.min()) / (np.ptp(img) + 1e-9) * 160 + 48, dtype=np.float64)


def u8(arr: npt.NDArray[np.floating] | npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def jpeg_roundtrip(arr: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    ok, code = cv2.imencode(".jpg", arr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(cv2.imdecode(code, cv2.IMREAD_UNCHANGED), dtype=np.uint8)


def picture(
    arr: npt.NDArray[np.floating] | npt.NDArray[np.uint8], fmt: str = "PNG", quality: int = 95
) -> Picture:
    buf = io.BytesIO()
    Image.fromarray(u8(arr)).save(buf, fmt, quality=quality)
    return load_picture(buf.getvalue())


def bright_inside(
    heat: npt.NDArray[np.float32], box: tuple[float, float, float, float]
) -> tuple[float, float]:
    """Mean map value inside a box given as fractions (y0, y1, x0, x1), and the outside maximum
    ignoring a one-cell margin around the box."""
    h, w = heat.shape
    y0, y1, x0, x1 = box
    r0, r1 = int(np.floor(y0 * h)), int(np.ceil(y1 * h))
    c0, c1 = int(np.floor(x0 * w)), int(np.ceil(x1 * w))
    inner = heat[
        int(np.ceil(y0 * h)) : int(np.floor(y1 * h)), int(np.ceil(x0 * w)) : int(np.floor(x1 * w))
    ]
    outside = heat.copy()
    outside[max(0, r0 - 1) : r1 + 1, max(0, c0 - 1) : c1 + 1] = 0
    return float(inner.mean()), float(outside.max())
