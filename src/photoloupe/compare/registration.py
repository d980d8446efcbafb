"""Registration: working copies, SIFT matching (direct and mirrored), the homography and the
geometry checks that tell one picture, another photo of the scene, and unrelated pictures apart."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.compare.params import (
    FEATURE_SIDE,
    MIN_INLIERS,
    MIN_SIDE,
    PARALLAX_EXTRA,
    PARALLAX_GAIN,
    PARALLAX_LOOSE_PX,
    PARALLAX_PX,
    RANSAC_PX,
    RATIO,
    SCENE_F_PX,
    SCENE_FEATURES,
    SCENE_SECOND_PLANE,
    SCENE_SIDE,
    WORK_SIDE,
)
from photoloupe.compare.relation import is_scene_view
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
    return plausible_fit(fit, _frame(so))


def plausible_fit(fit: Fit, size_o: tuple[int, int]) -> bool:
    """`plausible`, for an original of `size_o` (w, h) in the fit's frame."""
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
    w, h = size_o
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
    return fit_spread(fit, _frame(so), _frame(ss))


def _frame(side: Side) -> tuple[int, int]:
    """(w, h) of the side's feature frame."""
    return (side.gray.shape[1], side.gray.shape[0])


def fit_spread(fit: Fit, size_o: tuple[int, int], size_s: tuple[int, int]) -> float:
    """`spread`, for pictures of `size_o` and `size_s` (w, h) in the fit's frames."""
    w, h = size_o
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, fit.homography).reshape(-1, 2)
    hull = cv2.convexHull(fit.points_s[fit.mask].reshape(-1, 1, 2))
    sw, sh = size_s
    shared = max(1.0, min(float(sh * sw), abs(cv2.contourArea(quad.astype(np.float32)))))
    return float(cv2.contourArea(hull)) / shared


def epipolar_inliers(kp_o: Any, des_o: Any, kp_s: Any, des_s: Any) -> int:
    """The former epipolar test (one-way matches of registration's features, 1.5 px), for
    `relation.is_scene`; `compare` now uses `mutual_matches` and `epipolar` on denser features
    (see `two_view`). Kept for `archive.verify`."""
    pairs = _ratio_matches(des_s, des_o)
    if len(pairs) < 15:
        return 0
    pts_s = np.array([kp_s[i].pt for i, _ in pairs], np.float32)
    pts_o = np.array([kp_o[j].pt for _, j in pairs], np.float32)
    return int(fundamental_inliers(pts_o, pts_s, 1.5).sum())


def second_plane(fit: Fit, size_s: tuple[int, int]) -> bool:
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
    sw, sh = size_s
    return bool(cv2.contourArea(hull) >= 0.1 * sh * sw)


Size = tuple[int, int]
Geometry = Literal["copy", "scene", "none"]


def mutual_matches(des_a: Any, des_b: Any) -> list[tuple[int, int]]:
    """(index in a, index in b) pairs that pass Lowe's ratio test from b to a and are each
    other's nearest neighbours (cross-checked): fewer chance matches for the epipolar test."""
    if des_a is None or des_b is None or len(des_a) < 2 or len(des_b) < 2:
        return []
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    nearest_in_b = {p[0].queryIdx: p[0].trainIdx for p in matcher.knnMatch(des_a, des_b, k=1) if p}
    return [
        (pair[0].trainIdx, pair[0].queryIdx)
        for pair in matcher.knnMatch(des_b, des_a, k=2)
        if len(pair) == 2
        and pair[0].distance < RATIO * pair[1].distance
        and nearest_in_b.get(pair[0].trainIdx) == pair[0].queryIdx
    ]


def fundamental_inliers(pts_a: F32, pts_b: F32, px: float) -> Bool:
    """Which matches lie within `px` of their epipolar lines under the best fundamental matrix
    (MAGSAC); none when there are too few, or the estimator gives up."""
    none = np.zeros(len(pts_a), bool)
    if len(pts_a) < 15:
        return none
    try:
        fmat, mask = cv2.findFundamentalMat(pts_a, pts_b, cv2.USAC_MAGSAC, px, 0.999, 10000)
    except cv2.error:
        # OpenCV's MAGSAC asserts on some degenerate sets (all matches on one plane: a copy).
        return none
    if fmat is None or mask is None or fmat.shape != (3, 3):
        return none
    return np.asarray(mask.ravel().astype(bool))


