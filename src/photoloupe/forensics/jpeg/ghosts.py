"""JPEG ghosts (Farid, IEEE TIFS 2009), simulated in the DCT domain; see the package docstring."""

from __future__ import annotations

import cv2
import numpy as np

from photoloupe.analysis import JPEG_FORMATS, Context
from photoloupe.findings import Finding
from photoloupe.forensics.jpeg.common import (
    F32,
    MIN_BLOCKS,
    K,
    area_score,
    block_dct,
    coefficients,
    largest_area,
    luma_table,
    not_applicable,
)
from photoloupe.forensics.jpeg.tables import estimate_quality, ijg_table, library
from photoloupe.io import Picture

_GHOST_QUALITIES = tuple(range(50, 100, 5))
_GHOST_MAX_BLOCKS = 70_000  # above this, one block per 16x16 cell is analysed


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
        q2 = luma_table(picture)
        if picture.format not in JPEG_FORMATS or q2 is None:
            return not_applicable(
                "Not applicable: the JPEG ghost check needs a JPEG file.", code_na
            )
        lum = context.luma
        nbh, nbw = lum.y.shape[0] // 8, lum.y.shape[1] // 8
        if nbh * nbw < MIN_BLOCKS:
            return not_applicable(
                "Not applicable: the picture is too small for the ghost check.", code_na
            )
        last_q = estimate_quality(q2)
        qualities = [q for q in _GHOST_QUALITIES if q <= last_q - 3]
        if len(qualities) < 3:
            return not_applicable(
                "Not applicable: the file was saved at too low a quality to look for ghosts.",
                code_na,
                last_quality=last_q,
            )
        if nbh * nbw > _GHOST_MAX_BLOCKS:
            coef = block_dct(lum.y, k=K, stride=2)
            per_cell = 1
        else:
            coef = coefficients(context)
            per_cell = 2
        return _ghosts(coef, qualities, per_cell, last_q)
    except (ValueError, MemoryError, OSError) as exc:
        return not_applicable(f"Not applicable: the ghost check failed ({exc}).", code_na)


def _ghosts(coef: F32, qualities: list[int], per_cell: int, last_q: int) -> Finding:
    base = np.asarray(library()["ijg"]["luma"], dtype=np.int64).reshape(8, 8)
    nbh, nbw = coef.shape[0], coef.shape[2]
    ch, cw = nbh // per_cell, nbw // per_cell
    curves = np.empty((len(qualities), ch, cw), dtype=np.float32)
    for i, q in enumerate(qualities):
        t = ijg_table(base, q)[:K, :K].astype(np.float32)[None, :, None, :]
        e = coef - np.rint(coef / t) * t
        d = np.einsum("aubv,aubv->ab", e, e) / 64.0  # mean squared pixel error per block
        d = d[: ch * per_cell, : cw * per_cell]
        curves[i] = d.reshape(ch, per_cell, cw, per_cell).mean(axis=(1, 3))
    level = curves.mean(axis=0)
    textured = level > max(0.5, 0.1 * float(np.median(level)))
    details: dict[str, object] = {"qualities": qualities, "last_quality": last_q}
    if textured.sum() < 32:
        return not_applicable(
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
    score, frac = area_score(m, 0.5)
    comp = largest_area(m > 0.5)
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
