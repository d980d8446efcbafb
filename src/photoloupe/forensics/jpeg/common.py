"""What the JPEG analyses share: the block DCT of the luma plane (computed once per picture
through the `Context`), the last save's luma table, and the area score of their maps."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.io import Picture

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
MIN_BLOCKS = 16 * 16  # fewer 8x8 blocks than a 128x128 picture hold too little statistics
K = 6  # only the 6x6 lowest DCT frequencies are computed: all the analyses use
AREA_MIN_BLOCKS = 6  # smaller bright areas are noise


def _dct_matrix() -> F32:
    n = np.arange(8)
    d = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    d[0] /= np.sqrt(2)
    return np.asarray(d, dtype=np.float32)


_D = _dct_matrix()


def block_dct(y: npt.NDArray[Any], k: int = K, stride: int = 1) -> F32:
    """Orthonormal 8x8 DCT (level shift 128) of the blocks of `y`: (nbh, k, nbw, k), only the
    k x k lowest frequencies; `stride` keeps every stride-th block row and column."""
    h, w = (y.shape[0] // 8) * 8, (y.shape[1] // 8) * 8
    x = y[:h, :w]
    if stride > 1:
        x = x.reshape(h // 8, 8, w // 8, 8)[::stride, :, ::stride, :]
        h, w = x.shape[0] * 8, x.shape[2] * 8
        x = x.reshape(h, w)
    # Both passes are written as (k x 8) @ (8 x long) products, which BLAS runs fast; a
    # (long x 8) @ (8 x k) product is several times slower. Hence the transposes.
    # cv2.transpose is cache-blocked: several times faster than numpy's strided copies.
    xt = cv2.transpose(np.ascontiguousarray(x)).astype(np.float32)
    xt -= 128.0
    a = np.matmul(_D[:k], xt.reshape(w // 8, 8, h))  # (nbw, k, h): along each row
    a = cv2.transpose(a.reshape((w // 8) * k, h)).reshape(h // 8, 8, (w // 8) * k)
    c = np.matmul(_D[:k], a)  # along each column
    return np.asarray(c.reshape(h // 8, k, w // 8, k), dtype=np.float32)


def coefficients(context: Context) -> F32:
    """The luma plane's DCT blocks, computed once for the JPEG analyses of one picture."""
    return context.shared("jpeg.dct", lambda: block_dct(context.luma.y))


def luma_table(picture: Picture) -> F64 | None:
    if picture.jpeg is None:
        return None
    t = picture.jpeg.quantization.get(0)
    if t is None or len(t) != 64 or min(t) < 1:
        return None
    return np.asarray(t, dtype=np.float64).reshape(8, 8)


def largest_area(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(sizes.argmax()))


def area_score(m: F32, threshold: float, min_blocks: int = AREA_MIN_BLOCKS) -> tuple[float, float]:
    """(score, area fraction) of the largest connected bright area of map `m`.

    The score is the contrast between that area and the rest, scaled down for tiny areas and
    for areas so large that they are no longer "localised"; 0 for a uniform map.
    """
    comp = largest_area(m > threshold)
    size = int(comp.sum())
    if size < min_blocks:
        return 0.0, 0.0
    frac = size / m.size
    rest = m[~comp]
    contrast = float(m[comp].mean()) - (float(rest.mean()) if rest.size else 0.0)
    size_term = min(1.0, size / (4 * min_blocks)) * min(1.0, max(0.0, (0.8 - frac) / 0.3))
    return float(np.clip(contrast * size_term / 0.6, 0.0, 1.0)), frac


def not_applicable(note: str, code: str, **details: object) -> Finding:
    return Finding(score=None, notes=(note,), codes=(code,), details=dict(details))
