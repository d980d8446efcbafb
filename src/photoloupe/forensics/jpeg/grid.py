"""The block-artefact grid: where the 8x8 JPEG grid is at another offset or missing (after Li,
Yuan & Yu, Signal Processing 2009); see the package docstring."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.jpeg.common import (
    F32,
    area_score,
    not_applicable,
)
from photoloupe.io import Picture

_GRID_CAP = 16.0  # gradient magnitudes are capped: strong edges must not dominate the grid
_GRID_MIN_Z = 8.0  # t-statistic of the global grid peak (both axes) for a grid to count
_GRID_MIN_REL = 0.03  # ... and its strength relative to the mean gradient
_GRID_WIN = 8  # local window, in 8x8 cells (64 pixels)
_GRID_FULL_PIXELS = 4_000_000  # above this, rows are subsampled
_GRID_ABSENT_WEIGHT = 0.45  # a missing grid shows in the map but stays below the area threshold


def analyse_jpeg_grid(source: Context | Picture) -> Finding:
    """Block-artefact grid: where is the 8x8 JPEG grid at another offset, or missing?

    Works on any format. map: one value per 8x8 cell, bright where the local grid is at
    another offset than the picture's dominant grid (or, less bright, absent where the rest of
    the picture has a strong one). score: strength of the largest such area; None when the
    picture shows no global grid.
    """
    context = Context.of(source)
    try:
        lum = context.luma
        if lum.y.shape[0] < 64 or lum.y.shape[1] < 64:
            return not_applicable(
                "Not applicable: the picture is too small to look for a JPEG block grid.",
                "jpeg_grid_none",
            )
        return _grid(lum.y)
    except (ValueError, MemoryError) as exc:
        return not_applicable(
            f"Not applicable: the block-grid check failed ({exc}).", "jpeg_grid_none"
        )


def _grid_profiles(y: npt.NDArray[np.uint8], axis: int) -> tuple[F32, F32]:
    """Per 8x8 cell: (sum of the grid statistic at each of the 8 phases, sum of |gradient|).

    The statistic is the second-order difference of the gradient magnitude across `axis`,
    which peaks on block borders; phase p means the border lies before pixel 8k + p.
    """
    yy = y if axis == 1 else cv2.transpose(np.ascontiguousarray(y))
    h, w = (yy.shape[0] // 8) * 8, (yy.shape[1] // 8) * 8
    # Large pictures: 2 of the 8 rows of each cell are enough to see its grid, at 1/4 the cost.
    rows = 8 if h * w <= _GRID_FULL_PIXELS else 2
    f = yy[:h, :w].reshape(h // 8, 8, w)[:, :: 8 // rows].reshape(-1, w).astype(np.float32)
    h = f.shape[0]
    a = np.minimum(np.abs(f[:, 1:] - f[:, :-1]), _GRID_CAP)  # a[:, x]: between x and x + 1
    r = np.zeros((h, w), dtype=np.float32)
    # r[:, x + 1] is the peakiness of the gradient between x and x + 1.
    r[:, 2:-1] = a[:, 1:-1] - 0.5 * (a[:, :-2] + a[:, 2:])
    g = np.zeros((h, w), dtype=np.float32)
    g[:, 1:] = a
    s = r.reshape(h // rows, rows, w // 8, 8).sum(axis=1)
    t = g.reshape(h // rows, rows, w // 8, 8).sum(axis=(1, 3))
    if axis == 0:
        s, t = s.transpose(1, 0, 2), t.T
    return s, t


def _phase_contrast(s: F32) -> F32:
    """How much each of the 8 phases (last axis) stands out from the three phases of the same
    parity. Comparing within a parity cancels period-2 patterns (Bayer demosaicing, 2x chroma
    upsampling), which would otherwise pass for a grid at an even offset."""
    others = sum(np.roll(s, 2 * k, axis=-1) for k in (1, 2, 3))
    return np.asarray(s - others / 3.0, dtype=np.float32)


def _grid(y: npt.NDArray[np.uint8]) -> Finding:
    details: dict[str, object] = {}
    stats = {}
    for axis, name in ((1, "x"), (0, "y")):
        s, t = _grid_profiles(y, axis)
        contrast = _phase_contrast(s).reshape(-1, 8)
        mean = contrast.mean(axis=0)
        peak = int(mean.argmax())
        sd = float(contrast[:, peak].std()) + 1e-6
        z = float(mean[peak]) / sd * np.sqrt(contrast.shape[0])
        rel = float(mean[peak]) / (float(t.mean()) / 8.0 + 1e-6)
        stats[name] = (s, t, peak, z, rel)
        details[f"phase_{name}"] = peak
        details[f"z_{name}"] = round(z, 1)
        details[f"strength_{name}"] = round(rel, 3)
    if any(st[3] < _GRID_MIN_Z or st[4] < _GRID_MIN_REL for st in stats.values()):
        return Finding(
            score=None,
            notes=(
                "Not applicable: the picture shows no JPEG block grid, so misplaced grids "
                "cannot be looked for.",
            ),
            codes=("jpeg_grid_none",),
            details=details,
        )
    maps = []
    absent = []
    for s, t, peak, _, rel in stats.values():
        win = (_GRID_WIN, _GRID_WIN)
        ls = np.stack(
            [cv2.blur(s[:, :, p], win, borderType=cv2.BORDER_REFLECT) for p in range(8)], -1
        )
        lt = cv2.blur(t, win, borderType=cv2.BORDER_REFLECT) / 8.0 + 1e-3
        c = _phase_contrast(ls.astype(np.float32)) / lt[:, :, None]
        on = c[:, :, peak]
        others = np.delete(c, peak, axis=-1).max(axis=-1)
        # Another phase clearly stronger than the global one: a grid at another offset.
        excess = (others - np.maximum(on, 0.0)) / max(rel, 0.05)
        maps.append(np.clip((excess - 0.3) / 0.4, 0.0, 1.0))
        # The global phase much weaker than in the picture as a whole: no grid here. Cells
        # without texture (saturated, flat) cannot show a grid and are left dark.
        textured = lt > 0.5
        absent.append(np.where(textured, np.clip(1.0 - on / (0.5 * rel), 0.0, 1.0), 0.0))
    mis = np.maximum(maps[0], maps[1])
    gone = np.minimum(absent[0], absent[1])
    # A missing grid is weak evidence on its own: high-quality JPEGs show little grid in
    # textured areas. It is drawn, but only a grid at another offset makes an area score.
    m = np.maximum(mis, _GRID_ABSENT_WEIGHT * gone).astype(np.float32)
    m = cv2.blur(m, (3, 3), borderType=cv2.BORDER_REFLECT)
    # The local window spans 8x8 cells: a smaller bright area is below its resolution.
    score, frac = area_score(m, 0.5, min_blocks=_GRID_WIN * _GRID_WIN // 4)
    details["area_fraction"] = round(frac, 4)
    details["misaligned_fraction"] = round(float((mis > 0.5).mean()), 4)
    if score >= 0.2:
        note = (
            "The picture has a JPEG block grid, and one area's grid is at another offset or "
            "missing: evidence that this area came from another picture or was changed."
        )
        code = "jpeg_grid_misaligned_area"
    else:
        note = (
            "The picture has a consistent JPEG block grid: no evidence of an area with a "
            "different grid."
        )
        code = "jpeg_grid_consistent"
    return Finding(score=score, notes=(note,), map=m, codes=(code,), details=details)
