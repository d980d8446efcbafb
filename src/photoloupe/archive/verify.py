"""Geometric verification of a shortlisted archive picture against the query, from the local
features alone (no decoding of the archived file).

- a **copy** is registered by one homography (or affine map) a copy could have, directly or
  mirrored: the test `photoloupe.compare` makes;
- **another photo of the scene** has no such map, but its matches agree with one two-view
  (epipolar) geometry whose inliers spread over both frames;
- anything else is not a match.

The copies found here are then compared pixel by pixel (`photoloupe.compare`), which tells a
copy from an edited copy and finds its changed regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from photoloupe.archive.features import LocalFeatures
from photoloupe.compare.params import FEATURE_SIDE, MIN_SIDE
from photoloupe.compare.registration import (
    Point,
    convincing,
    epipolar_inliers,
    plausible,
    register,
)
from photoloupe.compare.relation import is_scene

F64 = npt.NDArray[np.float64]
Geometry = Literal["copy", "same-scene"]


@dataclass(frozen=True)
class Verified:
    geometry: Geometry | None
    inliers: int
    matches: int
    flipped: bool


def feature_factor(width: int, height: int) -> float:
    """Working-frame pixels per stored pixel, as `features.feature_grey` resizes."""
    side = max(width, height)
    return min(1.0, FEATURE_SIDE / side) if side >= MIN_SIDE else MIN_SIDE / side


def verify(query: LocalFeatures, archived: LocalFeatures) -> Verified:
    """How `archived` (as the original) relates to `query` (as the suspect)."""
    if len(query) < 8 or len(archived) < 8:
        return Verified(None, 0, 0, False)
    kq, dq, sq = _working(query)
    ka, da, sa = _working(archived)
    width_a = sa.gray.shape[1]
    fit = register(ka, da, kq, dq, width_a, flipped=False)
    if not convincing(fit, sa, sq):
        mirror = archived.mirrored()
        km, dm, _ = _working(mirror)
        alt = register(km, dm, kq, dq, width_a, flipped=True)
        if alt is not None and (
            fit is None
            or (plausible(alt, sa, sq), alt.inliers) > (plausible(fit, sa, sq), fit.inliers)
        ):
            fit = alt
    if fit is not None and plausible(fit, sa, sq):
        return Verified("copy", fit.inliers, fit.matches, fit.flipped)
    scene = epipolar_inliers(ka, da, kq, dq)
    matches = fit.matches if fit is not None else 0
    if is_scene(scene, matches):
        return Verified("same-scene", scene, matches, False)
    return Verified(None, max(scene, fit.inliers if fit else 0), matches, False)


def _working(feats: LocalFeatures) -> tuple[list[Point], Any, Any]:
    factor = feature_factor(feats.width, feats.height)
    pts = feats.points * np.float32(factor)
    keypoints = [Point(float(x), float(y)) for x, y in pts]
    h, w = round(feats.height * factor), round(feats.width * factor)
    # The registration checks read only the working frame's shape.
    side = SimpleNamespace(gray=np.empty((max(1, h), max(1, w)), np.uint8))
    return keypoints, np.ascontiguousarray(feats.descriptors, np.float32), side
