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

Detection runs on a small copy (640 px) and only proposes; verification runs at up to 1280 px,
refines each shift to a fraction of a pixel, checks patches at the supporting points first,
and grows the agreeing area from the matches (flat pixels join only with shared noise).

Limitations: mirrored copies are not modelled (the transform has no reflection); copies that
were blurred, recoloured or recompressed after pasting usually fail the strict noise
correlation (chosen to keep similar natural objects out); copies smaller than about 2% of the
picture's long side are below the working resolution.
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

from photoloupe._imaging import deterministic_rng
from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.io import Picture

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Box = tuple[int, int, int, int]

MIN_SIDE = 48  # smaller pictures hold too few structures to compare

# Resolutions. Detection only has to propose transforms, so it runs small: SIFT doubles its
# input internally, so 640 px costs like ~1300 px. Verification decides, and a copy's shared
# noise is its strongest signature, so it runs as close to the stored pixels as time allows.
_DETECT_SIDE = 640
_VERIFY_SIDE = 1280
_DENSE_FACTOR = 3  # dense blocks run at 1/3 of the detection resolution

# Keypoint branch.
_MAX_KEYPOINTS = 1500  # the strongest; a copy's keypoints are as strong as its source's
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
_MAX_BLOCK_PEAKS = 16  # shift peaks passed on; the cheap point check sorts out the rest

# Verification (at the verification resolution, grey levels 0-255).
_PRE_SIGMA = 1.0  # smoothing before comparison: tolerates resampling and JPEG noise
_RES_SIGMA = 2.5  # window over which the absolute residual is averaged
_RES_MAX = 3.5  # mean absolute residual below which a pixel agrees with its copy
_FINE_SIGMA = 1.0  # detail = luma minus this blur: the noise and grain a copy carries along
_LOCAL_SIGMA = 3.0  # window of the per-pixel detail correlation and texture measure
_LOCAL_CORR = 0.6  # per-pixel detail correlation that lets a flat pixel agree
_TEXTURE = 1.5  # mean |band-pass| (grey levels) above which a pixel has structure of its own
_GROW_MARGIN = 0.3  # fraction of the long side the agreeing area may grow beyond the matches
_MIN_AREA = 0.0015  # fraction of the picture: smaller agreements are noise
_MIN_MATCHES_INSIDE = 0.5  # share of supporting matches that must fall in the agreeing area
_DUPLICATE_IOU = 0.5
# Textured pixels of a pasted copy correlate at ~0.99; two similar natural edges (parallel
# railings) reach 0.8, so the gate sits above that, at the cost of re-saved or blurred copies.
_MIN_FINE_CORR = 0.85
_MIN_FINE_CORR_RESAMPLED = 0.5
_REFINE_MIN_PEAK = 0.3  # detail correlation below which the refinement uses the residual
_PATCH = 6  # half-size of the patches compared at the supporting points
_MAX_PATCHES = 64
_MIN_PATCH_AGREE = 0.4  # share of supporting points whose patches agree ...
_MIN_PATCH_CORR = 0.15  # ... and pooled detail correlation, before the dense check
_MAX_CANDIDATES = 24  # point-checked per picture, strongest first: bounds the time
_REFINE_HALF = 20  # half-size of the template that refines a transform's shift
_NUDGE = 3  # pixels by which a found transform is perturbed to test that it is specific
_NUDGE_RATIO = 2.0  # the perturbed residual must be this many times larger ...
_NUDGE_GAIN = 2.0  # ... and this many grey levels larger
_NUDGE_CORR = 0.5  # or the detail correlation must fall below this share of the found one
_FLAT_MIN_CORR = 0.85  # ... when the found one is at least this (flat copies: noise only)
_CLIP_LOW, _CLIP_HIGH = 4.0, 251.0
_MIN_TEXTURED = 200  # textured pixels needed to measure the detail correlation on them

NOTE_FOUND = (
    "Evidence of copied areas: parts of the picture appear duplicated elsewhere in the same "
    "picture. The map marks both the copy and the area it matches."
)
NOTE_NONE = "No evidence of copied areas: no part of the picture was found duplicated within it."
NOTE_TOO_SMALL = "The picture is too small to look for copied areas."
NOTE_NO_DETAIL = "The picture has too little detail to look for copied areas."


@dataclass
class _Candidate:
    """One proposed transform, source -> target; points N x 2 in the same pixels."""

    matrix: F64  # 2x3
    src: F64
    dst: F64
    branch: str


@dataclass
class _Pair:
    candidate: _Candidate
    source: Mask
    target: Mask
    support: int


