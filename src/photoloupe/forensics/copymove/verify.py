"""Dense verification of the candidate transforms: warp, compare, refine, and grow the agreeing
area; what keeps repeated natural things (tiles, leaves, posters) out."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from photoloupe.forensics.copymove.candidate import F32, F64, Box, Candidate, Mask, Pair, Views
from photoloupe.forensics.copymove.params import RESOLUTION, VERIFY


def verify(luma: F32, candidates: list[Candidate]) -> list[Pair]:
    """Keep candidates whose transform explains the pixels around their matches."""
    h, w = luma.shape
    smooth = np.asarray(cv2.GaussianBlur(luma, (0, 0), VERIFY.pre_sigma), np.float32)
    detail = luma - np.asarray(cv2.GaussianBlur(luma, (0, 0), VERIFY.fine_sigma), np.float32)
    # Band-pass energy: structure at a few pixels' scale; a ramp or gradient has none.
    band = np.abs(
        smooth - np.asarray(cv2.GaussianBlur(smooth, (0, 0), VERIFY.local_sigma), np.float32)
    )
    textured = (
        np.asarray(cv2.GaussianBlur(band, (0, 0), VERIFY.local_sigma), np.float32) > VERIFY.texture
    )
    # Clipped pixels (blown highlights, crushed shadows) carry no noise and match any other
    # clipped area, so they neither count as structure nor as shared noise.
    extreme = ((luma < VERIFY.clip_low) | (luma > VERIFY.clip_high)).astype(np.uint8)
    clipped = np.asarray(cv2.dilate(extreme, np.ones((3, 3), np.uint8)), np.uint8) > 0
    views = Views(luma, smooth, detail, textured & ~clipped, ~clipped)
    grow = max(8, round(VERIFY.grow_margin * max(h, w)))
    min_area = VERIFY.min_area * h * w
    accepted: list[Pair] = []
    for cand in sorted(candidates, key=lambda c: -len(c.src))[: VERIFY.max_candidates]:
        cand.matrix = _refine_shift(views, cand)
        # Cheap first: most candidates are natural repeats, and a few patches at the
        # supporting points reject them before any dense work.
        if not _points_agree(views, cand):
            continue
        # The dense check runs in a window around the supporting matches: the copy can only
        # grow from there, and the window keeps the cost independent of the picture's size.
        x0, y0 = np.maximum(np.floor(cand.dst.min(axis=0)).astype(int) - grow, 0)
        x1, y1 = np.ceil(cand.dst.max(axis=0)).astype(int) + grow + 1
        box = (int(x0), int(y0), min(int(x1), w), min(int(y1), h))
        target_crop = _agreement(views, cand.matrix, box, cand.dst)
        if target_crop is None or target_crop.sum() < min_area:
            continue
        target = np.zeros((h, w), bool)
        target[box[1] : box[3], box[0] : box[2]] = target_crop
        # The source side is the target mapped back; a pixel matching itself is no copy.
        inverse = cv2.invertAffineTransform(cand.matrix)
        source = cv2.warpAffine(target.astype(np.uint8), inverse, (w, h)) > 0
        overlap = target & source
        target &= ~overlap
        source &= ~overlap
        if target.sum() < min_area or source.sum() < min_area:
            continue
        px = np.clip(np.round(cand.dst[:, 0]).astype(int), 0, w - 1)
        py = np.clip(np.round(cand.dst[:, 1]).astype(int), 0, h - 1)
        if float(np.mean(target[py, px])) < VERIFY.min_matches_inside:
            continue
        tbox = _bounds(target)
        # The flat part of the area was admitted for its correlated noise, so measuring the
        # correlation there would be circular: the textured part, admitted by the residual
        # alone, is the fair test. A copy with almost no texture must show near-identical noise.
        textured = target & views.textured
        if textured.sum() >= VERIFY.min_textured:
            corr = _fine_correlation(views.detail, cand.matrix, textured, tbox)
            # A rotated or rescaled copy was interpolated by the editor and again by the
            # warp, which smooths its noise: it cannot reach a plain copy's correlation.
            resampled = bool(np.abs(cand.matrix[:, :2] - np.eye(2)).max() > 0.02)
            floor = VERIFY.min_fine_corr_resampled if resampled else VERIFY.min_fine_corr
        else:
            corr = _fine_correlation(views.detail, cand.matrix, target, tbox)
            floor = VERIFY.flat_min_corr
        if corr < floor or not _distinctive(views, cand.matrix, target, tbox, corr):
            continue
        if any(_same_pair(target, source, p) for p in accepted):
            continue
        accepted.append(Pair(cand, source, target, len(cand.src)))
    return accepted


def _bounds(mask: Mask) -> Box:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _warp_crop(image: F32, matrix: F64, box: Box) -> F32:
    """The picture warped by `matrix`, only inside box (x0, y0, x1, y1); NaN where undefined."""
    x0, y0, x1, y1 = box
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    out = cv2.warpAffine(
        image,
        shifted,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )
    return np.asarray(out, np.float32)


def _refine_shift(views: Views, cand: Candidate) -> F64:
    """The transform with its shift refined to a fraction of a pixel.

    Block votes are only as precise as the dense grid, and both branches' transforms were
    fitted at the detection resolution. A copy's noise agrees with its source's only when the
    two are aligned to well under a pixel, so the residual shift is found by template matching
    and a parabola through the best score and its neighbours. The shared noise gives the
    sharpest peak; where there is too little of it (a blurred copy), the smoothed picture's
    squared difference decides.
    """
    h, w = views.smooth.shape
    half = VERIFY.refine_half
    # The template must lie inside the copy: an edge of it that falls outside (a strong edge
    # next to a faint copy) would decide the match. The supporting point with the most others
    # around it is the one deepest inside.
    sample = cand.dst[:: max(1, len(cand.dst) // 256)]
    crowd = cKDTree(sample).query_ball_point(sample, r=half, p=np.inf, return_length=True)
    cx, cy = sample[int(np.argmax(crowd))]
    x0, y0 = max(round(cx) - half, 0), max(round(cy) - half, 0)
    x1, y1 = min(round(cx) + half, w), min(round(cy) + half, h)
    coarse = RESOLUTION.dense_factor if cand.branch == "blocks" else 1
    radius = 2 + math.ceil(max(h, w) / RESOLUTION.detect_side) * coarse
    if x1 - x0 < 16 or y1 - y0 < 16:
        return cand.matrix
    box = (x0 - radius, y0 - radius, x1 + radius, y1 + radius)
    search = _warp_crop(views.detail, cand.matrix, box)
    if not np.isfinite(search).all():
        return cand.matrix
    scores = cv2.matchTemplate(search, views.detail[y0:y1, x0:x1], cv2.TM_CCOEFF_NORMED)
    _, peak, _, (bx, by) = cv2.minMaxLoc(scores)
    if peak < VERIFY.refine_min_peak:
        search = _warp_crop(views.smooth, cand.matrix, box)
        scores = -cv2.matchTemplate(search, views.smooth[y0:y1, x0:x1], cv2.TM_SQDIFF)
        _, _, _, (bx, by) = cv2.minMaxLoc(scores)
    if not (0 < bx < scores.shape[1] - 1 and 0 < by < scores.shape[0] - 1):
        return cand.matrix  # best at the edge of the search: no clear optimum
    fx = _parabola(scores[by, bx - 1 : bx + 2])
    fy = _parabola(scores[by - 1 : by + 2, bx])
    # The target at q shows the warped source at q + (bx - radius, by - radius).
    matrix = cand.matrix.copy()
    matrix[:, 2] += (radius - bx - fx, radius - by - fy)
    return matrix


def _parabola(values: npt.NDArray[np.generic]) -> float:
    """Offset in [-0.5, 0.5] of the maximum of a parabola through three equally spaced values."""
    left, mid, right = (float(v) for v in values)
    curvature = left - 2.0 * mid + right
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0


def _points_agree(views: Views, cand: Candidate) -> bool:
    """Small patches at the supporting points: do they agree with their warped sources?"""
    h, w = views.smooth.shape
    step = max(1, len(cand.dst) // VERIFY.max_patches)
    centres = np.round(cand.dst[::step]).astype(np.int64)
    inside = (
        (centres[:, 0] >= VERIFY.patch)
        & (centres[:, 1] >= VERIFY.patch)
        & (centres[:, 0] < w - VERIFY.patch)
        & (centres[:, 1] < h - VERIFY.patch)
    )
    centres = centres[inside]
    if len(centres) < 4:
        return False
    offsets = np.arange(-VERIFY.patch, VERIFY.patch + 1)
    # Every patch pixel's own coordinates, and where the inverse transform sends it.
    qx = (centres[:, 0, None, None] + offsets[None, None, :]).astype(np.float32)
    qy = (centres[:, 1, None, None] + offsets[None, :, None]).astype(np.float32)
    qx, qy = np.broadcast_arrays(qx, qy)
    inv = cv2.invertAffineTransform(cand.matrix)
    sx = (inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2]).astype(np.float32)
    sy = (inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2]).astype(np.float32)
    flat = (len(centres) * (2 * VERIFY.patch + 1), 2 * VERIFY.patch + 1)
    sx, sy = sx.reshape(flat), sy.reshape(flat)
    tx, ty = np.ascontiguousarray(qx).reshape(flat), np.ascontiguousarray(qy).reshape(flat)

    def sample(image: F32, mx: F32, my: F32) -> F32:
        out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.asarray(out, np.float32).reshape(len(centres), -1)

    residual = np.abs(sample(views.smooth, tx, ty) - sample(views.smooth, sx, sy)).mean(axis=1)
    agree = residual < VERIFY.res_max
    if agree.mean() < VERIFY.min_patch_agree:
        return False
    a = sample(views.detail, tx, ty)[agree].ravel()
    b = sample(views.detail, sx, sy)[agree].ravel()
    return _correlation(a, b) >= VERIFY.min_patch_corr


def _correlation(a: F32, b: F32) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(float((a * a).sum()) * float((b * b).sum())))
    return float((a * b).sum()) / denom if denom > 0 else 0.0


def _agreement(views: Views, matrix: F64, box: Box, points: F64) -> Mask | None:
    """Pixels connected to the supporting matches where the warped copy agrees with the picture.

    A pixel agrees when the smoothed residual is small and the pixel either has structure of
    its own (so the agreement is specific) or carries the same noise as its source: flat
    pixels agree with any flat area, and only shared noise shows that they were copied. The
    agreeing area is then grown from the matches without a shape limit, which lets a long
    thin copy be marked whole even where keypoints are sparse.
    """
    x0, y0, x1, y1 = box
    original = views.smooth[y0:y1, x0:x1]
    warped = _warp_crop(views.smooth, matrix, box)
    valid = np.isfinite(warped)
    residual = np.where(valid, np.abs(original - np.nan_to_num(warped)), 255.0)
    residual = cv2.GaussianBlur(residual.astype(np.float32), (0, 0), VERIFY.res_sigma)
    here = views.detail[y0:y1, x0:x1]
    there = np.nan_to_num(_warp_crop(views.detail, matrix, box))

    def local(img: F32) -> F32:
        return np.asarray(cv2.GaussianBlur(img, (0, 0), VERIFY.local_sigma), np.float32)

    # Per-pixel normalised correlation of the detail over a small window.
    corr = local(here * there) / np.sqrt(local(here * here) * local(there * there) + 1e-3)
    textured = views.textured[y0:y1, x0:x1]
    usable = views.usable[y0:y1, x0:x1]
    agree = (residual < VERIFY.res_max) & valid & (textured | ((corr > VERIFY.local_corr) & usable))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    agree8 = np.asarray(cv2.morphologyEx(agree.astype(np.uint8), cv2.MORPH_OPEN, kernel))
    agree8 = np.asarray(cv2.morphologyEx(agree8, cv2.MORPH_CLOSE, kernel), np.uint8)
    n_lab, labels = cv2.connectedComponents(agree8, connectivity=8)
    if n_lab <= 1:
        return None
    # Keep the agreeing components that hold supporting matches: agreement elsewhere (a flat
    # patch next to the copy matching another flat patch) is not tied to the copy.
    ph, pw = original.shape
    px = np.clip(np.round(points[:, 0] - x0).astype(int), 0, pw - 1)
    py = np.clip(np.round(points[:, 1] - y0).astype(int), 0, ph - 1)
    hit = labels[py, px]
    keep = np.unique(hit[hit > 0])
    if keep.size == 0:
        return None
    # Holes are flat or saturated spots inside the copy, where nothing can agree or disagree.
    return np.asarray(ndimage.binary_fill_holes(np.isin(labels, keep)), bool)


def _distinctive(views: Views, matrix: F64, target: Mask, box: Box, corr: float) -> bool:
    """True when the agreement is specific to this transform, not to any nearby one.

    A copy matches its source at one transform only; a gradient, a flat wall or a stripe
    matches itself along a whole line of shifts. Nudging the transform by a few pixels must
    therefore make the residual clearly worse in every direction, or, for a flat copy whose
    shape is too plain for that, make its strongly shared noise disappear.
    """
    x0, y0, x1, y1 = box
    region = target[y0:y1, x0:x1]
    original = views.smooth[y0:y1, x0:x1][region]

    def residual(m: F64) -> float:
        warped = _warp_crop(views.smooth, m, box)[region]
        diff = np.abs(original - warped)
        return float(np.mean(np.where(np.isfinite(diff), np.minimum(diff, 255.0), 255.0)))

    nudges = ((VERIFY.nudge, 0), (-VERIFY.nudge, 0), (0, VERIFY.nudge), (0, -VERIFY.nudge))
    base = residual(matrix)
    shaped = True
    for ox, oy in nudges:
        nudged = matrix.copy()
        nudged[:, 2] += (ox, oy)
        if residual(nudged) < max(VERIFY.nudge_ratio * base, base + VERIFY.nudge_gain):
            shaped = False
            break
    if shaped:
        return True
    if corr < VERIFY.flat_min_corr:
        return False
    for ox, oy in nudges:
        nudged = matrix.copy()
        nudged[:, 2] += (ox, oy)
        if _fine_correlation(views.detail, nudged, target, box) > VERIFY.nudge_corr * corr:
            return False
    return True


def _fine_correlation(detail: F32, matrix: F64, target: Mask, box: Box) -> float:
    """Correlation of the fine detail (noise, grain) between the copy and its source.

    A pasted copy carries its source's noise with it; two photographed instances of the same
    thing (repeated letters on a screen, identical packages) share their shape but not their
    noise. This tells the two apart where the smoothed comparison cannot.
    """
    x0, y0, x1, y1 = box
    region = target[y0:y1, x0:x1]
    warped = _warp_crop(detail, matrix, box)[region]
    here = detail[y0:y1, x0:x1][region]
    ok = np.isfinite(warped)
    if ok.sum() < 16:
        return 0.0
    return _correlation(here[ok], warped[ok])


def _iou(a: Mask, b: Mask) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _same_pair(target: Mask, source: Mask, other: Pair) -> bool:
    straight = min(_iou(target, other.target), _iou(source, other.source))
    swapped = min(_iou(target, other.source), _iou(source, other.target))
    return max(straight, swapped) >= VERIFY.duplicate_iou
