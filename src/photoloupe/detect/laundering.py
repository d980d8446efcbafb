"""The social-media laundering that training and benchmarks apply to *both* classes alike.

Re-encoding removes the shortcut the corpus offers (most AI files are PNG, most real ones
camera JPEGs) and teaches the detector what survives a repost: a random crop, a resize by a
factor in [0.5, 1.0] and a JPEG re-save at quality 60-100. Metadata never survives: only
pixels go in, only pixels come out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

RGB = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Laundering:
    """Ranges of the random transforms; the defaults are those of issue 3."""

    min_crop: int = 256
    scale: tuple[float, float] = (0.5, 1.0)
    quality: tuple[int, int] = (60, 100)
    crop_probability: float = 0.7


def jpeg(rgb: RGB, quality: int) -> RGB:
    """Re-encode as baseline JPEG (4:2:0 below quality 90, 4:4:4 above, like most services)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    if quality >= 90:
        params += [int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR), int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)]
    ok, buf = cv2.imencode(".jpg", bgr, params)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if out is None:
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(cv2.cvtColor(out, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def resize(rgb: RGB, factor: float) -> RGB:
    """Downscale by `factor` (area averaging, as most services do)."""
    if factor >= 0.999:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def random_crop(rgb: RGB, side: int, rng: np.random.Generator) -> RGB:
    h, w = rgb.shape[:2]
    ch, cw = min(side, h), min(side, w)
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def launder(rgb: RGB, rng: np.random.Generator, spec: Laundering | None = None) -> RGB:
    """One random repost of `rgb`: crop (sometimes), resize, JPEG. Deterministic given `rng`.

    >>> rng = np.random.default_rng(0)
    >>> launder(np.zeros((300, 400, 3), np.uint8), rng).dtype
    dtype('uint8')
    """
    spec = spec or Laundering()
    out = rgb
    h, w = rgb.shape[:2]
    if rng.random() < spec.crop_probability and min(h, w) > spec.min_crop:
        side = int(rng.integers(spec.min_crop, min(h, w) + 1))
        out = random_crop(out, side, rng)
    factor = float(rng.uniform(*spec.scale))
    if min(out.shape[:2]) * factor >= 64:
        out = resize(out, factor)
    quality = int(rng.integers(spec.quality[0], spec.quality[1] + 1))
    return jpeg(out, quality)