def hull_share(points: F32, size: Size) -> float:
    """The points' convex hull as a share of a `size` (w, h) frame."""
    if len(points) < 3:
        return 0.0
    area = cv2.contourArea(cv2.convexHull(np.ascontiguousarray(points, np.float32)))
    return float(area) / max(1.0, float(size[0] * size[1]))


def epipolar(pts_a: F32, pts_b: F32, size_a: Size, size_b: Size) -> tuple[int, float, float]:
    """Epipolar inliers of matched points, and their spread (hull share) in a and in b. The
    threshold is SCENE_F_PX at a longest side of SCENE_SIDE, scaled to the frames given."""
    px = SCENE_F_PX * max(*size_a, *size_b) / SCENE_SIDE
    inlier = fundamental_inliers(pts_a, pts_b, px)
    return int(inlier.sum()), hull_share(pts_a[inlier], size_a), hull_share(pts_b[inlier], size_b)


def shows_parallax(fit: Fit, size_o: Size) -> bool:
    """Whether the fit's homography is loose and a fundamental matrix explains clearly more of
    its matches than noise would allow: another viewpoint of a scene that is only nearly
    planar, scored at PARALLAX_PX (at a longest side of FEATURE_SIDE).

    Loose: the homography inliers' median residual exceeds PARALLAX_LOOSE_PX; a copy's is a
    fraction of a pixel. The gain alone is no test: on a copy the fundamental matrix is
    underdetermined (any epipole fits a homography's matches), and MAGSAC can spend that
    freedom on false matches sliding along a repeated texture. The gain is measured against
    what a fundamental matrix would add if the homography's residuals were isotropic noise: it
    reads one component of a residual (the distance to an epipolar line), which for a residual
    r > px at a uniform angle lies within px with probability 1 - (2 / pi) acos(px / r).
    """
    scale = max(size_o) / FEATURE_SIDE
    px = PARALLAX_PX * scale
    pts_o, pts_s = fit.points_o, fit.points_s
    mapped = cv2.perspectiveTransform(pts_o.reshape(-1, 1, 2).astype(np.float64), fit.homography)
    residual = np.linalg.norm(mapped.reshape(-1, 2) - pts_s, axis=1)
    if not fit.mask.any() or np.median(residual[fit.mask]) <= PARALLAX_LOOSE_PX * scale:
        return False
    f = int(fundamental_inliers(pts_o, pts_s, px).sum())
    angle = np.arccos(np.minimum(1.0, px / np.maximum(residual, 1e-9)))
    expected = float(np.where(residual <= px, 1.0, 1.0 - (2 / np.pi) * angle).sum())
    return f >= PARALLAX_GAIN * expected and f - expected >= PARALLAX_EXTRA


def parallax_of(fit: Fit, size_o: Size, size_s: Size) -> bool:
    """Parallax of a plausible fit, as `compare` and `two_view` both judge it: a strong second
    plane among the matches the homography leaves out (`second_plane`), or `shows_parallax`."""
    second = fit.inliers < 0.5 * fit.matches and second_plane(fit, size_s)
    return second or shows_parallax(fit, size_o)


@dataclass(frozen=True)
class TwoView:
    """What two sets of local features say about the geometry between two pictures.

    geometry: "copy" (one plausible homography maps a onto b, without parallax: the same
    picture, perhaps cropped, scaled, rotated, re-encoded or locally edited), "scene" (another
    view of one scene: when no homography fits, a fundamental matrix explains many
    cross-checked matches spread over both frames; or the homography shows parallax), or
    "none". Without pixels, "copy" also covers another view of a near-planar scene
    and a shared element (see homography_spread); `compare` separates those with the pixels.
    """

    matches: int  # ratio-test matches (b to a) the homography was fitted on
    homography_inliers: int  # of the homography (0 when none was found)
    homography_spread: float  # its inliers' hull in b, as a share of the area both show
    plausible: bool  # the homography is one a copy could have
    parallax: bool  # ... but it shows parallax (`parallax_of`: another viewpoint)
    mutual_matches: int  # cross-checked matches the epipolar test ran on
    fundamental_inliers: int
    spread_a: float  # the epipolar inliers' convex hull, as a share of frame a
    spread_b: float
    geometry: Geometry