@dataclass
class _Views:
    """The verification-resolution luma and the two derived pictures every check reads."""

    luma: F32
    smooth: F32  # luma after light smoothing: what the residual compares
    detail: F32  # luma minus a blur: noise and grain
    textured: Mask  # pixels with structure of their own at a few pixels' scale
    usable: Mask  # pixels neither blown out nor crushed


def analyse_copy_move(source: Context | Picture) -> Finding:
    """Look for areas of the picture copied elsewhere in the same picture.

    Returns a Finding whose score grows with the number of supporting matches and the copied
    area (0 when nothing is found, None when the picture is too small or has no detail), whose
    map marks both copies of each duplicated pair, and whose details["pairs"] lists each pair
    with its source and target boxes in full-resolution stored pixels.
    """
    context = Context.of(source)
    picture = context.picture
    pixels = np.asarray(picture.pixels)
    if pixels.ndim < 2 or min(pixels.shape[0], pixels.shape[1]) < MIN_SIDE:
        return Finding(score=None, notes=(NOTE_TOO_SMALL,), codes=("copy_move_too_small",))
    deterministic_rng()
    grey = context.grey if pixels.ndim == 3 and pixels.shape[2] == 3 else _grey(pixels)
    verify_luma, factor = _resized(grey, _VERIFY_SIDE)
    detect_luma, detect_factor = _resized(verify_luma, _DETECT_SIDE)
    height, width = verify_luma.shape

    kp_candidates, n_keypoints = _keypoint_candidates(detect_luma)
    block_candidates, n_textured = _block_candidates(detect_luma)
    if n_keypoints < 2 * _MIN_INLIERS and n_textured < _MIN_BLOCK_VOTES:
        return Finding(score=None, notes=(NOTE_NO_DETAIL,), codes=("copy_move_no_detail",))

    candidates = [_rescaled(c, detect_factor) for c in kp_candidates + block_candidates]
    pairs = _verify(verify_luma, candidates) if candidates else []
    if not pairs:
        return Finding(
            score=0.0,
            notes=(NOTE_NONE,),
            codes=("copy_move_none",),
            map=np.zeros((height, width), np.float32),
            details={"pairs": [], "keypoints": n_keypoints, "candidates": len(candidates)},
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


def _grey(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    arr = np.ascontiguousarray(pixels)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        return np.asarray(cv2.cvtColor(arr[:, :, :3], cv2.COLOR_RGB2GRAY), np.uint8)
    if arr.ndim == 3:
        return np.ascontiguousarray(arr[:, :, 0])
    return arr


def _resized(grey: npt.NDArray[np.uint8] | F32, side: int) -> tuple[F32, float]:
    """The picture with its long side at most `side`, and the input / output scale factor."""
    factor = max(1.0, max(grey.shape) / side)
    if factor > 1.0:
        size = (max(1, round(grey.shape[1] / factor)), max(1, round(grey.shape[0] / factor)))
        return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.float32), factor
    return np.asarray(grey, np.float32), factor


def _rescaled(cand: _Candidate, factor: float) -> _Candidate:
    """A detection-resolution candidate in verification pixels (the shift is refined later)."""
    if factor == 1.0:
        return cand
    matrix = cand.matrix.copy()
    matrix[:, 2] *= factor
    return _Candidate(matrix, cand.src * factor, cand.dst * factor, cand.branch)


# --- keypoint branch -------------------------------------------------------------------------


def _keypoint_candidates(luma: F32) -> tuple[list[_Candidate], int]:
    long_side = max(luma.shape)
    sift = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=_MAX_KEYPOINTS, contrastThreshold=_SIFT_CONTRAST
    )
    keypoints, descriptors = sift.detectAndCompute(np.round(luma).astype(np.uint8), None)
    n = len(keypoints)
    if descriptors is None or n < 2 * _MIN_INLIERS:
        return [], n
    pts = np.array([k.pt for k in keypoints], dtype=np.float64)
    k = min(_G2NN_K + 1, n)
    # All squared descriptor distances at once: one BLAS product is several times faster than
    # OpenCV's brute-force matcher, and the k nearest are then a partial sort per row.
    desc = np.asarray(descriptors, np.float32)
    sq = np.einsum("ij,ij->i", desc, desc)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (desc @ desc.T)
    part = np.argpartition(d2, k - 1, axis=1)[:, :k]
    dist = np.sqrt(np.maximum(np.take_along_axis(d2, part, 1), 0.0)).astype(np.float64)
    idx = part.astype(np.int64)
    # Neighbours at (almost) the same place are the keypoint itself or a second orientation of
    # it: they are neither matches nor a fair denominator for the ratio test.
    min_dist = _MIN_PAIR_DIST * long_side
    near = np.linalg.norm(pts[idx] - pts[:, None, :], axis=2) < min_dist
    dist = np.where(near, np.inf, dist)
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
    return candidates[:_MAX_BLOCK_PEAKS], n_textured


