"""Compare a viral copy (the *suspect*) with the file claimed to be its original.

Method, in the order it runs:

1. **Intake.** Both inputs go through `load_picture` (limits, clear errors). Everything works
   in *stored* pixels; EXIF orientation is a display hint and a rotated copy is found by the
   registration anyway. Equal bytes or equal decoded pixels: `identical`, and we stop.
2. **Working copies.** Each picture is resampled (area average) so its longer side is at most
   `WORK_SIDE`; very small pictures are enlarged so that local features exist at all.
3. **Registration.** SIFT keypoints (on contrast-equalised grey copies), nearest-neighbour
   matching with Lowe's ratio test, then a homography by robust estimation (MAGSAC), or an
   affine map when it explains the matches as well. A mirrored copy defeats SIFT descriptors,
   so when the direct match is weak, or when it would leave any change to report, we match
   again against the mirrored original; the pixels decide between the two alignments, and the
   mirror is folded into the homography (its determinant is then negative). A fit counts only
   with enough inliers and a geometry a copy could have.
4. **Same scene or unrelated.** A different photo of the same scene shares many details but no
   single homography maps one onto the other (parallax). Aligned pairs: the matches the
   homography leaves out are fitted with a second homography; a strong, widely spread second
   plane means `same-scene`. Unaligned pairs: a fundamental matrix (two-view geometry) that
   explains most matches means `same-scene`; otherwise `unrelated`. Matches confined to a
   small spot, with the rest of the pictures different, are one shared element (a logo):
   `unrelated`.
5. **Changed map.** The original is resampled from its stored pixels straight into the
   suspect's working frame (pre-shrunk by area averaging when the suspect is smaller, so the
   warp does not alias). Then, to survive re-encoding, colour and gamma changes and
   resampling: a per-channel tone curve (the median suspect value for each original value,
   made monotonic) maps the original's colours onto the suspect's; both are blurred; the
   difference at each pixel is the smallest over one-pixel shifts, so sub-pixel misalignment
   along edges does not count; it is smoothed and thresholded at a level set by the residual's
   own distribution (median + K robust deviations, with an absolute floor), with hysteresis,
   morphological cleanup and a minimum region size. Pixels of the suspect that the original
   does not cover (screenshot borders, bars, padding) are *outside*, reported as `padding`,
   never as changed.
6. **Relation.** Registered with no changed region: `same-image`; with changed regions:
   `edited`; registered but different over most of the shared area (by an absolute measure,
   since the relative threshold rises with a global difference): `same-scene` (a different
   moment, or a change so global that calling it a local edit would overreach).
7. **Closer to the source.** Votes from resolution of the shared content, crop containment,
   padding, JPEG quality and metadata richness, each with its reason in English and Arabic.

Nothing here calls a picture fake or authentic: the relation says how the pixels relate.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from photoloupe._imaging import deterministic_rng
from photoloupe._version import __version__
from photoloupe.errors import PhotoloupeError
from photoloupe.i18n import t
from photoloupe.io import Limits, Picture, load_picture
from photoloupe.provenance.metadata import read_metadata
from photoloupe.schema.compare import (
    ChangedRegion,
    CloserToSource,
    CompareFile,
    Comparison,
    Reason,
    ToolInfo,
    Transform,
)

__all__ = ["WORK_SIDE", "compare", "full_size_changed_map", "write_changed_map"]

Source = str | os.PathLike[str] | bytes
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

WORK_SIDE = 1024
"""Longest side of the working copies: features, registration and the changed map."""
FEATURE_SIDE = 640
"""Longest side of the copies local features are found on (SIFT's cost grows with area)."""
_MIN_SIDE = 320
"""Pictures smaller than this are enlarged for feature detection."""
_SIFT_FEATURES = 2000
_RATIO = 0.8
_RANSAC_PX = 3.0
_MIN_INLIERS = 15
_MIN_INLIER_SPREAD = 0.1
"""Inliers confined to less of the shared area than this, with the pictures differing over most
of it, mean one shared element (a logo), not one picture. Confined inliers alone do not: a
moon on a black sky has all its detail in one spot."""
_SCENE_MIN_INLIERS = 60
_SCENE_MIN_RATIO = 0.5
"""Unaligned pairs: epipolar inliers needed for `same-scene` (count, and share of matches);
random false matches between unrelated photos reach about 30 % under a fundamental matrix."""
_SCENE_SECOND_PLANE = 25
"""Aligned pairs: inliers of a second homography (at least 30 % of the first's) for parallax."""
_DIFF_FLOOR = 14.0
"""Absolute floor of the change threshold, in 8-bit levels after blurring."""
_DIFF_K = 6.0
_MIN_REGION = 0.001
"""Smallest changed region, as a share of the covered area."""
_GLOBAL_CHANGE = 0.5
"""Changed over more than this share of the shared area: not a local edit."""


# How a SIFT descriptor (4 x 4 cells of 8 orientation bins, in the keypoint's own frame) of a
# mirrored picture relates to the original's: in the keypoint's frame the mirror reverses the
# cell rows and the sense of rotation. Measured on real photos, matching with permuted
# descriptors finds about 93 % of the inliers a second detection on the mirrored copy finds,
# at a quarter of the cost.
_MIRROR = np.arange(128).reshape(4, 4, 8)[::-1][..., (-np.arange(8)) % 8].reshape(-1)


@dataclass(frozen=True)
class _Point:
    """A keypoint position, standing in for cv2.KeyPoint where only `.pt` is read."""

    x: float
    y: float

    @property
    def pt(self) -> tuple[float, float]:
        return (self.x, self.y)


@dataclass
class _Side:
    picture: Picture
    rgb: U8
    factor: float  # working pixels per stored pixel
    gray: U8  # for features
    feature_factor: float  # feature pixels per stored pixel


@dataclass
class _Fit:
    homography: F64  # original working -> suspect working
    inliers: int
    matches: int
    flipped: bool
    points_o: F32
    points_s: F32
    mask: Bool


def compare(
    original: Source,
    suspect: Source,
    *,
    names: tuple[str, str] | None = None,
    limits: Limits | None = None,
) -> Comparison:
    """Compare `suspect` with `original` (each a path or the file's bytes).

    Raises `photoloupe.InputError` (with `.code`, `.message`) when either cannot be read; the
    error's message names which input it was.

    >>> import photoloupe
    >>> c = photoloupe.compare("examples/harbour.jpg", "examples/harbour-edited.jpg")
    >>> c.relation
    'edited'
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pics = []
    for role, source, name in zip(
        ("original", "suspect"), (original, suspect), names or (None, None), strict=True
    ):
        try:
            pics.append(load_picture(source, name=name, limits=limits))
        except PhotoloupeError as exc:
            # Say which of the two inputs failed; `input` lets the CLI name its path.
            exc.message = f"The {role} cannot be read: {exc.message}"
            exc.args = (exc.message,)
            exc.input = role  # type: ignore[attr-defined]
            raise
    orig, susp = pics
    timings["load"] = _ms(start)
    return _compare_pictures(orig, susp, timings, start)


def _compare_pictures(
    orig: Picture, susp: Picture, timings: dict[str, float], start: float
) -> Comparison:
    notes: list[str] = []
    deterministic_rng()
    step = time.perf_counter()
    facts_o, facts_s = _facts(orig), _facts(susp)
    so, ss = _working(orig), _working(susp)
    arrays: dict[str, npt.NDArray[Any]] = {"original": so.rgb, "suspect": ss.rgb}
    timings["prepare"] = _ms(step)
    step = time.perf_counter()

    same_pixels = orig.sha256 == susp.sha256 or (
        orig.pixels.shape == susp.pixels.shape
        and np.array_equal(orig.pixels[::61, ::67], susp.pixels[::61, ::67])  # cheap first
        and np.array_equal(orig.pixels, susp.pixels)
    )
    if same_pixels:
        h, w = orig.height, orig.width
        transform = Transform(
            crop_box=[0.0, 0.0, float(w), float(h)],
            scale=1.0,
            rotation_degrees=0.0,
            flipped=False,
            homography=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            inliers=0,
            matches=0,
            coverage=1.0,
        )
        blank = np.zeros(ss.rgb.shape[:2], bool)
        arrays.update(aligned=ss.rgb, changed=blank, covered=~blank)
        return _result(
            facts_o, facts_s, "identical", 1.0, transform, 0.0, [], [], timings, start,
            arrays, notes, closer=_closer(None, facts_o, facts_s, orig, susp, None, None),
        )  # fmt: skip

    sift = cv2.SIFT_create(nfeatures=_SIFT_FEATURES, contrastThreshold=0.03)  # type: ignore[attr-defined]
    kp_o, des_o = sift.detectAndCompute(so.gray, None)
    kp_s, des_s = sift.detectAndCompute(ss.gray, None)
    timings["features"] = _ms(step)
    step = time.perf_counter()
    fit = _register(kp_o, des_o, kp_s, des_s, so.gray.shape[1], flipped=False)
    mirrored: list[_Fit | None] = []

    def mirror_fit() -> _Fit | None:
        # SIFT descriptors are not mirror-invariant: match against the mirrored original,
        # whose descriptors are a fixed permutation of the original's (no second detection).
        if not mirrored:
            width = so.gray.shape[1]
            kp_m = [_Point((width - 1) - k.pt[0], k.pt[1]) for k in kp_o]
            des_m = None if des_o is None else np.ascontiguousarray(des_o[:, _MIRROR])
            mirrored.append(_register(kp_m, des_m, kp_s, des_s, width, flipped=True))
        return mirrored[0]

    if not _convincing(fit, so, ss):
        # A symmetric subject can give the direct match some inliers, so a mere fit is not
        # enough to skip the mirror.
        alt = mirror_fit()
        if alt is not None and (
            fit is None
            or (_plausible(alt, so, ss), alt.inliers) > (_plausible(fit, so, ss), fit.inliers)
        ):
            fit = alt
    timings["register"] = _ms(step)
    step = time.perf_counter()

    registered = fit is not None and _plausible(fit, so, ss)
    if fit is None or not registered:
        scene_inliers = _epipolar_inliers(kp_o, des_o, kp_s, des_s)
        matches = fit.matches if fit is not None else 0
        relation, confidence = "unrelated", 0.8
        if _is_scene(scene_inliers, matches):
            relation, confidence = "same-scene", 0.5
            notes.append(
                "Many details match under a two-view (epipolar) geometry but no single "
                "transform maps one picture onto the other: a different photo of the scene."
            )
        elif fit is not None and fit.inliers >= _MIN_INLIERS // 2:
            confidence = 0.6
        transform = _empty_transform(fit)
        timings["changes"] = _ms(step)
        return _result(
            facts_o, facts_s, relation, confidence, transform, None, [], [], timings, start,
            arrays, notes, closer=_closer(None, facts_o, facts_s, orig, susp, None, None),
        )  # fmt: skip

    assert fit is not None
    found = _evaluate(orig, fit, so, ss)
    if found.fraction > 0 and not fit.flipped:
        # Before reporting any change, rule out a mirror image of a near-symmetric subject
        # (a facade, a face): the pixels decide which alignment is right.
        alt = mirror_fit()
        # Only a mirror fit of comparable strength is worth aligning and comparing.
        if alt is not None and alt.inliers >= 0.5 * fit.inliers and _plausible(alt, so, ss):
            other = _evaluate(orig, alt, so, ss)
            if other.fraction < found.fraction:
                fit, found = alt, other
    timings["changes"] = _ms(step)
    transform = found.transform
    arrays.update(aligned=found.aligned, changed=found.changed, covered=found.covered)
    covered_px = max(1, int(found.covered.sum()))
    regions = _regions(found.changed, found.evidence, found.threshold, ss.factor, covered_px)
    padding = _padding_boxes(found.covered, ss.factor, susp.width, susp.height)
    parallax = fit.inliers < 0.5 * fit.matches and _second_plane(fit, ss)
    confined = _spread(fit, so, ss) < _MIN_INLIER_SPREAD
    strength = min(1.0, fit.inliers / 100.0)
    fraction: float | None = found.fraction
    if found.disagreement > _GLOBAL_CHANGE and confined:
        relation, confidence = "unrelated", 0.6
        notes.append(
            "Only a small element matches (a logo, a caption, a shared object?); the rest of "
            "the pictures differs."
        )
        regions, fraction = [], None
    elif parallax:
        relation, confidence = "same-scene", 0.5
        notes.append("A homography explains only part of the matching details: parallax.")
    elif found.disagreement > _GLOBAL_CHANGE:
        relation, confidence = "same-scene", 0.4
        notes.append(
            "The pictures align, but differ over most of the shared area: a different moment "
            "of the scene, or a change too global to call a local edit."
        )
    elif regions:
        relation = "edited"
        confidence = 0.5 + 0.45 * strength * max(r.score for r in regions)
    else:
        relation, confidence = "same-image", 0.5 + 0.45 * strength
    if relation in ("same-scene", "unrelated"):
        regions = []
        found.changed[:] = False
    closer = _closer(transform, facts_o, facts_s, orig, susp, transform.coverage, padding)
    return _result(
        facts_o, facts_s, relation, confidence, transform,
        None if fraction is None else round(fraction, 5), regions, padding,
        timings, start, arrays, notes, closer=closer,
    )  # fmt: skip


@dataclass
class _Found:
    transform: Transform
    aligned: U8
    covered: Bool
    changed: Bool
    evidence: F32
    threshold: float
    fraction: float  # changed share of the covered area
    disagreement: float  # share of the textured covered area whose fine structure differs


def _evaluate(orig: Picture, fit: _Fit, so: _Side, ss: _Side) -> _Found:
    """Align the original on the suspect with `fit` and measure what differs."""
    h_full = _to_stored(fit.homography, so.feature_factor, ss.feature_factor)
    transform = _transform(h_full, fit, orig, ss.picture)
    aligned, covered = _align(orig, h_full, so, ss)
    transform.coverage = round(float(covered.mean()), 4)
    changed, evidence, threshold = _changed_map(aligned, ss.rgb, covered)
    covered_px = max(1, int(covered.sum()))
    disagreement = _disagreement(aligned, ss.rgb, covered)
    return _Found(
        transform, aligned, covered, changed, evidence, threshold,
        float(changed.sum()) / covered_px, disagreement,
    )  # fmt: skip


# --------------------------------------------------------------------------- registration


def _working(picture: Picture) -> _Side:
    """Area-averaged working copy (longer side <= WORK_SIDE) and a smaller grey copy for
    features (longer side FEATURE_SIDE; small pictures are enlarged to _MIN_SIDE)."""
    rgb, factor = _resized(picture.pixels, WORK_SIDE, 1)
    gray_full = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.uint8)
    gray, extra = _resized(gray_full, FEATURE_SIDE, _MIN_SIDE)
    # Local contrast equalisation: a dim or hazy photo otherwise yields a handful of features,
    # and a monotonic tone change (gamma, brightness) mostly cancels out.
    gray = np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray), np.uint8)
    return _Side(picture, rgb, factor, gray, factor * extra)


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
        if len(pair) == 2 and pair[0].distance < _RATIO * pair[1].distance:
            out.append((pair[0].queryIdx, pair[0].trainIdx))
    return out


def _register(
    kp_o: Any, des_o: Any, kp_s: Any, des_s: Any, width_o: int, *, flipped: bool
) -> _Fit | None:
    """Robust homography from the original's working frame to the suspect's."""
    pairs = _ratio_matches(des_s, des_o)
    if len(pairs) < 8:
        return None
    pts_s = np.array([kp_s[i].pt for i, _ in pairs], np.float32)
    pts_o = np.array([kp_o[j].pt for _, j in pairs], np.float32)
    homography, mask = cv2.findHomography(
        pts_o, pts_s, cv2.USAC_MAGSAC, _RANSAC_PX, maxIters=5000, confidence=0.999
    )
    if homography is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    # Copies are nearly always scaled, rotated and cropped, not put in perspective. When an
    # affine map explains the matches as well, prefer it: the perspective terms of a
    # homography fitted on noisy keypoints tilt the far corners by a pixel or two, which the
    # changed map would read as edits along strong edges.
    affine, amask = cv2.estimateAffine2D(
        pts_o, pts_s, method=cv2.USAC_MAGSAC, ransacReprojThreshold=_RANSAC_PX
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
    return _Fit(
        np.asarray(homography, np.float64), int(inlier.sum()), len(pairs), flipped,
        pts_o, pts_s, inlier,
    )  # fmt: skip


def _convincing(fit: _Fit | None, so: _Side, ss: _Side) -> bool:
    """A fit so clear that trying the mirrored original is pointless."""
    return (
        fit is not None
        and fit.inliers >= 4 * _MIN_INLIERS
        and fit.inliers >= 0.5 * fit.matches
        and _plausible(fit, so, ss)
    )


def _plausible(fit: _Fit, so: _Side, ss: _Side) -> bool:
    """Enough inliers and a homography a copy could have."""
    if fit.inliers < _MIN_INLIERS:
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


def _spread(fit: _Fit, so: _Side, ss: _Side) -> float:
    """The inliers' convex hull in the suspect, as a share of the area both pictures show."""
    h, w = so.gray.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    quad = cv2.perspectiveTransform(corners, fit.homography).reshape(-1, 2)
    hull = cv2.convexHull(fit.points_s[fit.mask].reshape(-1, 1, 2))
    sh, sw = ss.gray.shape
    shared = max(1.0, min(float(sh * sw), abs(cv2.contourArea(quad.astype(np.float32)))))
    return float(cv2.contourArea(hull)) / shared


def _epipolar_inliers(kp_o: Any, des_o: Any, kp_s: Any, des_s: Any) -> int:
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


def _is_scene(scene_inliers: int, matches: int) -> bool:
    return scene_inliers >= _SCENE_MIN_INLIERS and scene_inliers >= _SCENE_MIN_RATIO * max(
        matches, 1
    )


def _second_plane(fit: _Fit, ss: _Side) -> bool:
    """Whether the matches the homography leaves out fit a second, different homography over a
    large part of the picture: things at another depth that moved differently (parallax).

    Random false matches do not agree on a homography; a fundamental matrix alone is no test,
    because it can be bent to pass near many false matches.
    """
    rest = ~fit.mask
    if rest.sum() < _SCENE_SECOND_PLANE:
        return False
    pts_o, pts_s = fit.points_o[rest], fit.points_s[rest]
    second, mask = cv2.findHomography(pts_o, pts_s, cv2.USAC_MAGSAC, _RANSAC_PX, maxIters=3000)
    if second is None or mask is None:
        return False
    inlier = mask.ravel().astype(bool)
    if inlier.sum() < max(_SCENE_SECOND_PLANE, 0.3 * fit.inliers):
        return False
    hull = cv2.convexHull(pts_s[inlier].reshape(-1, 1, 2))
    sh, sw = ss.gray.shape
    return bool(cv2.contourArea(hull) >= 0.1 * sh * sw)


def _to_stored(homography: F64, factor_o: float, factor_s: float) -> F64:
    """Working-frame homography -> stored-pixel homography (original -> suspect)."""
    to_work = np.diag([factor_o, factor_o, 1.0])
    from_work = np.diag([1 / factor_s, 1 / factor_s, 1.0])
    out: F64 = from_work @ homography @ to_work
    normalised: F64 = out / out[2, 2]
    return normalised


def _transform(h_full: F64, fit: _Fit, orig: Picture, susp: Picture) -> Transform:
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


def _empty_transform(fit: _Fit | None) -> Transform:
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


# --------------------------------------------------------------------------- changed map


def _align(orig: Picture, h_full: F64, so: _Side, ss: _Side) -> tuple[U8, Bool]:
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


def _changed_map(aligned: U8, suspect: U8, covered: Bool) -> tuple[Bool, F32, float]:
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
    threshold = max(_DIFF_FLOOR, med + _DIFF_K * mad)
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


def _disagreement(aligned: U8, suspect: U8, covered: Bool) -> float:
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


def _regions(
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
        if area < max(48, _MIN_REGION * covered_px):
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


def _padding_boxes(covered: Bool, factor: float, width: int, height: int) -> list[list[int]]:
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


# --------------------------------------------------------------------------- closer to source


def _facts(picture: Picture) -> CompareFile:
    try:
        meta = read_metadata(picture)
    except Exception:  # metadata is a hint here; a reader failure must not stop the comparison
        meta = {}
    fields = sum(len(meta.get(k) or {}) for k in ("exif", "xmp", "iptc"))
    camera = " ".join(p for p in (meta.get("make"), meta.get("model")) if p) or None
    return CompareFile(
        name=picture.name,
        sha256=picture.sha256,
        bytes=len(picture.data),
        width=picture.width,
        height=picture.height,
        format=picture.format,
        orientation=picture.orientation,
        jpeg_quality=picture.jpeg.estimated_quality if picture.jpeg is not None else None,
        metadata_fields=fields,
        camera=camera,
    )


def _reason(code: str, key: str, favours: str, **values: object) -> Reason:
    return Reason(
        code=code,
        favours=favours,  # type: ignore[arg-type]
        message=t(key, "en", **values),
        message_ar=t(key, "ar", **values),
    )


def _closer(
    transform: Transform | None,
    fo: CompareFile,
    fs: CompareFile,
    orig: Picture,
    susp: Picture,
    coverage: float | None,
    padding: list[list[int]] | None,
) -> CloserToSource:
    """Which copy is nearer the camera: votes with reasons; a tie or nothing is undetermined."""
    reasons: list[Reason] = []
    if transform is not None and transform.scale is not None and transform.crop_box is not None:
        scale = transform.scale
        if scale < 0.95:
            reasons.append(
                _reason("resolution", "compare.reason.resolution_original", "original",
                        factor=f"{1 / scale:.2f}")
            )  # fmt: skip
        elif scale > 1.05:
            reasons.append(
                _reason("resolution", "compare.reason.resolution_suspect", "suspect",
                        factor=f"{scale:.2f}")
            )  # fmt: skip
        _, _, cw, ch = transform.crop_box
        shown = (cw * ch) / max(1, fo.width * fo.height)
        if shown < 0.97:
            reasons.append(
                _reason("crop", "compare.reason.crop_original", "original",
                        percent=f"{100 * shown:.0f}")
            )  # fmt: skip
        if padding:
            reasons.append(_reason("padding", "compare.reason.padding", "original"))
    elif transform is None and fo.sha256 != fs.sha256:
        reasons.append(_reason("not_registered", "compare.reason.not_registered", "undetermined"))
    qo, qs = fo.jpeg_quality, fs.jpeg_quality
    if qo is not None and qs is not None and abs(qo - qs) >= 3:
        favours = "original" if qo > qs else "suspect"
        reasons.append(
            _reason("jpeg_quality", f"compare.reason.quality_{favours}", favours,
                    qo=qo, qs=qs)
        )  # fmt: skip
    mo, ms = fo.metadata_fields, fs.metadata_fields
    if max(mo, ms) >= 5 and abs(mo - ms) >= max(3, 0.2 * max(mo, ms)):
        favours = "original" if mo > ms else "suspect"
        reasons.append(
            _reason("metadata", f"compare.reason.metadata_{favours}", favours, no=mo, ns=ms)
        )
    if (fo.camera is None) != (fs.camera is None):
        favours = "original" if fo.camera else "suspect"
        reasons.append(
            _reason("camera", f"compare.reason.camera_{favours}", favours,
                    camera=fo.camera or fs.camera)
        )  # fmt: skip
    votes = sum(1 if r.favours == "original" else -1 if r.favours == "suspect" else 0
                for r in reasons)  # fmt: skip
    if fo.sha256 == fs.sha256 or not votes:
        verdict = "undetermined"
    else:
        verdict = "original" if votes > 0 else "suspect"
    return CloserToSource(verdict=verdict, reasons=reasons)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- result


def _summary(
    relation: str, transform: Transform, regions: list[ChangedRegion], fraction: float | None,
    lang: str,
) -> str:  # fmt: skip
    if relation == "same-image":
        text = t("compare.summary.same_image", lang, scale=f"{transform.scale or 1:.2f}",
                 rotation=f"{transform.rotation_degrees or 0:.1f}")  # fmt: skip
    elif relation == "edited":
        text = t("compare.summary.edited", lang, n=len(regions),
                 percent=f"{100 * (fraction or 0):.1f}")  # fmt: skip
    else:
        text = t(f"compare.summary.{relation.replace('-', '_')}", lang)
    if transform.flipped:
        text += " " + t("compare.summary.flipped", lang)
    if transform.coverage is not None and transform.coverage < 0.99:
        text += " " + t("compare.summary.padding", lang,
                        percent=f"{100 * (1 - transform.coverage):.0f}")  # fmt: skip
    return text


def _result(
    fo: CompareFile,
    fs: CompareFile,
    relation: str,
    confidence: float,
    transform: Transform,
    fraction: float | None,
    regions: list[ChangedRegion],
    padding: list[list[int]],
    timings: dict[str, float],
    start: float,
    arrays: dict[str, npt.NDArray[Any]],
    notes: list[str],
    *,
    closer: CloserToSource,
) -> Comparison:
    timings["total"] = _ms(start)
    result = Comparison(
        tool=ToolInfo(version=__version__),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        original=fo,
        suspect=fs,
        relation=relation,  # type: ignore[arg-type]
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        transform=transform,
        changed_fraction=fraction,
        changed_regions=regions,
        padding=padding,
        closer_to_source=closer,
        summary=_summary(relation, transform, regions, fraction, "en"),
        summary_ar=_summary(relation, transform, regions, fraction, "ar"),
        notes=notes,
        timings_ms=timings,
    )
    result._arrays.update(arrays)
    return result


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000.0, 1)