def two_view(
    points_a: F32, desc_a: Any, points_b: F32, desc_b: Any, size_a: Size, size_b: Size
) -> TwoView:
    """Two-view verification of local features, without pictures: `a` the original, `b` the
    suspect; points (N, 2) in pixels of frames of `size_a`, `size_b` (w, h); descriptors SIFT
    or RootSIFT (float32, one row per point; both sides of one kind).

    The same tests as `compare` (which feeds them the features of its working copies, and for
    the epipolar test its denser SCENE_SIDE features): a homography from ratio-test matches
    (MAGSAC, RANSAC_PX at FEATURE_SIDE) that `plausible` accepts is "copy" geometry, unless it
    shows parallax (`parallax_of`): then "scene". Without one, a fundamental matrix over
    cross-checked matches (SCENE_F_PX at SCENE_SIDE) with EPIPOLAR_MIN_INLIERS inliers whose hull
    covers EPIPOLAR_MIN_SPREAD of each frame is "scene". Thresholds in pixels scale with the
    frames' longest side. The counts were calibrated on features like compare's (about 2000 at
    640 px to register, 6000 at 1024 px for the epipolar test); with sparser features a pair
    falls to "none" sooner, with much denser ones chance inliers grow.

    `compare` also mirrors the original when the direct match is weak; this does not.
    """
    points_a = np.asarray(points_a, np.float32).reshape(-1, 2)
    points_b = np.asarray(points_b, np.float32).reshape(-1, 2)
    scale = FEATURE_SIDE / max(*size_a, *size_b)
    # register() works at FEATURE_SIDE pixels; give it the points in that frame.
    kp_a = [Point(float(x) * scale, float(y) * scale) for x, y in points_a]
    kp_b = [Point(float(x) * scale, float(y) * scale) for x, y in points_b]
    work_a = (round(size_a[0] * scale), round(size_a[1] * scale))
    work_b = (round(size_b[0] * scale), round(size_b[1] * scale))
    fit = register(kp_a, desc_a, kp_b, desc_b, work_a[0], flipped=False)
    plausible_h = fit is not None and plausible_fit(fit, work_a)
    parallax = fit is not None and plausible_h and parallax_of(fit, work_a, work_b)
    pairs = mutual_matches(desc_a, desc_b)
    pts_a = points_a[[i for i, _ in pairs]].reshape(-1, 2)
    pts_b = points_b[[j for _, j in pairs]].reshape(-1, 2)
    inliers, spread_a, spread_b = epipolar(pts_a, pts_b, size_a, size_b)
    if plausible_h:
        geometry: Geometry = "scene" if parallax else "copy"
    else:
        geometry = "scene" if is_scene_view(inliers, min(spread_a, spread_b)) else "none"
    return TwoView(
        matches=fit.matches if fit is not None else 0,
        homography_inliers=fit.inliers if fit is not None else 0,
        homography_spread=fit_spread(fit, work_a, work_b) if fit is not None else 0.0,
        plausible=plausible_h,
        parallax=parallax,
        mutual_matches=len(pairs),
        fundamental_inliers=inliers,
        spread_a=spread_a,
        spread_b=spread_b,
        geometry=geometry,
    )


def scene_features(side: Side) -> tuple[F32, Any, Size]:
    """Denser SIFT features for the epipolar test: SCENE_FEATURES on a contrast-equalised grey
    copy with a longest side of SCENE_SIDE (points, descriptors, frame size)."""
    gray_full = np.asarray(cv2.cvtColor(side.rgb, cv2.COLOR_RGB2GRAY), np.uint8)
    gray, _ = _resized(gray_full, SCENE_SIDE, MIN_SIDE)
    gray = np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray), np.uint8)
    sift = cv2.SIFT_create(nfeatures=SCENE_FEATURES, contrastThreshold=0.02)  # type: ignore[attr-defined]
    kp, des = sift.detectAndCompute(gray, None)
    points = np.array([k.pt for k in kp], np.float32).reshape(-1, 2)
    return points, des, (gray.shape[1], gray.shape[0])


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