# --- verification ----------------------------------------------------------------------------


def _verify(luma: F32, candidates: list[_Candidate]) -> list[_Pair]:
    """Keep candidates whose transform explains the pixels around their matches."""
    h, w = luma.shape
    smooth = np.asarray(cv2.GaussianBlur(luma, (0, 0), _PRE_SIGMA), np.float32)
    detail = luma - np.asarray(cv2.GaussianBlur(luma, (0, 0), _FINE_SIGMA), np.float32)
    # Band-pass energy: structure at a few pixels' scale; a ramp or gradient has none.
    band = np.abs(smooth - np.asarray(cv2.GaussianBlur(smooth, (0, 0), _LOCAL_SIGMA), np.float32))
    textured = np.asarray(cv2.GaussianBlur(band, (0, 0), _LOCAL_SIGMA), np.float32) > _TEXTURE
    # Clipped pixels (blown highlights, crushed shadows) carry no noise and match any other
    # clipped area, so they neither count as structure nor as shared noise.
    extreme = ((luma < _CLIP_LOW) | (luma > _CLIP_HIGH)).astype(np.uint8)
    clipped = np.asarray(cv2.dilate(extreme, np.ones((3, 3), np.uint8)), np.uint8) > 0
    views = _Views(luma, smooth, detail, textured & ~clipped, ~clipped)
    grow = max(8, round(_GROW_MARGIN * max(h, w)))
    min_area = _MIN_AREA * h * w
    accepted: list[_Pair] = []
    for cand in sorted(candidates, key=lambda c: -len(c.src))[:_MAX_CANDIDATES]:
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
        if float(np.mean(target[py, px])) < _MIN_MATCHES_INSIDE:
            continue
        tbox = _bounds(target)
        # The flat part of the area was admitted for its correlated noise, so measuring the
        # correlation there would be circular: the textured part, admitted by the residual
        # alone, is the fair test. A copy with almost no texture must show near-identical noise.
        textured = target & views.textured
        if textured.sum() >= _MIN_TEXTURED:
            corr = _fine_correlation(views.detail, cand.matrix, textured, tbox)
            # A rotated or rescaled copy was interpolated by the editor and again by the
            # warp, which smooths its noise: it cannot reach a plain copy's correlation.
            resampled = bool(np.abs(cand.matrix[:, :2] - np.eye(2)).max() > 0.02)
            floor = _MIN_FINE_CORR_RESAMPLED if resampled else _MIN_FINE_CORR
        else:
            corr = _fine_correlation(views.detail, cand.matrix, target, tbox)
            floor = _FLAT_MIN_CORR
        if corr < floor or not _distinctive(views, cand.matrix, target, tbox, corr):
            continue
        if any(_same_pair(target, source, p) for p in accepted):
            continue
        accepted.append(_Pair(cand, source, target, len(cand.src)))
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


