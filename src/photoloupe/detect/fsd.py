"""Forensic Self-Descriptions (Nguyen, Azizpour & Stamm, CVPR 2025), reimplemented from the paper.

A picture describes its own micro-structure, and the description of a camera photo looks
like those of other camera photos; a generator's does not.

1. **Residuals.** A bank of `K` constrained prediction-error filters, learned on real photos
   only (`training/train_fsd.py`): each filter predicts a pixel from its neighbours (its
   centre tap is 0 and its other taps sum to 1), and the residual is the pixel minus that
   prediction. Content mostly cancels; the traces of the capture or generation pipeline stay.
2. **Self-description.** At three scales (the residual maps at full, half and quarter size),
   a least-squares model predicts the sum of the `K` residuals at each position from the
   neighbouring residuals (an 11×11 window) of every channel, with the coefficients of each
   channel constrained to sum to one. The coefficients, pooled over the scales, are the
   picture's description.
3. **Scoring.** A Gaussian mixture (tied covariance) fitted on the descriptions of real
   photos, clean and laundered, after a PCA whitening. The score is the picture's
   log-likelihood as a z-score against the real photos': low means unlike any camera photo.

Two departures from the paper, both fixed before any figure was seen. The filters are made
symmetric under left-right and top-bottom flips, and the neighbourhood's coefficients are
tied over the same flips (35 per filter instead of 120), so that a mirrored copy, the commonest
repost edit, describes itself as its original does; and the least squares read a regular grid
of positions instead of every pixel, to fit a CPU budget. The model card gives the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FILTER_SIZE = 15
NEIGHBOURHOOD = 11
SCALES = 3
MAX_SIDE = 512  # the centre this many pixels a side is described
MAX_ROWS = (8000, 4000, 2000)  # least-squares positions per scale, at most
RIDGE = 1e-3  # the collinear residual channels need it (set on the demo pictures)

F64 = npt.NDArray[np.float64]


def grey(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Luma in 0-255 (ITU-R BT.601), the plane the filters read."""
    x = rgb.astype(np.float32)
    return np.asarray(0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2], np.float32)


def symmetric(raw: F64) -> F64:
    """The mirror-symmetric part of (K, s, s) weights: the mean over both flips."""
    return np.asarray((raw + raw[:, ::-1] + raw[:, :, ::-1] + raw[:, ::-1, ::-1]) / 4)


