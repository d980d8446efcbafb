"""JPEG compression history: double compression, blocking grids, ghosts and quantisation tables.

A JPEG stores each 8x8 block of pixels as DCT coefficients divided by a step from a quantisation
table and rounded. Editing a JPEG and saving it again leaves traces of the first compression in
the parts that were not edited; a pasted area usually lacks them or carries other ones. Four
analyses read those traces; each is a pure function `Picture -> Finding`:

`analyse_double_compression` -- aligned double JPEG compression (DQ), after Bianchi & Piva,
    "Image forgery localization via block-grained analysis of JPEG artifacts", IEEE TIFS 7(3),
    2012. The exact decoded luma plane is transformed back to the DCT domain of the last JPEG's
    grid, where each coefficient divided by its step q2 is (nearly) an integer. If the picture
    was compressed before with step q1 on the same grid, the histogram of those integers is
    periodically modulated (empty or crowded bins). Per low/mid frequency, q1 is estimated by
    fitting a mixture of a single-compression model and a double-compression model. The
    single-compression model comes from "calibration": the DCT of the luma shifted by 4 pixels,
    which no JPEG grid touched, quantised with q2; the double model quantises the same
    calibrated coefficients with q1, then (with a small rounding noise) with q2. Each block then
    gets a log-likelihood ratio "single (this block was not compressed before) vs double",
    summed over the usable frequencies and smoothed over neighbouring blocks.
`analyse_jpeg_grid` -- non-aligned double compression / block-artefact grid (in the spirit of
    Li, Yuan & Yu, "Passive detection of doctored JPEG image via block artifact grid
    extraction", Signal Processing 89(9), 2009): the second-order differences of the gradient
    peak on the 8x8 block borders. The dominant phase of that grid is found for the whole
    picture, then per 64x64 window; windows whose grid sits at another offset (or is missing
    where the rest has a strong one) are bright.
`analyse_ghosts` -- JPEG ghosts (Farid, "Exposing digital forgeries from JPEG ghosts", IEEE
    TIFS 4(1), 2009): recompressing at a quality near the one an area was saved at before
    changes that area least. The recompression is simulated in the DCT domain of the picture's
    own grid (by Parseval's theorem, the squared pixel error of an aligned re-save equals the
    squared coefficient error, up to the final rounding to 8 bits); areas whose difference
    curve dips at a quality where the rest of the picture does not are bright.
`estimate_quality_and_identify_tables` -- the IJG quality estimate and identification of the
    quantisation tables against a small library (qtables.json) of the standard IJG tables and
    of camera tables observed in the development corpus (see training/build_qtable_library.py).

Limits: the DQ analysis sees only a first compression on the same 8x8 grid with steps that
differ from the last ones (a second save at a lower quality over a high-quality first save is
often undetectable); recompression, resizing or heavy filtering after the edit removes all
these traces. No finding here is, on its own, evidence of editing: `evidence_of` is left to the
fusion module.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage, special

from photoloupe.analysis import JPEG_FORMATS as _JPEG_FORMATS
from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.io import Picture

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

_MIN_BLOCKS = 16 * 16  # fewer 8x8 blocks than a 128x128 picture hold too little statistics
_K = 6  # only the 6x6 lowest DCT frequencies are computed: all the analyses use

# Zig-zag positions 1..14 (the lowest AC frequencies, all within the 5x5 corner), as (row, col).
_DQ_FREQS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2),
    (2, 1), (3, 0), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4),
)  # fmt: skip
_CAL_RES = 4  # calibrated coefficients are histogrammed at 1/4 DCT unit
_DQ_ROUND_SIGMA = 0.6  # rounding noise (DCT units) between the two compressions
_DQ_MIN_GAIN = 0.012  # nats per coefficient the double model must explain better than single
_DQ_MIN_ALPHA = 0.4  # ... for at least this share of the blocks
_DQ_MIN_FREQS = 2  # at least this many frequencies must show double compression
_DQ_LLR_CLIP = 3.0  # one coefficient never decides a block on its own
_DQ_MAX_INT_ERR = 0.12  # mean distance to the nearest integer of the divided coefficients
_AREA_MIN_BLOCKS = 6  # smaller bright areas are noise

_GRID_CAP = 16.0  # gradient magnitudes are capped: strong edges must not dominate the grid
_GRID_MIN_Z = 8.0  # t-statistic of the global grid peak (both axes) for a grid to count
_GRID_MIN_REL = 0.03  # ... and its strength relative to the mean gradient
_GRID_WIN = 8  # local window, in 8x8 cells (64 pixels)
_GRID_FULL_PIXELS = 4_000_000  # above this, rows are subsampled
_GRID_ABSENT_WEIGHT = 0.45  # a missing grid shows in the map but stays below the area threshold

_GHOST_QUALITIES = tuple(range(50, 100, 5))
_GHOST_MAX_BLOCKS = 70_000  # above this, one block per 16x16 cell is analysed


# --------------------------------------------------------------------------------------------
# shared helpers


def _dct_matrix() -> F32:
    n = np.arange(8)
    d = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    d[0] /= np.sqrt(2)
    return np.asarray(d, dtype=np.float32)


_D = _dct_matrix()


def _block_dct(y: npt.NDArray[Any], k: int = _K, stride: int = 1) -> F32:
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


def _coefficients(context: Context) -> F32:
    """The luma plane's DCT blocks, computed once for the JPEG analyses of one picture."""
    return context.shared("jpeg.dct", lambda: _block_dct(context.luma.y))


