"""Registration: working copies, SIFT matching (direct and mirrored), the homography and the
geometry checks that tell one picture, another photo of the scene, and unrelated pictures apart."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.compare.params import (
    FEATURE_SIDE,
    MIN_INLIERS,
    MIN_SIDE,
    RANSAC_PX,
    RATIO,
    SCENE_SECOND_PLANE,
    WORK_SIDE,
)
from photoloupe.io import Picture
from photoloupe.schema.compare import (
    Transform,
)

Source = str | os.PathLike[str] | bytes
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


# How a SIFT descriptor (4 x 4 cells of 8 orientation bins, in the keypoint's own frame) of a
# mirrored picture relates to the original's: in the keypoint's frame the mirror reverses the
# cell rows and the sense of rotation. Measured on real photos, matching with permuted
# descriptors finds about 93 % of the inliers a second detection on the mirrored copy finds,
# at a quarter of the cost.
MIRROR = np.arange(128).reshape(4, 4, 8)[::-1][..., (-np.arange(8)) % 8].reshape(-1)


@dataclass(frozen=True)
class Point:
    """A keypoint position, standing in for cv2.KeyPoint where only `.pt` is read."""

    x: float
    y: float

    @property
    def pt(self) -> tuple[float, float]:
        return (self.x, self.y)


@dataclass
class Side:
    picture: Picture
    rgb: U8
    factor: float  # working pixels per stored pixel
    gray: U8  # for features
    feature_factor: float  # feature pixels per stored pixel


@dataclass
class Fit:
    homography: F64  # original working -> suspect working
    inliers: int
    matches: int
    flipped: bool
    points_o: F32
    points_s: F32
    mask: Bool


def working(picture: Picture) -> Side:
    """Area-averaged working copy (longer side <= WORK_SIDE) and a smaller grey copy for
    features (longer side FEATURE_SIDE; small pictures are enlarged to MIN_SIDE)."""
    rgb, factor = _resized(picture.pixels, WORK_SIDE, 1)
    gray_full = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.uint8)
    gray, extra = _resized(gray_full, FEATURE_SIDE, MIN_SIDE)
    # Local contrast equalisation: a dim or hazy photo otherwise yields a handful of features,
    # and a monotonic tone change (gamma, brightness) mostly cancels out.
    gray = np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray), np.uint8)
    return Side(picture, rgb, factor, gray, factor * extra)


def _resized(image: U8, longest: int, shortest: int) -> tuple[U8, float]:
    h, w = image.shape[:2]
    side = max(h, w)
    factor = min(1.0, longest / side)
    if side < shortest:
        factor = shortest / side
    if factor == 1.0:
        return np.ascontiguousarray(image, dtype=np.uint8), 1.0
    target_w = max(1, round(w * factor))
    target_h = max(1, round(h * factor))
    halved = 1.0
    # Exact halvings first: OpenCV's area average is several times faster at integer ratios.
    # Dropping an odd last row or column keeps pixel k of the half at 2k..2k+1 of the full.
    while image.shape[1] // 2 >= target_w and image.shape[0] // 2 >= target_h:
        ih, iw = image.shape[:2]
        even = image[: ih - ih % 2, : iw - iw % 2]
        image = np.asarray(cv2.resize(even, (iw // 2, ih // 2), interpolation=cv2.INTER_AREA))
        halved /= 2
    size = (target_w, target_h)
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    if (image.shape[1], image.shape[0]) != size:
        halved *= size[0] / image.shape[1]
        image = np.asarray(cv2.resize(image, size, interpolation=interp))
    return np.ascontiguousarray(image, dtype=np.uint8), halved


def _ratio_matches(des_a: Any, des_b: Any) -> list[tuple[int, int]]:
    """(index in a, index in b) pairs that pass Lowe's ratio test, searched from a to b."""
    if des_a is None or des_b is None or len(des_a) < 2 or len(des_b) < 2:
        return []
    # A kd-tree search: a little approximate, thirty times faster than brute force here.
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    out: list[tuple[int, int]] = []
    for pair in matcher.knnMatch(des_a, des_b, k=2):
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            out.append((pair[0].queryIdx, pair[0].trainIdx))
    return out


