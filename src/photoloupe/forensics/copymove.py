"""Copy-move detection: areas of the picture duplicated elsewhere in the same picture.

A copy-move edit copies part of a picture and pastes it elsewhere in it, to hide something (a
patch of background pasted over it) or to multiply something (a crowd, smoke, an object). Both
the pasted area (target) and the area it came from (source) are marked, because a fact-checker
cannot tell from the pixels alone which of the two is the original.

Two detectors propose candidate transforms, and one dense check verifies every candidate:

1. Keypoints (after Amerini et al., "A SIFT-based forensic method for copy-move attack
   detection and transformation recovery", IEEE TIFS 2011). SIFT keypoints on the luma are
   matched against all other keypoints of the same picture with the generalised 2NN test
   (g2NN: keep the k-th neighbour while d_k / d_(k+1) stays below a ratio, so one keypoint can
   match several copies). Pairs closer than a minimum distance are dropped (they are the same
   structure), the remaining pairs are clustered by where both ends lie, and a similarity
   transform (shift, rotation, scale) is fitted per cluster with RANSAC. Handles rotated and
   rescaled copies.
2. Dense blocks (after Fridrich, Soukal & Lukáš, "Detection of copy-move forgery in digital
   images", DFRWS 2003, and the dense-field idea of Cozzolino, Poggi & Verdoliva, "Efficient
   dense-field copy-move forgery detection", IEEE TIFS 2015). Overlapping blocks of a downscaled
   luma are described by their low-frequency DCT coefficients, each block finds its nearest
   neighbours, and shift vectors are voted: a shift supported by many block pairs is a
   candidate. This finds clones in low-texture areas where keypoints are scarce. Near-flat
   blocks (sky, walls) are excluded: every flat block matches every other one.

Verification builds the map. For each candidate transform the picture is warped onto itself
and compared with the original after light smoothing; pixels whose local residual is small,
in the neighbourhood of the supporting matches, form the target mask, and the inverse
transform gives the source mask. A candidate is kept only when this dense agreement covers a
real area and most of its supporting matches. This is what keeps the false-alarm rate low:
repeated natural things (tiles, leaves, two copies of the same poster) are similar, often
geometrically consistent, but they are not pixel-for-pixel copies, noise included.

Limitations: mirrored copies are not modelled (the transform has no reflection); copies that
were blurred, recoloured or heavily recompressed after pasting may fail the residual check;
copies smaller than about 2% of the picture's long side are below the working resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from photoloupe.findings import Finding
from photoloupe.io import Picture

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

MIN_SIDE = 48  # smaller pictures hold too few structures to compare

# Working resolutions. SIFT doubles its input internally, so 960 px costs like ~1900 px; the
# cap bounds time on 12-megapixel photos. Dense blocks run at half of that.
_WORK_SIDE = 960
_DENSE_FACTOR = 3

# Keypoint branch.
_MAX_KEYPOINTS = 2500
_SIFT_CONTRAST = 0.03  # a little below OpenCV's 0.04: more keypoints on low-contrast copies
_G2NN_K = 8  # neighbours examined per keypoint
_G2NN_RATIO = 0.5  # Amerini et al.'s threshold
_MIN_PAIR_DIST = 0.02  # fraction of the working long side: closer pairs are the same spot
_CLUSTER_RADIUS = 0.06  # fraction of the long side linking pairs whose two ends are both near
_RANSAC_PX = 3.0
_MIN_INLIERS = 8
_SCALE_RANGE = (0.5, 2.0)

# Dense block branch (at the dense resolution).
_BLOCK = 8
_FLAT_STD = 2.5  # grey levels: blocks flatter than this match anything
_FEATURE_DIST = 8.0  # L2 distance between orthonormal low-frequency DCT vectors, plus
_FEATURE_REL = 0.3  # this fraction of the block's AC energy
_QUANT = 8.0  # quantisation step of the sort keys (orthonormal DCT: 8 = one grey level of DC)
_SORT_WINDOW = 12  # rows compared after each block in the sorted list
_DCT_TERMS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
_MIN_BLOCK_OFFSET = 2 * _BLOCK
_MIN_BLOCK_VOTES = 30

# Verification (at the working resolution, grey levels 0-255).
_PRE_SIGMA = 1.0  # smoothing before comparison: tolerates resampling and JPEG noise
_RES_SIGMA = 2.5  # window over which the absolute residual is averaged
_RES_MAX = 3.5  # mean absolute residual below which a pixel agrees with its copy
_ROI_MARGIN = 0.05  # fraction of the long side around the supporting matches
_MIN_AREA = 0.0015  # fraction of the working picture: smaller agreements are noise
_MIN_MATCHES_INSIDE = 0.5  # share of supporting matches that must fall in the agreeing area
_DUPLICATE_IOU = 0.5
_FINE_SIGMA = 1.0  # detail = luma minus this blur: the noise and grain a copy carries along
_MIN_FINE_CORR = 0.3
_MAX_CANDIDATES = 12  # verified per picture, strongest first: bounds the time
_REFINE_HALF = 24  # half-size of the template that refines a block shift
_NUDGE = 3  # pixels by which a found transform is perturbed to test that it is specific
_NUDGE_RATIO = 2.0  # the perturbed residual must be this many times larger ...
_NUDGE_GAIN = 2.0  # ... and this many grey levels larger

NOTE_FOUND = (
    "Evidence of copied areas: parts of the picture appear duplicated elsewhere in the same "
    "picture. The map marks both the copy and the area it matches."
)
NOTE_NONE = "No evidence of copied areas: no part of the picture was found duplicated within it."
NOTE_TOO_SMALL = "The picture is too small to look for copied areas."
NOTE_NO_DETAIL = "The picture has too little detail to look for copied areas."


@dataclass
class _Candidate:
    """One proposed transform, source -> target, in working-resolution pixels."""

    matrix: F64  # 2x3
    src: F64  # supporting points, N x 2
    dst: F64
    branch: str


@dataclass
class _Pair:
    candidate: _Candidate
    source: Mask
    target: Mask
    support: int


def analyse_copy_move(picture: Picture) -> Finding:
    """Look for areas of the picture copied elsewhere in the same picture.

    Returns a Finding whose score grows with the number of supporting matches and the copied
    area (0 when nothing is found, None when the picture is too small or has no detail), whose
    map marks both copies of each duplicated pair, and whose details["pairs"] lists each pair
    with its source and target boxes in full-resolution stored pixels.
    """
    pixels = np.asarray(picture.pixels)
    if pixels.ndim < 2 or min(pixels.shape[0], pixels.shape[1]) < MIN_SIDE:
        return Finding(score=None, notes=(NOTE_TOO_SMALL,), codes=("copy_move_too_small",))
    luma, factor = _working_luma(pixels)
    height, width = luma.shape

    kp_candidates, n_keypoints = _keypoint_candidates(luma)
    block_candidates, n_textured = _block_candidates(luma)
    if n_keypoints < 2 * _MIN_INLIERS and n_textured < _MIN_BLOCK_VOTES:
        return Finding(score=None, notes=(NOTE_NO_DETAIL,), codes=("copy_move_no_detail",))

    pairs = _verify(luma, kp_candidates + block_candidates)
    if not pairs:
        return Finding(
            score=0.0,
            notes=(NOTE_NONE,),
            codes=("copy_move_none",),
            map=np.zeros((height, width), np.float32),
            details={
                "pairs": [],
                "keypoints": n_keypoints,
                "candidates": len(kp_candidates) + len(block_candidates),
            },
        )

    union = np.zeros((height, width), bool)
    evidence = 0.0
    described: list[dict[str, object]] = []
    for pair in pairs:
        union |= pair.source | pair.target
        area = float(pair.target.mean())
        # Why this form: either many matches or a large verified area is strong evidence,
        # and the minimum accepted pair (8 matches, minimum area) lands near 0.5.
        evidence += pair.support / (2 * _MIN_INLIERS) + math.sqrt(area / _MIN_AREA) / 2
        described.append(_describe(pair, factor))
    score = float(1.0 - math.exp(-0.7 * evidence))
    smooth = cv2.GaussianBlur(union.astype(np.float32), (0, 0), 1.0)
    return Finding(
        score=round(min(1.0, max(0.0, score)), 4),
        notes=(NOTE_FOUND,),
        codes=("copy_move_found",),
        map=np.clip(np.maximum(smooth, union.astype(np.float32)), 0.0, 1.0).astype(np.float32),
        evidence_of=None,
        details={"pairs": described, "keypoints": n_keypoints},
    )


def _working_luma(pixels: npt.NDArray[np.uint8]) -> tuple[F32, float]:
    """Luma at the working resolution, and the full-resolution / working scale factor."""
    arr = np.ascontiguousarray(pixels)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        grey = cv2.cvtColor(arr[:, :, :3], cv2.COLOR_RGB2GRAY)
    elif arr.ndim == 3:
        grey = arr[:, :, 0].copy()
    else:
        grey = arr
    long_side = max(grey.shape)
    factor = max(1.0, long_side / _WORK_SIDE)
    if factor > 1.0:
        size = (max(1, round(grey.shape[1] / factor)), max(1, round(grey.shape[0] / factor)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32), factor


# --- keypoint branch -------------------------------------------------------------------------


def _keypoint_candidates(luma: F32) -> tuple[list[_Candidate], int]:
    long_side = max(luma.shape)
    sift = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=_MAX_KEYPOINTS, contrastThreshold=_SIFT_CONTRAST
    )
    keypoints, descriptors = sift.detectAndCompute(luma.astype(np.uint8), None)
    n = len(keypoints)
    if descriptors is None or n < 2 * _MIN_INLIERS:
        return [], n
    pts = np.array([k.pt for k in keypoints], dtype=np.float64)
    k = min(_G2NN_K + 1, n)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(descriptors, descriptors, k=k)
    idx = np.full((n, k), -1, np.int64)
    dist = np.full((n, k), np.inf)
    for i, row in enumerate(knn):
        for j, m in enumerate(row):
            idx[i, j] = m.trainIdx
            dist[i, j] = m.distance
    # Neighbours at (almost) the same place are the keypoint itself or a second orientation of
    # it: they are neither matches nor a fair denominator for the ratio test.
    min_dist = _MIN_PAIR_DIST * long_side
    safe = np.where(idx >= 0, idx, 0)
    near = np.linalg.norm(pts[safe] - pts[:, None, :], axis=2) < min_dist
    dist = np.where(near | (idx < 0), np.inf, dist)
    order = np.argsort(dist, axis=1, kind="stable")
    dist = np.take_along_axis(dist, order, 1)
    idx = np.take_along_axis(idx, order, 1)
    # g2NN: accept neighbours 1..j while each distance is well below the next one.
    num, den = dist[:, :-1], dist[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(den > 0, num / den, 0.0)
    ok = np.isfinite(num) & (ratio < _G2NN_RATIO)
    accept = np.cumprod(ok, axis=1).astype(bool)
    rows, cols = np.nonzero(accept)
    if rows.size < _MIN_INLIERS:
        return [], n
    a, b = rows, idx[rows, cols]
    # Keep each unordered pair once, in both orientations: a copy's transform and its inverse
    # are both tried, and verification keeps whichever (or both) explain the pixels.
    key = np.minimum(a, b) * n + np.maximum(a, b)
    _, first = np.unique(key, return_index=True)
    a, b = a[first], b[first]
    src = np.concatenate([pts[a], pts[b]])
    dst = np.concatenate([pts[b], pts[a]])
    return _cluster_and_fit(src, dst, long_side), n


def _cluster_and_fit(src: F64, dst: F64, long_side: int) -> list[_Candidate]:
    """Group matches whose two ends both lie close together, and fit a transform per group."""
    radius = _CLUSTER_RADIUS * long_side
    coords = np.hstack([src, dst])
    tree = cKDTree(coords)
    links = tree.query_pairs(radius, p=np.inf, output_type="ndarray")
    n = len(coords)
    graph = coo_matrix(
        (np.ones(len(links)), (links[:, 0], links[:, 1])) if len(links) else ([], ([], [])),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    candidates: list[_Candidate] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        # Several copies can share a cluster; peel off one transform at a time.
        for _ in range(3):
            if len(members) < _MIN_INLIERS:
                break
            fit = _fit_similarity(src[members], dst[members])
            if fit is None:
                break
            matrix, inliers = fit
            if inliers.sum() < _MIN_INLIERS:
                break
            chosen = members[inliers]
            if _plausible(matrix, src[chosen], dst[chosen], long_side):
                candidates.append(_Candidate(matrix, src[chosen], dst[chosen], "keypoints"))
            members = members[~inliers]
    return candidates


def _fit_similarity(src: F64, dst: F64) -> tuple[F64, Mask] | None:
    matrix, inliers = cv2.estimateAffinePartial2D(
        src.astype(np.float32),
        dst.astype(np.float32),
        method=cv2.RANSAC,
        ransacReprojThreshold=_RANSAC_PX,
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    if matrix is None or inliers is None:
        return None
    return matrix.astype(np.float64), inliers.ravel().astype(bool)


def _plausible(matrix: F64, src: F64, dst: F64, long_side: int) -> bool:
    """Reject transforms no copy-paste makes, and point sets too tight to define one."""
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if not _SCALE_RANGE[0] <= scale <= _SCALE_RANGE[1]:
        return False
    shift = np.median(np.linalg.norm(dst - src, axis=1))
    if shift < 2 * _MIN_PAIR_DIST * long_side:
        return False
    # Matches piled on one spot (one corner matched many times) do not pin down an area.
    spread = np.ptp(src, axis=0)
    return bool(spread.max() >= 0.02 * long_side and spread.min() >= 0.005 * long_side)


# --- dense block branch ----------------------------------------------------------------------


def _dct_basis(size: int, k: int) -> F32:
    n = np.arange(size)
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    basis *= math.sqrt((1 if k == 0 else 2) / size)
    return basis.astype(np.float32)


def _block_candidates(luma: F32) -> tuple[list[_Candidate], int]:
    small = cv2.resize(
        luma,
        (max(1, luma.shape[1] // _DENSE_FACTOR), max(1, luma.shape[0] // _DENSE_FACTOR)),
        interpolation=cv2.INTER_AREA,
    )
    h, w = small.shape
    if min(h, w) < 4 * _BLOCK:
        return [], 0
    anchor = (0, 0)  # the filter response at (y, x) describes the block whose corner is there
    mean = cv2.boxFilter(small, cv2.CV_32F, (_BLOCK, _BLOCK), anchor=anchor)
    mean_sq = cv2.boxFilter(small * small, cv2.CV_32F, (_BLOCK, _BLOCK), anchor=anchor)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    ys = np.arange(0, h - _BLOCK + 1)
    xs = np.arange(0, w - _BLOCK + 1)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    textured = std[gy, gx] >= _FLAT_STD
    n_textured = int(textured.sum())
    if n_textured < _MIN_BLOCK_VOTES:
        return [], n_textured
    by, bx = gy[textured], gx[textured]
    feats = []
    for ky, kx in _DCT_TERMS:
        resp = cv2.sepFilter2D(
            small, cv2.CV_32F, _dct_basis(_BLOCK, kx), _dct_basis(_BLOCK, ky), anchor=anchor
        )
        feats.append(resp[by, bx])
    features = np.stack(feats, axis=1)
    # Fridrich et al.'s lexicographic sort: blocks with equal quantised features end up next
    # to each other, so comparing each block with the next few rows finds its twins in
    # O(n log n). Every position is a block (stride 1), so any shift is representable.
    keys = np.floor(features[:, :3] / _QUANT).astype(np.int32)
    # Ties within a bin are broken by the exact values, so identical twins sit side by side
    # rather than in raster order (a flat-ish bin can hold hundreds of blocks).
    # Three coarse keys and two exact ones are enough to order the list; more cost time.
    order = np.lexsort((features[:, 1], features[:, 0], keys[:, 2], keys[:, 1], keys[:, 0]))
    # Each block keeps its best far-enough partner in the window. The tolerance grows with the
    # block's contrast: resampling at the dense scale shifts a copy by a fraction of a pixel,
    # which changes textured blocks more than smooth ones.
    tolerance = _FEATURE_DIST + _FEATURE_REL * np.linalg.norm(features[:, 1:], axis=1)
    n_blocks = len(order)
    best = np.full(n_blocks, np.inf, np.float32)
    partner = np.full(n_blocks, -1, np.intp)
    for step in range(1, _SORT_WINDOW + 1):
        i, j = order[:-step], order[step:]
        diff = features[i] - features[j]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        ok = (np.hypot(bx[i] - bx[j], by[i] - by[j]) >= _MIN_BLOCK_OFFSET) & (dist < best[i])
        best[i[ok]] = dist[ok]
        partner[i[ok]] = j[ok]
    a = np.flatnonzero((partner >= 0) & (best < tolerance))
    b = partner[a]
    dx = bx[b] - bx[a]
    dy = by[b] - by[a]
    # One orientation per shift (the inverse is the same copy).
    flip = (dx < 0) | ((dx == 0) & (dy < 0))
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    dx = bx[b] - bx[a]
    dy = by[b] - by[a]
    if a.size < _MIN_BLOCK_VOTES:
        return [], n_textured
    # Vote in a shift histogram; neighbouring shifts pool their votes (resampling jitter).
    flat_index = (dy + h) * (w + 1) + dx
    hist = np.bincount(flat_index, minlength=(2 * h + 1) * (w + 1)).astype(np.float32)
    hist = hist.reshape(2 * h + 1, w + 1)
    pooled = cv2.boxFilter(hist, cv2.CV_32F, (3, 3), normalize=False)
    peaks = (pooled >= _MIN_BLOCK_VOTES) & (pooled == ndimage.maximum_filter(pooled, size=5))
    factor = luma.shape[1] / w
    candidates: list[_Candidate] = []
    for py, px in zip(*np.nonzero(peaks), strict=True):
        sy, sx = int(py) - h, int(px)
        sel = (np.abs(dy - sy) <= 1) & (np.abs(dx - sx) <= 1)
        if sel.sum() < _MIN_BLOCK_VOTES:
            continue
        centre = _BLOCK / 2
        src = np.stack([bx[a[sel]] + centre, by[a[sel]] + centre], axis=1) * factor
        dst = np.stack([bx[b[sel]] + centre, by[b[sel]] + centre], axis=1) * factor
        shift = np.median(dst - src, axis=0)
        matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
        candidates.append(_Candidate(matrix, src.astype(np.float64), dst, "blocks"))
    candidates.sort(key=lambda c: -len(c.src))
    return candidates[:8], n_textured


# --- verification ----------------------------------------------------------------------------


def _verify(luma: F32, candidates: list[_Candidate]) -> list[_Pair]:
    """Keep candidates whose transform explains the pixels around their matches."""
    if not candidates:
        return []
    h, w = luma.shape
    long_side = max(h, w)
    smooth = np.asarray(cv2.GaussianBlur(luma, (0, 0), _PRE_SIGMA), np.float32)
    margin = max(3, round(_ROI_MARGIN * long_side))
    min_area = _MIN_AREA * h * w
    accepted: list[_Pair] = []
    for cand in sorted(candidates, key=lambda c: -len(c.src))[:_MAX_CANDIDATES]:
        if cand.branch == "blocks":
            cand.matrix = _refine_shift(smooth, cand, _DENSE_FACTOR + 1)
        # Everything happens in a crop around the supporting matches: the copy can only be
        # there, and cropping keeps the cost independent of the picture's size.
        x0, y0 = np.maximum(np.floor(cand.dst.min(axis=0)).astype(int) - margin, 0)
        x1, y1 = np.ceil(cand.dst.max(axis=0)).astype(int) + margin + 1
        x1, y1 = min(int(x1), w), min(int(y1), h)
        crop = _warp_crop(smooth, cand.matrix, (int(x0), int(y0), x1, y1))
        target_crop = _agreement(smooth[y0:y1, x0:x1], crop, cand.dst - (x0, y0), margin)
        if target_crop is None or target_crop.sum() < min_area:
            continue
        target = np.zeros((h, w), bool)
        target[y0:y1, x0:x1] = target_crop
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
        if float(np.mean(target[py, px])) < _MIN_MATCHES_INSIDE:
            continue
        if not _distinctive(smooth, cand.matrix, target, (int(x0), int(y0), x1, y1)):
            continue
        if (
            _fine_correlation(luma, cand.matrix, target, (int(x0), int(y0), x1, y1))
            < _MIN_FINE_CORR
        ):
            continue
        if any(_same_pair(target, source, p) for p in accepted):
            continue
        accepted.append(_Pair(cand, source, target, len(cand.src)))
    return accepted


def _warp_crop(smooth: F32, matrix: F64, box: tuple[int, int, int, int]) -> F32:
    """The picture warped by `matrix`, only inside box (x0, y0, x1, y1); NaN where undefined."""
    x0, y0, x1, y1 = box
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    out = cv2.warpAffine(
        smooth,
        shifted,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )
    return np.asarray(out, np.float32)


def _agreement(original: F32, warped: F32, points: F64, margin: int) -> Mask | None:
    """Pixels near the matches where the warped copy agrees with the picture."""
    valid = np.isfinite(warped)
    residual = np.where(valid, np.abs(original - np.nan_to_num(warped)), 255.0)
    residual = cv2.GaussianBlur(residual.astype(np.float32), (0, 0), _RES_SIGMA)
    hull_mask = np.ones(original.shape, np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(hull_mask, hull, 0)
    near = cv2.distanceTransform(hull_mask, cv2.DIST_L2, 3) <= margin
    agree = ((residual < _RES_MAX) & near & valid).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    agree = np.asarray(cv2.morphologyEx(agree, cv2.MORPH_OPEN, kernel), np.uint8)
    agree = np.asarray(cv2.morphologyEx(agree, cv2.MORPH_CLOSE, kernel), np.uint8)
    n_lab, labels = cv2.connectedComponents(agree, connectivity=8)
    if n_lab <= 1:
        return None
    # Keep the agreeing components that hold supporting matches: agreement elsewhere (a flat
    # patch next to the copy matching another flat patch) is not tied to the copy.
    ph, pw = original.shape
    px = np.clip(np.round(points[:, 0]).astype(int), 0, pw - 1)
    py = np.clip(np.round(points[:, 1]).astype(int), 0, ph - 1)
    hit = labels[py, px]
    keep = np.unique(hit[hit > 0])
    if keep.size == 0:
        return None
    return np.isin(labels, keep)


def _distinctive(smooth: F32, matrix: F64, target: Mask, box: tuple[int, int, int, int]) -> bool:
    """True when the agreement is specific to this transform, not to any nearby one.

    A copy matches its source at one transform only; a gradient, a flat wall or a stripe
    matches itself along a whole line of shifts. Nudging the transform by a few pixels must
    therefore make the residual clearly worse, in every direction.
    """
    x0, y0, x1, y1 = box
    region = target[y0:y1, x0:x1]
    original = smooth[y0:y1, x0:x1]

    def residual(m: F64) -> float:
        warped = _warp_crop(smooth, m, box)[region]
        diff = np.abs(original[region] - warped)
        return float(np.mean(np.where(np.isfinite(diff), np.minimum(diff, 255.0), 255.0)))

    base = residual(matrix)
    for ox, oy in ((_NUDGE, 0), (-_NUDGE, 0), (0, _NUDGE), (0, -_NUDGE)):
        nudged = matrix.copy()
        nudged[:, 2] += (ox, oy)
        if residual(nudged) < max(_NUDGE_RATIO * base, base + _NUDGE_GAIN):
            return False
    return True


def _fine_correlation(
    luma: F32, matrix: F64, target: Mask, box: tuple[int, int, int, int]
) -> float:
    """Correlation of the fine detail (noise, grain) between the copy and its source.

    A pasted copy carries its source's noise with it; two photographed instances of the same
    thing (repeated letters on a screen, identical packages) share their shape but not their
    noise. This tells the two apart where the smoothed comparison cannot.
    """
    x0, y0, x1, y1 = box
    detail = luma - cv2.GaussianBlur(luma, (0, 0), _FINE_SIGMA)
    region = target[y0:y1, x0:x1]
    warped = _warp_crop(detail, matrix, box)[region]
    here = detail[y0:y1, x0:x1][region]
    ok = np.isfinite(warped)
    if ok.sum() < 16:
        return 0.0
    a, b = here[ok] - here[ok].mean(), warped[ok] - warped[ok].mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def _refine_shift(smooth: F32, cand: _Candidate, radius: int) -> F64:
    """Best integer shift near a block vote: votes are only as precise as the dense grid."""
    h, w = smooth.shape
    cx, cy = np.median(cand.dst, axis=0)
    half = _REFINE_HALF
    x0, y0 = max(round(cx) - half, 0), max(round(cy) - half, 0)
    x1, y1 = min(round(cx) + half, w), min(round(cy) + half, h)
    tx, ty = (round(float(v)) for v in cand.matrix[:, 2])
    sx0, sy0 = x0 - tx - radius, y0 - ty - radius
    sx1, sy1 = x1 - tx + radius, y1 - ty + radius
    if x1 - x0 < 8 or y1 - y0 < 8 or sx0 < 0 or sy0 < 0 or sx1 > w or sy1 > h:
        return cand.matrix
    scores = cv2.matchTemplate(smooth[sy0:sy1, sx0:sx1], smooth[y0:y1, x0:x1], cv2.TM_SQDIFF)
    _, _, (bx, by), _ = cv2.minMaxLoc(scores)
    # Template found at (sx0 + bx, sy0 + by) in the source: the shift is the difference.
    dx, dy = x0 - (sx0 + bx), y0 - (sy0 + by)
    return np.array([[1.0, 0.0, float(dx)], [0.0, 1.0, float(dy)]])


def _iou(a: Mask, b: Mask) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _same_pair(target: Mask, source: Mask, other: _Pair) -> bool:
    straight = min(_iou(target, other.target), _iou(source, other.source))
    swapped = min(_iou(target, other.source), _iou(source, other.target))
    return max(straight, swapped) >= _DUPLICATE_IOU


def _box(mask: Mask, factor: float) -> list[int]:
    ys, xs = np.nonzero(mask)
    x0, y0 = float(xs.min()), float(ys.min())
    x1, y1 = float(xs.max() + 1), float(ys.max() + 1)
    return [
        round(x0 * factor),
        round(y0 * factor),
        round((x1 - x0) * factor),
        round((y1 - y0) * factor),
    ]


def _describe(pair: _Pair, factor: float) -> dict[str, object]:
    """A pair in full-resolution stored pixels. dx, dy: shift of the source's centroid."""
    m = pair.candidate.matrix
    sy, sx = np.nonzero(pair.source)
    ty, tx = np.nonzero(pair.target)
    return {
        "source_box": _box(pair.source, factor),
        "target_box": _box(pair.target, factor),
        "dx": round(float(tx.mean() - sx.mean()) * factor, 1),
        "dy": round(float(ty.mean() - sy.mean()) * factor, 1),
        "scale": round(math.hypot(m[0, 0], m[1, 0]), 3),
        "rotation": round(math.degrees(math.atan2(m[1, 0], m[0, 0])), 1),
        "matches": pair.support,
        "branch": pair.candidate.branch,
    }