def _luma_table(picture: Picture) -> F64 | None:
    if picture.jpeg is None:
        return None
    t = picture.jpeg.quantization.get(0)
    if t is None or len(t) != 64 or min(t) < 1:
        return None
    return np.asarray(t, dtype=np.float64).reshape(8, 8)


def _largest_area(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(labels == int(sizes.argmax()))


def _area_score(
    m: F32, threshold: float, min_blocks: int = _AREA_MIN_BLOCKS
) -> tuple[float, float]:
    """(score, area fraction) of the largest connected bright area of map `m`.

    The score is the contrast between that area and the rest, scaled down for tiny areas and
    for areas so large that they are no longer "localised"; 0 for a uniform map.
    """
    comp = _largest_area(m > threshold)
    size = int(comp.sum())
    if size < min_blocks:
        return 0.0, 0.0
    frac = size / m.size
    rest = m[~comp]
    contrast = float(m[comp].mean()) - (float(rest.mean()) if rest.size else 0.0)
    size_term = min(1.0, size / (4 * min_blocks)) * min(1.0, max(0.0, (0.8 - frac) / 0.3))
    return float(np.clip(contrast * size_term / 0.6, 0.0, 1.0)), frac


def _na(note: str, code: str, **details: object) -> Finding:
    return Finding(score=None, notes=(note,), codes=(code,), details=dict(details))


# --------------------------------------------------------------------------------------------
# 1. aligned double compression


def analyse_double_compression(source: Context | Picture) -> Finding:
    """Aligned double-JPEG-compression map (Bianchi & Piva 2012).

    map: one value per 8x8 block of the last JPEG grid, 1 = this block looks compressed only
    once while the rest of the picture was compressed twice. score: strength of the largest
    such localised area (0 when the map is uniform), None when not applicable.
    """
    context = Context.of(source)
    picture = context.picture
    code_na = "dq_not_applicable"
    try:
        q2 = _luma_table(picture)
        if picture.format not in _JPEG_FORMATS or q2 is None:
            return _na("Not applicable: the double-compression check needs a JPEG file.", code_na)
        lum = context.luma
        nbh, nbw = lum.y.shape[0] // 8, lum.y.shape[1] // 8
        if not lum.exact or nbh * nbw < _MIN_BLOCKS:
            return _na(
                "Not applicable: the JPEG's own brightness plane could not be read, or the "
                "picture is too small.",
                code_na,
            )
        coef = _coefficients(context)
        return _double_compression(lum.y, coef, q2)
    except (ValueError, MemoryError, OSError) as exc:
        return _na(f"Not applicable: the double-compression check failed ({exc}).", code_na)


def _double_compression(y: npt.NDArray[np.uint8], coef: F32, q2: F64) -> Finding:
    nbh, nbw = coef.shape[0], coef.shape[2]
    # The divided coefficients of the last grid must be near-integers; otherwise the plane is
    # not the one the tables apply to (or was altered after decoding).
    # Only steps of 4 or more can be checked: with smaller steps the decoder's own rounding
    # (about 0.3 in DCT units) already spreads the values over the whole unit interval.
    err = []
    for u, v in _DQ_FREQS:
        if q2[u, v] >= 4:
            r = coef[:, u, :, v] / np.float32(q2[u, v])
            err.append(float(np.abs(r - np.rint(r)).mean()))
    int_err = float(np.mean(err)) if err else 0.0
    if int_err > _DQ_MAX_INT_ERR:
        return _na(
            "Not applicable: the DCT coefficients do not fit the file's quantisation tables.",
            "dq_not_applicable",
            integer_error=round(int_err, 3),
        )
    # Calibration: the grid shifted by 4 pixels sees no JPEG quantisation.
    cal_stride = 2 if nbh * nbw > 60_000 else 1
    cal = _block_dct(y[4:, 4:], k=5, stride=cal_stride)
    llr = np.zeros((nbh, nbw), dtype=np.float32)
    per_freq: dict[str, object] = {}
    used: list[tuple[int, int, int, int]] = []
    for u, v in _DQ_FREQS:
        step = int(q2[u, v])
        x = np.rint(coef[:, u, :, v] / np.float32(step)).astype(np.int32)
        fit = _fit_q1(x, cal[:, u, :, v].ravel(), step)
        key = f"{u},{v}"
        if fit is None:
            per_freq[key] = {"q2": step, "q1": None}
            continue
        q1, gain, alpha, table, rad = fit
        per_freq[key] = {"q2": step, "q1": q1, "gain": round(gain, 4), "share": round(alpha, 2)}
        if gain < _DQ_MIN_GAIN or alpha < _DQ_MIN_ALPHA:
            continue
        used.append((u, v, q1, step))
        inside = np.abs(x) <= rad
        llr += np.where(inside, table[np.clip(x + rad, 0, 2 * rad)], 0.0).astype(np.float32)
    details: dict[str, object] = {"per_frequency": per_freq, "integer_error": round(int_err, 3)}
    if len(used) < _DQ_MIN_FREQS:
        return Finding(
            score=None,
            notes=(
                "Not applicable: no evidence of an earlier JPEG compression on the same grid was "
                "found (for example a camera original saved once), so this check cannot "
                "localise anything.",
            ),
            codes=("dq_none_found",),
            details=details,
        )
    q1_table = {f"{u},{v}": q1 for u, v, q1, _ in used}
    details["q1"] = q1_table
    details["primary_quality"] = _quality_from_steps(q1_table)
    # Smooth over 3x3 blocks (Bianchi & Piva smooth the likelihood map before deciding).
    smooth = cv2.blur(llr, (3, 3), borderType=cv2.BORDER_REFLECT)
    prob = (1.0 / (1.0 + np.exp(-np.clip(smooth, -30, 30)))).astype(np.float32)
    score, frac = _area_score(prob, 0.75)
    details["area_fraction"] = round(frac, 4)
    details["frequencies_used"] = len(used)
    if score >= 0.2:
        note = (
            "The picture shows evidence of having been saved as JPEG twice, and one area does "
            "not share that history: evidence that this area was inserted or changed before "
            "the last save."
        )
        code = "dq_inconsistent_area"
    else:
        note = (
            "The picture shows evidence of having been saved as JPEG twice, and no evidence of "
            "an area with a different compression history."
        )
        code = "dq_consistent"
    return Finding(score=score, notes=(note,), map=prob, codes=(code,), details=details)


def _fit_q1(
    x: npt.NDArray[np.int32], c_cal: F32, q2: int
) -> tuple[int, float, float, F64, int] | None:
    """Best primary step q1 for one frequency: (q1, gain, share, LLR table, radius) or None.

    gain is how much better (nats per coefficient) the mixture "share double + rest single"
    explains the observed histogram than single compression alone.
    """
    rad = int(np.clip(np.percentile(np.abs(x), 99.5), 3, 150))
    nbins = 2 * rad + 1
    obs = np.bincount(np.clip(x.ravel() + rad, 0, 2 * rad), minlength=nbins).astype(np.float64)
    obs[0] = obs[-1] = 0.0  # the clipped tails are not modelled
    n = float(obs.sum())
    if n < 200 or n - float(obs[rad]) < 50:
        return None  # (nearly) all zeros: nothing to see
    # The calibrated coefficients, binned at 1/4 DCT unit: every model below is built from this
    # one histogram instead of from the samples themselves (cheap for any q1).
    span = int((rad + 1) * q2 * _CAL_RES)
    fine = np.rint(c_cal * _CAL_RES).astype(np.int64)
    fine = fine[np.abs(fine) <= span]
    if fine.size < 200:
        return None
    weight = np.bincount(fine + span, minlength=2 * span + 1).astype(np.float64) / fine.size
    values = (np.arange(2 * span + 1) - span) / _CAL_RES
    eps = 1e-5

    def binned(v: F64, w: F64) -> F64:
        # Rounding with the decoder's noise: a value near a bin edge is split between both bins.
        mid = np.floor(v + 0.5)
        scale = q2 / _DQ_ROUND_SIGMA
        down = _norm_cdf((mid - 0.5 - v) * scale)
        up = _norm_cdf((v - mid - 0.5) * scale)
        h = np.zeros(nbins, dtype=np.float64)
        for idx, ww in ((mid - 1.0, w * down), (mid, w * (1.0 - down - up)), (mid + 1.0, w * up)):
            ii = idx.astype(np.int64) + rad
            ok = (ii >= 0) & (ii < nbins)
            h += np.bincount(ii[ok], weights=ww[ok], minlength=nbins)
        return h + eps

    p_single = binned(values / q2, weight)
    ll_single = float((obs * np.log(p_single)).sum())
    best: tuple[int, float, float, F64] | None = None
    for q1 in range(1, min(3 * q2 + 3, 100) + 1):
        if q1 == q2 or q2 % q1 == 0:
            continue  # the q1 lattice covers every q2 bin equally: undetectable
        # First compression: the calibrated values fall onto the q1 lattice.
        j = np.rint(values / q1)
        jj = (j - j.min()).astype(np.int64)
        w1 = np.bincount(jj, weights=weight)
        lattice = (np.arange(w1.size) + j.min()) * q1
        p_double = binned(lattice / q2, w1.astype(np.float64))
        alpha = 0.5
        for _ in range(15):  # EM for the share of doubly compressed blocks
            mix = alpha * p_double + (1 - alpha) * p_single
            alpha = min(max(float((obs * (alpha * p_double / mix)).sum() / n), 1e-3), 1.0)
        mix = alpha * p_double + (1 - alpha) * p_single
        gain = (float((obs * np.log(mix)).sum()) - ll_single) / n
        if best is None or gain > best[1]:
            best = (q1, gain, alpha, p_double)
    if best is None:
        return None
    q1, gain, alpha, p_double = best
    table = np.clip(np.log(p_single) - np.log(p_double), -_DQ_LLR_CLIP, _DQ_LLR_CLIP)
    return q1, gain, alpha, table, rad


def _norm_cdf(z: F64) -> F64:
    return np.asarray(0.5 * (1.0 + special.erf(z / np.sqrt(2.0))), dtype=np.float64)


def _quality_from_steps(steps: dict[str, int]) -> int | None:
    """The IJG quality whose luma table best matches the given (row,col) -> step entries."""
    if not steps:
        return None
    lib = _library()
    base = np.asarray(lib["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    pos = [tuple(int(p) for p in k.split(",")) for k in steps]
    want = np.array(list(steps.values()), dtype=np.float64)
    best_q, best_err = 0, float("inf")
    for q in range(1, 101):
        t = _ijg(base, q)
        err = float(np.abs(np.array([t[p] for p in pos]) - want).sum())
        if err < best_err:
            best_q, best_err = q, err
    return best_q


# --------------------------------------------------------------------------------------------
# 2. block-artefact grid


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
            return _na(
                "Not applicable: the picture is too small to look for a JPEG block grid.",
                "jpeg_grid_none",
            )
        return _grid(lum.y)
    except (ValueError, MemoryError) as exc:
        return _na(f"Not applicable: the block-grid check failed ({exc}).", "jpeg_grid_none")


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
    score, frac = _area_score(m, 0.5, min_blocks=_GRID_WIN * _GRID_WIN // 4)
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


# --------------------------------------------------------------------------------------------
# 3. JPEG ghosts


def analyse_ghosts(source: Context | Picture) -> Finding:
    """JPEG ghosts (Farid 2009): areas that were saved before at another quality.

    map: one value per 16x16 cell, bright where re-saving at some quality changes the area
    markedly less than it changes the rest of the picture. score: strength of the largest
    such area; None when not applicable (not a JPEG, too small, or saved at quality <= 55).
    """
    context = Context.of(source)
    picture = context.picture
    code_na = "ghost_not_applicable"
    try:
        q2 = _luma_table(picture)
        if picture.format not in _JPEG_FORMATS or q2 is None:
            return _na("Not applicable: the JPEG ghost check needs a JPEG file.", code_na)
        lum = context.luma
        nbh, nbw = lum.y.shape[0] // 8, lum.y.shape[1] // 8
        if nbh * nbw < _MIN_BLOCKS:
            return _na("Not applicable: the picture is too small for the ghost check.", code_na)
        last_q = _estimate_quality(q2)
        qualities = [q for q in _GHOST_QUALITIES if q <= last_q - 3]
        if len(qualities) < 3:
            return _na(
                "Not applicable: the file was saved at too low a quality to look for ghosts.",
                code_na,
                last_quality=last_q,
            )
        if nbh * nbw > _GHOST_MAX_BLOCKS:
            coef = _block_dct(lum.y, k=_K, stride=2)
            per_cell = 1
        else:
            coef = _coefficients(context)
            per_cell = 2
        return _ghosts(coef, qualities, per_cell, last_q)
    except (ValueError, MemoryError, OSError) as exc:
        return _na(f"Not applicable: the ghost check failed ({exc}).", code_na)


def _ghosts(coef: F32, qualities: list[int], per_cell: int, last_q: int) -> Finding:
    base = np.asarray(_library()["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    nbh, nbw = coef.shape[0], coef.shape[2]
    ch, cw = nbh // per_cell, nbw // per_cell
    curves = np.empty((len(qualities), ch, cw), dtype=np.float32)
    for i, q in enumerate(qualities):
        t = _ijg(base, q)[:_K, :_K].astype(np.float32)[None, :, None, :]
        e = coef - np.rint(coef / t) * t
        d = np.einsum("aubv,aubv->ab", e, e) / 64.0  # mean squared pixel error per block
        d = d[: ch * per_cell, : cw * per_cell]
        curves[i] = d.reshape(ch, per_cell, cw, per_cell).mean(axis=(1, 3))
    level = curves.mean(axis=0)
    textured = level > max(0.5, 0.1 * float(np.median(level)))
    details: dict[str, object] = {"qualities": qualities, "last_quality": last_q}
    if textured.sum() < 32:
        return _na(
            "Not applicable: the picture has too little texture for the ghost check.",
            "ghost_not_applicable",
            **details,
        )
    # Each cell's "ghost quality" is where its difference curve is lowest; the picture's
    # dominant one is the most common. A cell whose curve is clearly lower at its own quality
    # than at the dominant one has another compression history (Farid's ghost).
    own = np.argmin(curves, axis=0)
    dom_idx = int(np.bincount(own[textured], minlength=len(qualities)).argmax())
    dominant = qualities[dom_idx]
    lowest = np.take_along_axis(curves, own[None], axis=0)[0]
    strength = 1.0 - lowest / (curves[dom_idx] + 1e-6)
    cell_q = np.asarray(qualities)[own]
    m = np.where(textured, np.clip((strength - 0.2) / 0.4, 0.0, 1.0), 0.0).astype(np.float32)
    m = np.asarray(cv2.blur(m, (3, 3), borderType=cv2.BORDER_REFLECT), dtype=np.float32)
    score, frac = _area_score(m, 0.5)
    comp = _largest_area(m > 0.5)
    details["dominant_quality"] = dominant
    if comp.any():
        vals, counts = np.unique(cell_q[comp], return_counts=True)
        details["area_quality"] = int(vals[counts.argmax()])
    details["area_fraction"] = round(frac, 4)
    if score >= 0.2:
        note = (
            "Re-saving the picture at one quality changes one area much less than the rest: "
            "evidence that this area was saved as JPEG at another quality before (a JPEG "
            "ghost)."
        )
        code = "ghost_area"
    else:
        note = "No evidence of a JPEG ghost: the picture reacts uniformly to re-saving."
        code = "ghost_none"
    return Finding(score=score, notes=(note,), map=m, codes=(code,), details=details)


# --------------------------------------------------------------------------------------------
# 4. quality and quantisation tables


@cache
def _library() -> dict[str, Any]:
    path = Path(__file__).with_name("qtables.json")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or "ijg" not in data:
        # The built-in fallback: ITU-T T.81 Annex K, Table K.1 (luminance) only.
        data = {
            "ijg": {
                "source": "ITU-T T.81 Annex K, Table K.1",
                "luma": [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13,
                         16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56,
                         68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87,
                         103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
                "chroma": [],
            },
            "cameras": [],
        }  # fmt: skip
    return data


def _ijg(base: npt.NDArray[np.int64], quality: int) -> npt.NDArray[np.int64]:
    """The IJG libjpeg scaling of an Annex K table to `quality` (1..100)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def _estimate_quality(luma: F64) -> int:
    base = np.asarray(_library()["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    errs = [float(np.abs(_ijg(base, q) - luma).sum()) for q in range(1, 101)]
    return int(np.argmin(errs)) + 1


def estimate_quality_and_identify_tables(source: Context | Picture) -> Finding:
    """JPEG quality estimate and identification of the quantisation tables (informational).

    details: `estimated_quality`, `match` ("ijg-standard", "camera:<Make>" or
    "unknown-nonstandard"), `matched` (the library entries) and the tables' `source`.
    """
    context = Context.of(source)
    picture = context.picture
    try:
        q = _luma_table(picture)
        if picture.format not in _JPEG_FORMATS or q is None or picture.jpeg is None:
            return _na(
                "Not applicable: the file is not a JPEG, so it has no quantisation tables.",
                "qtable_not_applicable",
            )
        return _identify(picture.jpeg.quantization, q)
    except (ValueError, KeyError, TypeError) as exc:
        return _na(f"Not applicable: the table check failed ({exc}).", "qtable_not_applicable")


def _identify(tables: dict[int, tuple[int, ...]], luma: F64) -> Finding:
    lib = _library()
    quality = _estimate_quality(luma)
    luma_t = tuple(int(v) for v in luma.ravel())
    chroma_t = tuple(int(v) for v in tables.get(1, ()))
    base_l = np.asarray(lib["ijg"]["luma"], dtype=np.int64)
    base_c = np.asarray(lib["ijg"].get("chroma") or [], dtype=np.int64)
    details: dict[str, object] = {"estimated_quality": quality}
    std_l = tuple(int(v) for v in _ijg(base_l, quality))
    std_c = tuple(int(v) for v in _ijg(base_c, quality)) if base_c.size == 64 else ()
    if luma_t == std_l and (not chroma_t or not std_c or chroma_t == std_c):
        details["match"] = "ijg-standard"
        details["matched"] = [{"library": "ijg", "quality": quality}]
        details["source"] = lib["ijg"]["source"]
        note = (
            "The quantisation tables match the standard IJG tables, which libjpeg-based "
            "software writes (many editors and web re-encoders use libjpeg); a camera original "
            "usually has tables of its own."
        )
        return Finding(score=None, notes=(note,), codes=("qtable_ijg_standard",), details=details)
    matched = []
    for entry in lib.get("cameras", []):
        if tuple(entry["luma"]) == luma_t and (
            not chroma_t or not entry["chroma"] or tuple(entry["chroma"]) == chroma_t
        ):
            matched.append(
                {"makes": entry["makes"], "models": entry["models"], "source": entry["source"]}
            )
    if matched:
        makes = sorted({str(m) for e in matched for m in e["makes"]})
        details["match"] = "camera:" + makes[0]
        details["makes"] = makes
        details["matched"] = matched
        note = (
            "The quantisation tables are the same as those of camera originals in photoloupe's "
            "table library: consistent with a file written by that make of camera and not "
            "re-saved since."
        )
        return Finding(score=None, notes=(note,), codes=("qtable_camera",), details=details)
    details["match"] = "unknown-nonstandard"
    details["matched"] = []
    note = (
        "The quantisation tables are neither the standard IJG tables nor any in photoloupe's "
        "table library; they may come from a camera, a phone or software not in the library."
    )
    return Finding(score=None, notes=(note,), codes=("qtable_unknown",), details=details)