def register(
    kp_o: Any, des_o: Any, kp_s: Any, des_s: Any, width_o: int, *, flipped: bool
) -> Fit | None:
    """Robust homography from the original's working frame to the suspect's."""
    pairs = _ratio_matches(des_s, des_o)
    if len(pairs) < 8:
        return None
    pts_s = np.array([kp_s[i].pt for i, _ in pairs], np.float32)
    pts_o = np.array([kp_o[j].pt for _, j in pairs], np.float32)
    homography, mask = cv2.findHomography(
        pts_o, pts_s, cv2.USAC_MAGSAC, RANSAC_PX, maxIters=5000, confidence=0.999
    )
    if homography is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    # Copies are nearly always scaled, rotated and cropped, not put in perspective. When an
    # affine map explains the matches as well, prefer it: the perspective terms of a
    # homography fitted on noisy keypoints tilt the far corners by a pixel or two, which the
    # changed map would read as edits along strong edges.
    affine, amask = cv2.estimateAffine2D(
        pts_o, pts_s, method=cv2.USAC_MAGSAC, ransacReprojThreshold=RANSAC_PX
    )
    if affine is not None and amask is not None:
        ainlier = amask.ravel().astype(bool)
        if ainlier.sum() >= 0.97 * inlier.sum():
            homography = np.vstack([affine, [0.0, 0.0, 1.0]])
            inlier = ainlier
    if flipped:
        # Keypoints were found on the mirrored original. The estimator refuses
        # orientation-reversing samples, so the fit is made in the mirrored frame and the
        # mirror is composed in afterwards: the homography then maps the original itself.
        mirror = np.array([[-1.0, 0.0, width_o - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        homography = homography @ mirror
        pts_o[:, 0] = (width_o - 1) - pts_o[:, 0]
    return Fit(
        np.asarray(homography, np.float64), int(inlier.sum()), len(pairs), flipped,
        pts_o, pts_s, inlier,
    )  # fmt: skip


def convincing(fit: Fit | None, so: Side, ss: Side) -> bool:
    """A fit so clear that trying the mirrored original is pointless."""
    return (
        fit is not None
        and fit.inliers >= 4 * MIN_INLIERS
        and fit.inliers >= 0.5 * fit.matches
        and plausible(fit, so, ss)
    )


def plausible(fit: Fit, so: Side, ss: Side) -> bool:
    """Enough inliers and a homography a copy could have."""
    if fit.inliers < MIN_INLIERS:
        return False
    hmat = fit.homography
    affine = hmat[:2, :2] / hmat[2, 2]
    det = float(np.linalg.det(affine))
    if det == 0 or (det < 0) != fit.flipped:
        return False
    scale = math.sqrt(abs(det))
    if not 1 / 25 < scale < 25:
        return False
    h, w = so.gray.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, hmat).reshape(-1, 2)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.astype(np.float32)):
        return False
    # Strong perspective is not something a copy acquires.
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    if sides.min() <= 0 or max(sides[0] / sides[2], sides[2] / sides[0]) > 1.6:
        return False
    return bool(max(sides[1] / sides[3], sides[3] / sides[1]) <= 1.6)


def spread(fit: Fit, so: Side, ss: Side) -> float:
    """The inliers' convex hull in the suspect, as a share of the area both pictures show."""
    h, w = so.gray.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, fit.homography).reshape(-1, 2)
    hull = cv2.convexHull(fit.points_s[fit.mask].reshape(-1, 1, 2))
    sh, sw = ss.gray.shape
    shared = max(1.0, min(float(sh * sw), abs(cv2.contourArea(quad.astype(np.float32)))))
    return float(cv2.contourArea(hull)) / shared


