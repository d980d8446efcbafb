"""Geometric verification of a shortlisted archive picture against the query, from the local
features alone (no decoding of the archived file), by the two-view test `photoloupe.compare`
makes (`compare.registration.two_view`):

- a **copy** is registered by one homography (or affine map) a copy could have, directly or
  mirrored, without parallax;
- **another photo of the scene** shows parallax, or has no such map but many cross-checked
  matches that agree with one fundamental matrix and spread over both frames;
- anything else is not a match.

The copies found here are then compared pixel by pixel (`photoloupe.compare`), which tells a
copy from an edited copy and finds its changed regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from photoloupe.archive.features import LocalFeatures
from photoloupe.compare.params import MIN_INLIERS
from photoloupe.compare.registration import TwoView, two_view

Geometry = Literal["copy", "same-scene"]


@dataclass(frozen=True)
class Verified:
    geometry: Geometry | None
    inliers: int
    matches: int
    flipped: bool


def verify(query: LocalFeatures, archived: LocalFeatures) -> Verified:
    """How `archived` (as the original) relates to `query` (as the suspect)."""
    if len(query) < 8 or len(archived) < 8:
        return Verified(None, 0, 0, False)
    direct = _two_view(archived, query)
    best, flipped = direct, False
    # SIFT descriptors are not mirror-invariant: unless the direct match is a clear copy, try
    # the archived picture's mirror image (its features, permuted; no second detection).
    if not (direct.geometry == "copy" and direct.homography_inliers >= 4 * MIN_INLIERS):
        mirrored = _two_view(archived.mirrored(), query)
        if mirrored.geometry == "copy" and (
            direct.geometry != "copy" or mirrored.homography_inliers > direct.homography_inliers
        ):
            best, flipped = mirrored, True
    if best.geometry == "copy":
        return Verified("copy", best.homography_inliers, best.matches, flipped)
    if best.geometry == "scene":
        inliers = max(best.fundamental_inliers, best.homography_inliers)
        return Verified("same-scene", inliers, best.matches, False)
    return Verified(None, best.homography_inliers, best.matches, False)


def _two_view(archived: LocalFeatures, query: LocalFeatures) -> TwoView:
    return two_view(
        archived.points,
        np.ascontiguousarray(archived.descriptors, np.float32),
        query.points,
        np.ascontiguousarray(query.descriptors, np.float32),
        (archived.width, archived.height),
        (query.width, query.height),
    )
