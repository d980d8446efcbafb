"""The changed map: the original aligned onto the suspect, tone-matched, compared, and cut into
regions; pixels the original does not cover are padding."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from photoloupe.compare.params import DIFF_FLOOR, DIFF_K, MIN_REGION
from photoloupe.compare.registration import Side
from photoloupe.io import Picture
from photoloupe.schema.compare import (
    ChangedRegion,
    Comparison,
)

Source = str | os.PathLike[str] | bytes
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


def align(orig: Picture, h_full: F64, so: Side, ss: Side) -> tuple[U8, Bool]:
    """The original resampled into the suspect's working frame, and where it lands."""
    to_work = np.diag([ss.factor, ss.factor, 1.0]) @ h_full
    scale = math.sqrt(abs(float(np.linalg.det(to_work[:2, :2] / to_work[2, 2]))))
    # Start from the original's working copy when it holds all the detail the suspect's frame
    # can show (it usually does, and it saves shrinking a large original again).
    source, pre = (so.rgb, so.factor) if so.factor >= 0.95 * scale else (orig.pixels, 1.0)
    if scale / pre < 0.7:
        # Shrink first by area averaging: a plain warp to a much smaller size would alias.
        h, w = source.shape[:2]
        size = (max(1, round(w * scale / pre)), max(1, round(h * scale / pre)))
        source = np.asarray(cv2.resize(source, size, interpolation=cv2.INTER_AREA), np.uint8)
        pre = pre * size[0] / w
    matrix = to_work @ np.diag([1 / pre, 1 / pre, 1.0])
    sh, sw = ss.rgb.shape[:2]
    aligned = cv2.warpPerspective(
        np.ascontiguousarray(source), matrix, (sw, sh), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    ones = np.full(source.shape[:2], 255, np.uint8)
    landed = cv2.warpPerspective(ones, matrix, (sw, sh), flags=cv2.INTER_NEAREST)
    return np.asarray(aligned, np.uint8), np.asarray(landed > 0)


def _tone_curve(a: U8, b: U8, mask: Bool) -> U8:
    """A 256-entry map from `a`'s levels to `b`'s (one channel), robust to local edits.

    Per-level medians follow any tone curve but a rare level can be taken over by an edit
    (the pasted patch was the only dark-red thing), so they are checked against a smooth
    cubic fitted with robust weights; where they disagree, the cubic is used.
    """
    bins = 64
    width = 256 // bins
    ia = (a[mask] // width).astype(np.int64)
    counts = np.bincount(ia * 256 + b[mask].astype(np.int64), minlength=bins * 256)
    table = counts.reshape(bins, 256).cumsum(axis=1)
    totals = table[:, -1]
    medians = np.argmax(table >= (totals[:, None] + 1) / 2, axis=1).astype(np.float64)
    keep = totals >= 20
    if keep.sum() < 4:
        return np.arange(256, dtype=np.uint8)
    x = ((np.arange(bins) + 0.5) * width)[keep]
    y = medians[keep]
    design = np.stack([np.ones_like(x), x / 255, (x / 255) ** 2, (x / 255) ** 3], axis=1)
    weights = np.sqrt(totals[keep].astype(np.float64))
    coef = np.zeros(4)
    for _ in range(4):
        coef = np.linalg.lstsq(design * weights[:, None], y * weights, rcond=None)[0]
        residual = np.abs(design @ coef - y)
        scale = max(4.0, 1.4826 * float(np.median(residual)))
        robust = np.clip(1 - (residual / (4.685 * scale)) ** 2, 0, None) ** 2  # Tukey
        weights = np.sqrt(totals[keep].astype(np.float64)) * robust
        if weights.sum() <= 0:
            return np.arange(256, dtype=np.uint8)
    smooth = design @ coef
    trusted = np.where(np.abs(y - smooth) <= 10.0, y, smooth)
    levels = np.arange(256, dtype=np.float64) / 255
    cubic = np.stack([np.ones_like(levels), levels, levels**2, levels**3], axis=1) @ coef
    lut = np.interp(np.arange(256), x, trusted - np.interp(x, np.arange(256), cubic)) + cubic
    out: U8 = np.clip(np.rint(lut), 0, 255).astype(np.uint8)
    return out


def changed_map(aligned: U8, suspect: U8, covered: Bool) -> tuple[Bool, F32, float]:
    """Where the suspect differs from the aligned original beyond what re-encoding explains."""
    inner = cv2.erode(covered.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    if inner.sum() < 64:
        return np.zeros(covered.shape, bool), np.zeros(covered.shape, np.float32), 0.0
    mapped = np.empty_like(aligned)
    for c in range(3):
        mapped[..., c] = _tone_curve(aligned[..., c], suspect[..., c], inner)[aligned[..., c]]
    # Smallest difference over one-pixel shifts, per channel: edges a fraction of a pixel off
    # do not count. The largest of the channels is the evidence.
    # Compared as luma and chroma, chroma at half weight: JPEG keeps chroma at half
    # resolution, so sharp colour edges differ after any re-encoding, rotation or resize.
    h, w = suspect.shape[:2]
    diff = np.zeros((h, w), np.float32)
    ycc_a = cv2.cvtColor(mapped, cv2.COLOR_RGB2YCrCb)
    ycc_b = cv2.cvtColor(suspect, cv2.COLOR_RGB2YCrCb)
    for c, weight in ((0, 1.0), (1, 0.5), (2, 0.5)):
        a = cv2.GaussianBlur(ycc_a[..., c].astype(np.float32), (0, 0), 1.5) * weight
        b = cv2.GaussianBlur(ycc_b[..., c].astype(np.float32), (0, 0), 1.5) * weight
        padded = cv2.copyMakeBorder(a, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
        best = np.full((h, w), np.inf, np.float32)
        for dy in range(3):
            for dx in range(3):
                shifted = np.ascontiguousarray(padded[dy : dy + h, dx : dx + w])
                best = np.asarray(cv2.min(best, cv2.absdiff(shifted, b)), np.float32)
        diff = np.asarray(cv2.max(diff, best), np.float32)
    evidence = np.asarray(cv2.GaussianBlur(diff, (0, 0), 2.0), np.float32)
    evidence[~inner] = 0.0
    values = evidence[inner]
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    threshold = max(DIFF_FLOOR, med + DIFF_K * mad)
    # Hysteresis: regions seeded where the evidence is strong, grown where it is moderate.
    low = evidence > 0.5 * threshold
    low8 = cv2.morphologyEx(low.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    # Opening with a 5x5 square drops lines a few pixels wide: what is left of a strong edge
    # after a small misregistration, rarely an edit.
    low = np.asarray(cv2.morphologyEx(low8, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)), bool)
    labels, count = ndimage.label(low)
    if count == 0:
        return np.zeros(low.shape, bool), evidence, threshold
    seeded = np.zeros(count + 1, bool)
    seeded[labels[evidence > threshold]] = True
    seeded[0] = False
    changed8 = seeded[labels].astype(np.uint8)
    # Fill holes: a pasted patch may contain a flat part that happens to match.
    contours, _ = cv2.findContours(changed8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(changed8, contours, -1, 1, thickness=cv2.FILLED)
    return (changed8 > 0) & inner, evidence, threshold


def disagreement_share(aligned: U8, suspect: U8, covered: Bool) -> float:
    """Share of the covered area that is textured and where the two pictures' fine structure
    does not correlate (local normalised correlation of band-passed luma under 0.3).

    The changed map's threshold is relative to the residual, so it rises when everything
    differs; this measure is absolute, and blind to tone and colour changes by construction.
    """
    inner = cv2.erode(covered.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    if inner.sum() < 256:
        return 0.0

    def band(rgb: U8) -> F32:
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        fine = cv2.GaussianBlur(luma, (0, 0), 1.0) - cv2.GaussianBlur(luma, (0, 0), 4.0)
        return np.asarray(fine, np.float32)

    a, b = band(aligned), band(suspect)
    win = (15, 15)

    def mean(x: F32) -> F32:
        return np.asarray(cv2.boxFilter(x, -1, win), np.float32)

    ma, mb = mean(a), mean(b)
    var_a = mean(a * a) - ma * ma
    var_b = mean(b * b) - mb * mb
    cov = mean(a * b) - ma * mb
    textured = inner & (np.maximum(var_a, var_b) > 4.0)
    if textured.sum() < 256:
        return 0.0
    ncc = cov / np.sqrt(np.maximum(var_a, 1e-3) * np.maximum(var_b, 1e-3))
    # Over the whole covered area, not the textured part only: a patch pasted on a clear sky
    # is most of the texture there, yet a small part of the picture.
    return float((ncc[textured] < 0.3).sum()) / float(inner.sum())


def changed_regions(
    changed: Bool, evidence: F32, threshold: float, factor: float, covered_px: int
) -> list[ChangedRegion]:
    labels, count = ndimage.label(changed)
    out: list[ChangedRegion] = []
    if count == 0:
        return out
    slices = ndimage.find_objects(labels)
    for index, sl in enumerate(slices, start=1):
        if sl is None:
            continue
        part = labels[sl] == index
        area = int(part.sum())
        if area < max(48, MIN_REGION * covered_px):
            changed[sl][part] = False
            continue
        score = float(evidence[sl][part].mean()) / (2.5 * threshold)
        ys, xs = sl
        box = [
            int(xs.start / factor), int(ys.start / factor),
            math.ceil((xs.stop - xs.start) / factor), math.ceil((ys.stop - ys.start) / factor),
        ]  # fmt: skip
        out.append(
            ChangedRegion(
                box=box,
                score=round(min(1.0, max(0.0, score)), 3),
                area_fraction=round(area / covered_px, 5),
            )
        )
    out.sort(key=lambda r: -r.area_fraction)
    return out


def padding_boxes(covered: Bool, factor: float, width: int, height: int) -> list[list[int]]:
    outside = ~covered
    if not outside.any():
        return []
    labels, _ = ndimage.label(outside)
    boxes = []
    for sl in ndimage.find_objects(labels):
        if sl is None:
            continue
        ys, xs = sl
        x0, y0 = int(xs.start / factor), int(ys.start / factor)
        x1 = min(width, math.ceil(xs.stop / factor))
        y1 = min(height, math.ceil(ys.stop / factor))
        if (x1 - x0) * (y1 - y0) >= 0.002 * width * height:
            boxes.append([x0, y0, x1 - x0, y1 - y0])
    return boxes


def full_size_changed_map(comparison: Comparison) -> U8:
    """The changed map at the suspect's stored size: uint8, 255 = changed, 0 elsewhere."""
    h, w = comparison.suspect.height, comparison.suspect.width
    changed = comparison.arrays.get("changed")
    if changed is None:
        return np.zeros((h, w), np.uint8)
    small = changed.astype(np.uint8) * np.uint8(255)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), np.uint8)


def write_changed_map(comparison: Comparison, folder: str | os.PathLike[str]) -> Path:
    """Write the changed map as `<suspect stem>-<sha256[:8]>.changed.png` in `folder`, record
    the path in `comparison.changed_map`, and return it. An unregistered pair gets an all-zero
    map: nothing was found changed because nothing could be compared."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(comparison.suspect.name).stem or "suspect"
    path = out / f"{stem}-{comparison.suspect.sha256[:8]}.changed.png"
    ok, encoded = cv2.imencode(".png", full_size_changed_map(comparison))
    if not ok:  # pragma: no cover - PNG encoding of a uint8 array does not fail
        raise OSError(f"could not encode {path}")
    path.write_bytes(encoded.tobytes())
    comparison.changed_map = str(path)
    return path