def epipolar_inliers(kp_o: Any, des_o: Any, kp_s: Any, des_s: Any) -> int:
    """Matches consistent with one fundamental matrix (two views of one scene)."""
    pairs = _ratio_matches(des_s, des_o)
    if len(pairs) < 15:
        return 0
    pts_s = np.array([kp_s[i].pt for i, _ in pairs], np.float32)
    pts_o = np.array([kp_o[j].pt for _, j in pairs], np.float32)
    fmat, mask = cv2.findFundamentalMat(pts_o, pts_s, cv2.USAC_MAGSAC, 1.5, 0.999, 5000)
    if fmat is None or mask is None:
        return 0
    return int(mask.ravel().astype(bool).sum())


def second_plane(fit: Fit, ss: Side) -> bool:
    """Whether the matches the homography leaves out fit a second, different homography over a
    large part of the picture: things at another depth that moved differently (parallax).

    Random false matches do not agree on a homography; a fundamental matrix alone is no test,
    because it can be bent to pass near many false matches.
    """
    rest = ~fit.mask
    if rest.sum() < SCENE_SECOND_PLANE:
        return False
    pts_o, pts_s = fit.points_o[rest], fit.points_s[rest]
    second, mask = cv2.findHomography(pts_o, pts_s, cv2.USAC_MAGSAC, RANSAC_PX, maxIters=3000)
    if second is None or mask is None:
        return False
    inlier = mask.ravel().astype(bool)
    if inlier.sum() < max(SCENE_SECOND_PLANE, 0.3 * fit.inliers):
        return False
    hull = cv2.convexHull(pts_s[inlier].reshape(-1, 1, 2))
    sh, sw = ss.gray.shape
    return bool(cv2.contourArea(hull) >= 0.1 * sh * sw)


def to_stored(homography: F64, factor_o: float, factor_s: float) -> F64:
    """Working-frame homography -> stored-pixel homography (original -> suspect)."""
    to_work = np.diag([factor_o, factor_o, 1.0])
    from_work = np.diag([1 / factor_s, 1 / factor_s, 1.0])
    out: F64 = from_work @ homography @ to_work
    normalised: F64 = out / out[2, 2]
    return normalised


def transform_of(h_full: F64, fit: Fit, orig: Picture, susp: Picture) -> Transform:
    affine = h_full[:2, :2]
    scale = math.sqrt(abs(float(np.linalg.det(affine))))
    unmirrored = affine @ np.diag([-1.0, 1.0]) if fit.flipped else affine
    # Image rows grow downwards, so a visually counter-clockwise turn has a negative angle here.
    rotation = -math.degrees(math.atan2(unmirrored[1, 0], unmirrored[0, 0]))
    # The part of the original the suspect shows: the suspect's corners taken back into the
    # original, clipped to it.
    inv = np.linalg.inv(h_full)
    sw, sh = susp.width, susp.height
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64).reshape(-1, 1, 2)
    back = cv2.perspectiveTransform(corners, inv).reshape(-1, 2)
    x0, y0 = np.clip(back.min(axis=0), 0, [orig.width, orig.height])
    x1, y1 = np.clip(back.max(axis=0), 0, [orig.width, orig.height])
    return Transform(
        crop_box=[round(float(x0), 1), round(float(y0), 1), round(float(x1 - x0), 1),
                  round(float(y1 - y0), 1)],
        scale=round(scale, 4),
        rotation_degrees=round(rotation, 2) + 0.0,  # never "-0.0"
        flipped=fit.flipped,
        homography=[[round(float(v), 8) for v in row] for row in h_full],
        inliers=fit.inliers,
        matches=fit.matches,
        coverage=None,
    )  # fmt: skip


def empty_transform(fit: Fit | None) -> Transform:
    return Transform(
        crop_box=None,
        scale=None,
        rotation_degrees=None,
        flipped=False,
        homography=None,
        inliers=fit.inliers if fit is not None else 0,
        matches=fit.matches if fit is not None else 0,
        coverage=None,
    )
