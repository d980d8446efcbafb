"""Aligned double JPEG compression (Bianchi & Piva, IEEE TIFS 2012); see the package docstring."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
from scipy import special

from photoloupe.analysis import JPEG_FORMATS, Context
from photoloupe.findings import Finding
from photoloupe.forensics.jpeg.common import (
    F32,
    F64,
    MIN_BLOCKS,
    area_score,
    block_dct,
    coefficients,
    luma_table,
    not_applicable,
)
from photoloupe.forensics.jpeg.tables import ijg_table, library
from photoloupe.io import Picture

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
        q2 = luma_table(picture)
        if picture.format not in JPEG_FORMATS or q2 is None:
            return not_applicable(
                "Not applicable: the double-compression check needs a JPEG file.", code_na
            )
        lum = context.luma
        nbh, nbw = lum.y.shape[0] // 8, lum.y.shape[1] // 8
        if not lum.exact or nbh * nbw < MIN_BLOCKS:
            return not_applicable(
                "Not applicable: the JPEG's own brightness plane could not be read, or the "
                "picture is too small.",
                code_na,
            )
        coef = coefficients(context)
        return _double_compression(lum.y, coef, q2)
    except (ValueError, MemoryError, OSError) as exc:
        return not_applicable(
            f"Not applicable: the double-compression check failed ({exc}).", code_na
        )


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
        return not_applicable(
            "Not applicable: the DCT coefficients do not fit the file's quantisation tables.",
            "dq_not_applicable",
            integer_error=round(int_err, 3),
        )
    # Calibration: the grid shifted by 4 pixels sees no JPEG quantisation.
    cal_stride = 2 if nbh * nbw > 60_000 else 1
    cal = block_dct(y[4:, 4:], k=5, stride=cal_stride)
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
    score, frac = area_score(prob, 0.75)
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
    lib = library()
    base = np.asarray(lib["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    pos = [tuple(int(p) for p in k.split(",")) for k in steps]
    want = np.array(list(steps.values()), dtype=np.float64)
    best_q, best_err = 0, float("inf")
    for q in range(1, 101):
        t = ijg_table(base, q)
        err = float(np.abs(np.array([t[p] for p in pos]) - want).sum())
        if err < best_err:
            best_q, best_err = q, err
    return best_q
