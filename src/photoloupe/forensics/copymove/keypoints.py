"""Keypoint candidates (after Amerini et al., IEEE TIFS 2011): SIFT, g2NN matching, clustering
by both ends, and a similarity transform fitted per cluster with RANSAC."""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from photoloupe.forensics.copymove.candidate import F32, F64, Candidate, Mask
from photoloupe.forensics.copymove.params import KEYPOINTS


def keypoint_candidates(luma: F32) -> tuple[list[Candidate], int]:
    long_side = max(luma.shape)
    sift = cv2.SIFT_create(  # type: ignore[attr-defined]
        nfeatures=KEYPOINTS.max_keypoints, contrastThreshold=KEYPOINTS.sift_contrast
    )
    keypoints, descriptors = sift.detectAndCompute(np.round(luma).astype(np.uint8), None)
    n = len(keypoints)
    if descriptors is None or n < 2 * KEYPOINTS.min_inliers:
        return [], n
    pts = np.array([k.pt for k in keypoints], dtype=np.float64)
    k = min(KEYPOINTS.g2nn_k + 1, n)
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
    min_dist = KEYPOINTS.min_pair_dist * long_side
    near = np.linalg.norm(pts[idx] - pts[:, None, :], axis=2) < min_dist
    dist = np.where(near, np.inf, dist)
    order = np.argsort(dist, axis=1, kind="stable")
    dist = np.take_along_axis(dist, order, 1)
    idx = np.take_along_axis(idx, order, 1)
    # g2NN: accept neighbours 1..j while each distance is well below the next one.
    num, den = dist[:, :-1], dist[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(den > 0, num / den, 0.0)
    ok = np.isfinite(num) & (ratio < KEYPOINTS.g2nn_ratio)
    accept = np.cumprod(ok, axis=1).astype(bool)
    rows, cols = np.nonzero(accept)
    if rows.size < KEYPOINTS.min_inliers:
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


def _cluster_and_fit(src: F64, dst: F64, long_side: int) -> list[Candidate]:
    """Group matches whose two ends both lie close together, and fit a transform per group."""
    radius = KEYPOINTS.cluster_radius * long_side
    coords = np.hstack([src, dst])
    tree = cKDTree(coords)
    links = tree.query_pairs(radius, p=np.inf, output_type="ndarray")
    n = len(coords)
    graph = coo_matrix(
        (np.ones(len(links)), (links[:, 0], links[:, 1])) if len(links) else ([], ([], [])),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    candidates: list[Candidate] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        # Several copies can share a cluster; peel off one transform at a time.
        for _ in range(3):
            if len(members) < KEYPOINTS.min_inliers:
                break
            fit = _fit_similarity(src[members], dst[members])
            if fit is None:
                break
            matrix, inliers = fit
            if inliers.sum() < KEYPOINTS.min_inliers:
                break
            chosen = members[inliers]
            if _plausible(matrix, src[chosen], dst[chosen], long_side):
                candidates.append(Candidate(matrix, src[chosen], dst[chosen], "keypoints"))
            members = members[~inliers]
    return candidates


def _fit_similarity(src: F64, dst: F64) -> tuple[F64, Mask] | None:
    matrix, inliers = cv2.estimateAffinePartial2D(
        src.astype(np.float32),
        dst.astype(np.float32),
        method=cv2.RANSAC,
        ransacReprojThreshold=KEYPOINTS.ransac_px,
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
    if not KEYPOINTS.scale_range[0] <= scale <= KEYPOINTS.scale_range[1]:
        return False
    shift = np.median(np.linalg.norm(dst - src, axis=1))
    if shift < 2 * KEYPOINTS.min_pair_dist * long_side:
        return False
    # Matches piled on one spot (one corner matched many times) do not pin down an area.
    spread = np.ptp(src, axis=0)
    return bool(spread.max() >= 0.02 * long_side and spread.min() >= 0.005 * long_side)


# --- dense block branch ----------------------------------------------------------------------
