"""Dense block candidates (after Fridrich et al., DFRWS 2003, and Cozzolino et al., IEEE TIFS
2015): low-frequency DCT descriptors of overlapping blocks, nearest neighbours, and voted
shifts."""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

from photoloupe.forensics.copymove.candidate import F32, Candidate
from photoloupe.forensics.copymove.params import BLOCKS, RESOLUTION


def _dct_basis(size: int, k: int) -> F32:
    n = np.arange(size)
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    basis *= math.sqrt((1 if k == 0 else 2) / size)
    return basis.astype(np.float32)


def block_candidates(luma: F32) -> tuple[list[Candidate], int]:
    small = cv2.resize(
        luma,
        (
            max(1, luma.shape[1] // RESOLUTION.dense_factor),
            max(1, luma.shape[0] // RESOLUTION.dense_factor),
        ),
        interpolation=cv2.INTER_AREA,
    )
    h, w = small.shape
    if min(h, w) < 4 * BLOCKS.block:
        return [], 0
    anchor = (0, 0)  # the filter response at (y, x) describes the block whose corner is there
    mean = cv2.boxFilter(small, cv2.CV_32F, (BLOCKS.block, BLOCKS.block), anchor=anchor)
    mean_sq = cv2.boxFilter(small * small, cv2.CV_32F, (BLOCKS.block, BLOCKS.block), anchor=anchor)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    ys = np.arange(0, h - BLOCKS.block + 1)
    xs = np.arange(0, w - BLOCKS.block + 1)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    textured = std[gy, gx] >= BLOCKS.flat_std
    n_textured = int(textured.sum())
    if n_textured < BLOCKS.min_votes:
        return [], n_textured
    by, bx = gy[textured], gx[textured]
    feats = []
    for ky, kx in BLOCKS.dct_terms:
        resp = cv2.sepFilter2D(
            small,
            cv2.CV_32F,
            _dct_basis(BLOCKS.block, kx),
            _dct_basis(BLOCKS.block, ky),
            anchor=anchor,
        )
        feats.append(resp[by, bx])
    features = np.stack(feats, axis=1)
    # Fridrich et al.'s lexicographic sort: blocks with equal quantised features end up next
    # to each other, so comparing each block with the next few rows finds its twins in
    # O(n log n). Every position is a block (stride 1), so any shift is representable.
    keys = np.floor(features[:, :3] / BLOCKS.quant).astype(np.int32)
    # Ties within a bin are broken by the exact values, so identical twins sit side by side
    # rather than in raster order (a flat-ish bin can hold hundreds of blocks).
    # Three coarse keys and two exact ones are enough to order the list; more cost time.
    order = np.lexsort((features[:, 1], features[:, 0], keys[:, 2], keys[:, 1], keys[:, 0]))
    # Each block keeps its best far-enough partner in the window. The tolerance grows with the
    # block's contrast: resampling at the dense scale shifts a copy by a fraction of a pixel,
    # which changes textured blocks more than smooth ones.
    tolerance = BLOCKS.feature_dist + BLOCKS.feature_rel * np.linalg.norm(features[:, 1:], axis=1)
    n_blocks = len(order)
    best = np.full(n_blocks, np.inf, np.float32)
    partner = np.full(n_blocks, -1, np.intp)
    for step in range(1, BLOCKS.sort_window + 1):
        i, j = order[:-step], order[step:]
        diff = features[i] - features[j]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        ok = (np.hypot(bx[i] - bx[j], by[i] - by[j]) >= BLOCKS.min_offset) & (dist < best[i])
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
    if a.size < BLOCKS.min_votes:
        return [], n_textured
    # Vote in a shift histogram; neighbouring shifts pool their votes (resampling jitter).
    flat_index = (dy + h) * (w + 1) + dx
    hist = np.bincount(flat_index, minlength=(2 * h + 1) * (w + 1)).astype(np.float32)
    hist = hist.reshape(2 * h + 1, w + 1)
    pooled = cv2.boxFilter(hist, cv2.CV_32F, (3, 3), normalize=False)
    peaks = (pooled >= BLOCKS.min_votes) & (pooled == ndimage.maximum_filter(pooled, size=5))
    factor = luma.shape[1] / w
    candidates: list[Candidate] = []
    for py, px in zip(*np.nonzero(peaks), strict=True):
        sy, sx = int(py) - h, int(px)
        sel = (np.abs(dy - sy) <= 1) & (np.abs(dx - sx) <= 1)
        if sel.sum() < BLOCKS.min_votes:
            continue
        centre = BLOCKS.block / 2
        src = np.stack([bx[a[sel]] + centre, by[a[sel]] + centre], axis=1) * factor
        dst = np.stack([bx[b[sel]] + centre, by[b[sel]] + centre], axis=1) * factor
        shift = np.median(dst - src, axis=0)
        matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
        candidates.append(Candidate(matrix, src.astype(np.float64), dst, "blocks"))
    candidates.sort(key=lambda c: -len(c.src))
    return candidates[: BLOCKS.max_peaks], n_textured


# --- verification ----------------------------------------------------------------------------
