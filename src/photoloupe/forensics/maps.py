"""Shared helpers for the block-wise forensic maps (ELA, noise, CFA, resampling).

Every classic analysis here measures one statistic per block, compares each block with the
picture's own dominant behaviour (a robust z-score: median and MAD over blocks, so a tampered
minority cannot move the reference), squashes the deviation to [0, 1] with a logistic curve and
scores the strongest *coherent* area: isolated single blocks are expected by chance in any
large picture, a connected group of deviating blocks is what a pasted region looks like.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.detect.features import luma
from photoloupe.findings import Finding

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

# MAD of a normal distribution is 0.6745 sigma; 1.4826 = 1 / 0.6745.
MAD_TO_SIGMA = 1.4826


def robust_z(values: FloatArray, valid: BoolArray, floor: float) -> FloatArray:
    """(value - median) / (1.4826 * MAD) over the valid entries; invalid entries get 0.

    `floor` bounds the scale from below so that a very uniform picture does not turn tiny,
    meaningless differences into huge z-scores.
    """
    out = np.zeros(values.shape, dtype=np.float32)
    if not bool(valid.any()):
        return out
    ref = values[valid].astype(np.float64)
    med = float(np.median(ref))
    scale = max(MAD_TO_SIGMA * float(np.median(np.abs(ref - med))), floor)
    out[valid] = ((values[valid] - med) / scale).astype(np.float32)
    return out


def masked_blur(values: FloatArray, valid: BoolArray, size: int) -> FloatArray:
    """Mean of the valid neighbours in a size x size window (normalised convolution).

    Smoothing over neighbouring blocks favours coherent areas over lone noisy blocks; invalid
    blocks neither contribute nor receive a value (they stay 0).
    """
    if size <= 1:
        return np.where(valid, values, 0).astype(np.float32)
    w = valid.astype(np.float32)
    num = cv2.blur(np.where(valid, values, 0).astype(np.float32), (size, size))
    den = cv2.blur(w, (size, size))
    out = np.zeros(values.shape, dtype=np.float32)
    ok = valid & (den > 1e-6)
    out[ok] = num[ok] / den[ok]
    return out


def sigmoid_map(z: FloatArray, centre: float, width: float) -> FloatArray:
    """Logistic squash of a deviation to [0, 1]: 0.5 at `centre`, steepness set by `width`."""
    t = np.clip((z.astype(np.float32) - centre) / width, -30.0, 30.0)
    return np.asarray(1.0 / (1.0 + np.exp(-t)), dtype=np.float32)


def coherent_area_score(
    heat: FloatArray, threshold: float = 0.5, min_cells: int = 2, full_cells: int = 6
) -> tuple[float, float]:
    """Strength and area fraction of the strongest connected area of the map above `threshold`.

    Strength = mean map value inside the area, scaled down for areas smaller than `full_cells`
    cells; areas smaller than `min_cells` are ignored. Returns (0, 0) when nothing qualifies.
    """
    if heat.size == 0:
        return 0.0, 0.0
    mask = (heat >= threshold).astype(np.uint8)
    if not mask.any():
        return 0.0, 0.0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    sums = np.bincount(labels.ravel(), weights=heat.ravel().astype(np.float64), minlength=n)
    best, best_area = 0.0, 0.0
    for i in range(1, n):
        size = int(stats[i, cv2.CC_STAT_AREA])
        if size < min_cells:
            continue
        strength = float(sums[i] / size) * min(1.0, size / full_cells)
        if strength > best:
            best, best_area = strength, size / heat.size
    return float(min(1.0, best)), float(best_area)


def integer_factor(height: int, width: int, max_pixels: int) -> int:
    """Smallest integer downscale factor that brings the picture under `max_pixels`."""
    return max(1, math.ceil(math.sqrt(height * width / max_pixels)))


def work_luma(pixels: npt.NDArray[np.uint8], max_pixels: int) -> tuple[FloatArray, int]:
    """BT.601 luma as float32, area-averaged by an integer factor to at most `max_pixels`."""
    h, w = pixels.shape[:2]
    f = integer_factor(h, w, max_pixels)
    if f > 1:
        # Area averaging on the 8-bit picture first keeps the float copy small.
        small = cv2.resize(pixels, (w // f, h // f), interpolation=cv2.INTER_AREA)
        return luma(small), f
    return luma(pixels), 1


def grey_u8(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """8-bit BT.601 luma at full resolution (what a JPEG encoder calls Y, up to rounding)."""
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY), np.uint8)


def valid_pixels(pixels: object) -> bool:
    """True for an H x W x 3 uint8 array (anything else is reported, never raised on)."""
    return (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 3
        and pixels.shape[2] == 3
    )


def not_applicable(code: str, note: str, **details: object) -> Finding:
    """A Finding with no score and no map."""
    return Finding(score=None, notes=(note,), map=None, codes=(code,), details=dict(details))
