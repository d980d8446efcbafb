"""Local statistics of the pixels' fine structure, per cell, for the edit-localisation fusion.

A pasted area keeps the fine structure of where it came from: its own noise level and noise
shape, its own colour noise, its own compression history (JPEG blockiness, how much a re-save
changes it), its own resampling. None of these alone says "edited"; what matters is that a
cell differs from the rest of the same picture, at similar texture. The fusion
(`photoloupe.localize`) reads these statistics, both as measured and relative to the
picture's own median (robust z-scores), beside the maps of the forensic analyses.

Everything is computed at the picture's own resolution (resizing would wash the traces out)
with box filters, so the cost is linear in the number of pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.detect.features import luma

CELL = 32
STAT_NAMES = (
    "texture",  # log mean gradient magnitude: how busy the content is
    "highpass",  # log energy of the luma minus its 3x3 mean
    "laplacian",  # log energy of the discrete Laplacian
    "kurtosis",  # log kurtosis of the high-pass residual: noise shape
    "flat",  # share of near-zero residuals: smooth, denoised or quantised areas
    "chroma_cb",  # log energy of the Cb high-pass residual
    "chroma_cr",  # log energy of the Cr high-pass residual
    "blockiness",  # log ratio of steps on the 8-pixel grid to steps elsewhere
    "resave",  # log mean change of the luma after a JPEG re-save at quality 90
    "clipped",  # share of clipped pixels (0 or 255): their noise cannot be measured
    "brightness",  # mean luma / 255: noise depends on it
)
# The statistics whose difference from the picture's median is informative (not clipping or
# brightness, which describe content).
RELATIVE = tuple(range(9))
MIN_CELLS = 4
MAX_CELLS = 1500  # about 1.5 megapixels measured, whatever the picture's size

F32 = npt.NDArray[np.float32]


def cell_grid(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of cells (partial cells at the edges count).

    >>> cell_grid(100, 64)
    (4, 2)
    """
    return -(-height // CELL), -(-width // CELL)


def cell_statistics(rgb: npt.NDArray[np.uint8], max_cells: int = MAX_CELLS) -> F32:
    """(rows, cols, len(STAT_NAMES)) statistics of an 8-bit RGB picture, one row per cell.

    A large picture is measured on every k-th cell in each direction (at most `max_cells`
    cells), and each skipped cell takes its measured neighbour's values: the cost stays
    bounded and the map is coarser, never blurred.
    """
    h, w = rgb.shape[:2]
    gh, gw = cell_grid(h, w)
    ph, pw = gh * CELL, gw * CELL
    # Edge cells are completed by reflection so every cell has CELL x CELL pixels.
    padded: npt.NDArray[np.uint8] = np.asarray(
        cv2.copyMakeBorder(np.ascontiguousarray(rgb), 0, ph - h, 0, pw - w, cv2.BORDER_REFLECT_101),
        dtype=np.uint8,
    )
    step = max(1, int(np.ceil(np.sqrt(gh * gw / max_cells))))
    if step == 1:
        return _statistics(padded, gh, gw)
    # The chosen cells, side by side: CELL is a multiple of 8, so each keeps its JPEG grid.
    mosaic = np.ascontiguousarray(
        padded.reshape(gh, CELL, gw, CELL, 3)[::step, :, ::step].reshape(
            -(-gh // step) * CELL, -(-gw // step) * CELL, 3
        )
    )
    measured = _statistics(mosaic, -(-gh // step), -(-gw // step))
    rows = np.minimum(np.arange(gh) // step, measured.shape[0] - 1)
    cols = np.minimum(np.arange(gw) // step, measured.shape[1] - 1)
    return np.ascontiguousarray(measured[rows][:, cols])


def _statistics(padded: npt.NDArray[np.uint8], gh: int, gw: int) -> F32:
    y = luma(padded)
    rgbf = padded.astype(np.float32)
    cb = -0.168736 * rgbf[..., 0] - 0.331264 * rgbf[..., 1] + 0.5 * rgbf[..., 2]
    cr = 0.5 * rgbf[..., 0] - 0.418688 * rgbf[..., 1] - 0.081312 * rgbf[..., 2]
    del rgbf

    def cells(a: F32) -> F32:
        return np.asarray(a.reshape(gh, CELL, gw, CELL).mean(axis=(1, 3)), dtype=np.float32)

    def highpass(a: F32) -> F32:
        return np.asarray(a - cv2.blur(a, (3, 3), borderType=cv2.BORDER_REFLECT_101), np.float32)

    hp = highpass(y)
    hp2 = hp * hp
    e2 = cells(hp2)
    e4 = cells(hp2 * hp2)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    texture = cells(np.abs(gx) + np.abs(gy))
    lap = cv2.Laplacian(y, cv2.CV_32F, ksize=1)
    flat = cells((np.abs(hp) < 0.25).astype(np.float32))
    chroma_cb = cells(highpass(cb) ** 2)
    chroma_cr = cells(highpass(cr) ** 2)
    stats = np.empty((gh, gw, len(STAT_NAMES)), dtype=np.float32)
    stats[..., 0] = np.log1p(texture)
    stats[..., 1] = np.log(e2 + 0.01)
    stats[..., 2] = np.log(cells(lap * lap) + 0.01)
    stats[..., 3] = np.log(e4 / (e2 * e2 + 1e-6) + 1e-3)
    stats[..., 4] = flat
    stats[..., 5] = np.log(chroma_cb + 0.01)
    stats[..., 6] = np.log(chroma_cr + 0.01)
    stats[..., 7] = _blockiness(y, gh, gw)
    stats[..., 8] = np.log(cells(np.abs(y - _resaved(y))) + 0.01)
    clipped = ((padded.min(axis=2) == 0) | (padded.max(axis=2) == 255)).astype(np.float32)
    stats[..., 9] = cells(clipped)
    stats[..., 10] = cells(y) / 255.0
    return stats


def relative(stats: F32) -> F32:
    """Robust z-scores of the `RELATIVE` statistics against the picture's own cells."""
    flat = stats.reshape(-1, stats.shape[-1])[:, RELATIVE]
    if flat.shape[0] < MIN_CELLS:
        return np.zeros((*stats.shape[:2], len(RELATIVE)), dtype=np.float32)
    median = np.median(flat, axis=0)
    mad = np.median(np.abs(flat - median), axis=0) * 1.4826 + 1e-3
    z = (stats[..., RELATIVE] - median) / mad
    return np.asarray(np.clip(z, -8, 8), dtype=np.float32)


def _blockiness(y: F32, gh: int, gw: int) -> F32:
    dx = np.abs(np.diff(y, axis=1, append=y[:, -1:]))
    dy = np.abs(np.diff(y, axis=0, append=y[-1:, :]))
    on_grid = np.zeros_like(y)
    on_grid[:, 7::8] += dx[:, 7::8]
    on_grid[7::8, :] += dy[7::8, :]
    total = dx + dy
    grid_sum = on_grid.reshape(gh, CELL, gw, CELL).sum(axis=(1, 3))
    all_sum = total.reshape(gh, CELL, gw, CELL).sum(axis=(1, 3))
    # Of the 2 * CELL * CELL steps in a cell, 2 * CELL * CELL / 8 lie on the grid.
    share = grid_sum / (all_sum + 1e-3)
    return np.asarray(np.log((share + 1e-3) / (1 / 8 + 1e-3)), dtype=np.float32)


def _resaved(y: F32) -> F32:
    grey = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        return y
    decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if decoded is None:
        return y
    return np.asarray(decoded, dtype=np.float32)