def constrain(raw: F64) -> F64:
    """Project free filter weights (K, s, s) onto symmetric prediction filters: centre 0, the
    rest summing to one, unchanged by a left-right or top-bottom flip (so that a mirrored
    picture gives mirrored residuals).

    >>> f = constrain(np.random.default_rng(0).normal(size=(2, 5, 5)))
    >>> float(f[0, 2, 2]), round(float(f[1].sum()), 6), bool(np.allclose(f, f[:, :, ::-1]))
    (0.0, 1.0, True)
    """
    k, s, _ = raw.shape
    flat = symmetric(np.asarray(raw, np.float64)).reshape(k, s * s).copy()
    flat[:, (s * s) // 2] = 0.0
    total = flat.sum(axis=1, keepdims=True)
    total = np.where(np.abs(total) < 1e-6, 1e-6, total)
    return np.asarray((flat / total).reshape(k, s, s))


def residuals(plane: npt.NDArray[np.float32], filters: F64) -> npt.NDArray[np.float32]:
    """(K, H', W') prediction errors, borders the filters cannot see cut off."""
    border = filters.shape[-1] // 2
    out = []
    for f in filters:
        predicted = cv2.filter2D(
            plane, cv2.CV_32F, f.astype(np.float32), borderType=cv2.BORDER_REFLECT
        )
        out.append((plane - predicted)[border:-border, border:-border])
    return np.stack(out)


def _centre(plane: npt.NDArray[np.float32], side: int) -> npt.NDArray[np.float32]:
    h, w = plane.shape
    ch, cw = min(h, side), min(w, side)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(plane[y : y + ch, x : x + cw])


def _positions(h: int, w: int, limit: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Rows and columns of a regular grid of about `limit` positions at most, closed under
    mirroring (a flipped picture is read at the flipped positions). The stride is odd, so
    the grid visits every phase of the 8×8 JPEG block grid alike.

    >>> ys, xs = _positions(512, 512, 12000)
    >>> len(ys) * len(xs) <= 12000, bool((xs == 511 - xs[::-1]).all())
    (True, True)
    """
    stride = max(1, int(np.ceil(2 * np.sqrt(h * w / limit))))
    if stride % 2 == 0:
        stride += 1

    def closed(n: int) -> npt.NDArray[np.intp]:
        grid = np.arange(0, n, stride)
        return np.unique(np.concatenate([grid, n - 1 - grid]))

    return closed(h), closed(w)


def _orbits(b: int) -> F64:
    """(b², n) averaging matrix from a b×b window to its mirror orbits: the cells at offsets
    (±i, ±j) share one coefficient, so the description does not change when the picture is
    flipped. The centre, which is what is predicted, has none."""
    half = b // 2
    classes = [(i, j) for i in range(half + 1) for j in range(half + 1) if (i, j) != (0, 0)]
    index = {c: n for n, c in enumerate(classes)}
    m = np.zeros((b * b, len(classes)))
    for y in range(b):
        for x in range(b):
            key = (abs(y - half), abs(x - half))
            if key != (0, 0):
                m[y * b + x, index[key]] = 1.0
    return np.asarray(m / m.sum(axis=0, keepdims=True), dtype=np.float64)


ORBITS = _orbits(NEIGHBOURHOOD)
DIMENSION_PER_FILTER = ORBITS.shape[1]


def describe(rgb: npt.NDArray[np.uint8], filters: F64) -> F64:
    """The picture's self-description: K · DIMENSION_PER_FILTER coefficients.

    Deterministic; a picture and its mirror image give nearly the same description.
    """
    k = filters.shape[0]
    b = NEIGHBOURHOOD
    half = b // 2
    n = DIMENSION_PER_FILTER
    side = MAX_SIDE + 2 * (filters.shape[-1] // 2)
    h, w = rgb.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    plane = grey(rgb[y : y + side, x : x + side])
    res = residuals(plane, filters)
    gram = np.zeros((k * n, k * n))
    moment = np.zeros(k * n)
    for scale in range(SCALES):
        maps = res
        if scale:
            h, w = res.shape[1:]
            size = (max(b + 1, w >> scale), max(b + 1, h >> scale))
            maps = np.stack([cv2.resize(r, size, interpolation=cv2.INTER_LINEAR) for r in res])
        padded = np.pad(maps, ((0, 0), (half, half), (half, half)), mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (b, b), axis=(1, 2))
        ys, xs = _positions(maps.shape[1], maps.shape[2], MAX_ROWS[scale])
        picked = windows[:, ys[:, None], xs[None, :]].reshape(k, len(ys) * len(xs), b * b)
        picked = picked.astype(np.float64)
        target = picked[:, :, (b * b) // 2].sum(axis=0)
        x = (picked @ ORBITS).transpose(1, 0, 2).reshape(-1, k * n)
        gram += x.T @ x
        moment += x.T @ target
    # Each filter's coefficients sum to one: the KKT system of the constrained least squares.
    norm = np.trace(gram) / gram.shape[0] + 1e-12
    gram = gram / norm + RIDGE * np.eye(gram.shape[0])
    moment = moment / norm
    a = np.zeros((k, k * n))
    for c in range(k):
        a[c, c * n : (c + 1) * n] = 1.0
    kkt = np.block([[gram, a.T], [a, np.zeros((k, k))]])
    rhs = np.concatenate([moment, np.ones(k)])
    return np.asarray(np.linalg.solve(kkt, rhs)[: k * n], dtype=np.float64)


@dataclass(frozen=True)
class FsdModel:
    """Filters, the whitening and the mixture fitted on real photos' descriptions."""

    filters: F64  # (K, FILTER_SIZE, FILTER_SIZE), already constrained
    mean: F64  # (D,) of the real descriptions
    components: F64  # (d, D): PCA directions, scaled to unit variance
    weights: F64  # (M,) mixture weights
    means: F64  # (M, d)
    precision_cholesky: F64  # (d, d): tied covariance's inverse, Cholesky factor
    z_mean: float  # log-likelihood of the real training descriptions: mean
    z_std: float  # ... and spread

    def log_likelihood(self, description: F64) -> float:
        z = self.components @ (description - self.mean)
        return float(
            gmm_log_likelihood(z[None], self.weights, self.means, self.precision_cholesky)[0]
        )

    def z_score(self, description: F64) -> float:
        """How typical of camera photos the description is (negative: atypical)."""
        return (self.log_likelihood(description) - self.z_mean) / self.z_std

    def logit(self, rgb: npt.NDArray[np.uint8]) -> float:
        """A raw score oriented like the other detectors' (positive towards AI): −z."""
        return -self.z_score(describe(rgb, self.filters))


def gmm_log_likelihood(x: F64, weights: F64, means: F64, precision_cholesky: F64) -> F64:
    """Per-row log-likelihood under a tied-covariance Gaussian mixture."""
    d = x.shape[1]
    y = x @ precision_cholesky  # whitened by the shared covariance
    centres = means @ precision_cholesky
    squared = ((y[:, None, :] - centres[None]) ** 2).sum(axis=2)
    log_det = float(np.log(np.abs(np.diag(precision_cholesky))).sum())
    log_prob = -0.5 * (d * np.log(2 * np.pi) + squared) + log_det + np.log(weights)[None]
    top = log_prob.max(axis=1, keepdims=True)
    return np.asarray((top + np.log(np.exp(log_prob - top).sum(axis=1, keepdims=True)))[:, 0])