def _refine_shift(views: _Views, cand: _Candidate) -> F64:
    """The transform with its shift refined to a fraction of a pixel.

    Block votes are only as precise as the dense grid, and both branches' transforms were
    fitted at the detection resolution. A copy's noise agrees with its source's only when the
    two are aligned to well under a pixel, so the residual shift is found by template matching
    and a parabola through the best score and its neighbours. The shared noise gives the
    sharpest peak; where there is too little of it (a blurred copy), the smoothed picture's
    squared difference decides.
    """
    h, w = views.smooth.shape
    half = _REFINE_HALF
    # The template must lie inside the copy: an edge of it that falls outside (a strong edge
    # next to a faint copy) would decide the match. The supporting point with the most others
    # around it is the one deepest inside.
    sample = cand.dst[:: max(1, len(cand.dst) // 256)]
    crowd = cKDTree(sample).query_ball_point(sample, r=half, p=np.inf, return_length=True)
    cx, cy = sample[int(np.argmax(crowd))]
    x0, y0 = max(round(cx) - half, 0), max(round(cy) - half, 0)
    x1, y1 = min(round(cx) + half, w), min(round(cy) + half, h)
    coarse = _DENSE_FACTOR if cand.branch == "blocks" else 1
    radius = 2 + math.ceil(max(h, w) / _DETECT_SIDE) * coarse
    if x1 - x0 < 16 or y1 - y0 < 16:
        return cand.matrix
    box = (x0 - radius, y0 - radius, x1 + radius, y1 + radius)
    search = _warp_crop(views.detail, cand.matrix, box)
    if not np.isfinite(search).all():
        return cand.matrix
    scores = cv2.matchTemplate(search, views.detail[y0:y1, x0:x1], cv2.TM_CCOEFF_NORMED)
    _, peak, _, (bx, by) = cv2.minMaxLoc(scores)
    if peak < _REFINE_MIN_PEAK:
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


def _points_agree(views: _Views, cand: _Candidate) -> bool:
    """Small patches at the supporting points: do they agree with their warped sources?"""
    h, w = views.smooth.shape
    step = max(1, len(cand.dst) // _MAX_PATCHES)
    centres = np.round(cand.dst[::step]).astype(np.int64)
    inside = (
        (centres[:, 0] >= _PATCH)
        & (centres[:, 1] >= _PATCH)
        & (centres[:, 0] < w - _PATCH)
        & (centres[:, 1] < h - _PATCH)
    )
    centres = centres[inside]
    if len(centres) < 4:
        return False
    offsets = np.arange(-_PATCH, _PATCH + 1)
    # Every patch pixel's own coordinates, and where the inverse transform sends it.
    qx = (centres[:, 0, None, None] + offsets[None, None, :]).astype(np.float32)
    qy = (centres[:, 1, None, None] + offsets[None, :, None]).astype(np.float32)
    qx, qy = np.broadcast_arrays(qx, qy)
    inv = cv2.invertAffineTransform(cand.matrix)
    sx = (inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2]).astype(np.float32)
    sy = (inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2]).astype(np.float32)
    flat = (len(centres) * (2 * _PATCH + 1), 2 * _PATCH + 1)
    sx, sy = sx.reshape(flat), sy.reshape(flat)
    tx, ty = np.ascontiguousarray(qx).reshape(flat), np.ascontiguousarray(qy).reshape(flat)

    def sample(image: F32, mx: F32, my: F32) -> F32:
        out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.asarray(out, np.float32).reshape(len(centres), -1)

    residual = np.abs(sample(views.smooth, tx, ty) - sample(views.smooth, sx, sy)).mean(axis=1)
    agree = residual < _RES_MAX
    if agree.mean() < _MIN_PATCH_AGREE:
        return False
    a = sample(views.detail, tx, ty)[agree].ravel()
    b = sample(views.detail, sx, sy)[agree].ravel()
    return _correlation(a, b) >= _MIN_PATCH_CORR


def _correlation(a: F32, b: F32) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(float((a * a).sum()) * float((b * b).sum())))
    return float((a * b).sum()) / denom if denom > 0 else 0.0


def _agreement(views: _Views, matrix: F64, box: Box, points: F64) -> Mask | None:
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
    residual = cv2.GaussianBlur(residual.astype(np.float32), (0, 0), _RES_SIGMA)
    here = views.detail[y0:y1, x0:x1]
    there = np.nan_to_num(_warp_crop(views.detail, matrix, box))

    def local(img: F32) -> F32:
        return np.asarray(cv2.GaussianBlur(img, (0, 0), _LOCAL_SIGMA), np.float32)

    # Per-pixel normalised correlation of the detail over a small window.
    corr = local(here * there) / np.sqrt(local(here * here) * local(there * there) + 1e-3)
    textured = views.textured[y0:y1, x0:x1]
    usable = views.usable[y0:y1, x0:x1]
    agree = (residual < _RES_MAX) & valid & (textured | ((corr > _LOCAL_CORR) & usable))
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


def _distinctive(views: _Views, matrix: F64, target: Mask, box: Box, corr: float) -> bool:
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

    nudges = ((_NUDGE, 0), (-_NUDGE, 0), (0, _NUDGE), (0, -_NUDGE))
    base = residual(matrix)
    shaped = True
    for ox, oy in nudges:
        nudged = matrix.copy()
        nudged[:, 2] += (ox, oy)
        if residual(nudged) < max(_NUDGE_RATIO * base, base + _NUDGE_GAIN):
            shaped = False
            break
    if shaped:
        return True
    if corr < _FLAT_MIN_CORR:
        return False
    for ox, oy in nudges:
        nudged = matrix.copy()
        nudged[:, 2] += (ox, oy)
        if _fine_correlation(views.detail, nudged, target, box) > _NUDGE_CORR * corr:
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
