"""The comparison's working sizes and decision thresholds."""

from __future__ import annotations

WORK_SIDE = 1024
"""Longest side of the working copies: features, registration and the changed map."""
FEATURE_SIDE = 640
"""Longest side of the copies local features are found on (SIFT's cost grows with area)."""
MIN_SIDE = 320
"""Pictures smaller than this are enlarged for feature detection."""
SIFT_FEATURES = 2000
RATIO = 0.8
RANSAC_PX = 3.0
MIN_INLIERS = 15
MIN_INLIER_SPREAD = 0.1
"""Inliers confined to less of the shared area than this, with the pictures differing over most
of it, mean one shared element (a logo), not one picture. Confined inliers alone do not: a
moon on a black sky has all its detail in one spot."""
SCENE_MIN_INLIERS = 60
SCENE_MIN_RATIO = 0.5
"""Unaligned pairs: epipolar inliers needed for `same-scene` (count, and share of matches);
random false matches between unrelated photos reach about 30 % under a fundamental matrix."""
SCENE_SECOND_PLANE = 25
"""Aligned pairs: inliers of a second homography (at least 30 % of the first's) for parallax."""
DIFF_FLOOR = 14.0
"""Absolute floor of the change threshold, in 8-bit levels after blurring."""
DIFF_K = 6.0
MIN_REGION = 0.001
"""Smallest changed region, as a share of the covered area."""
GLOBAL_CHANGE = 0.5
"""Changed over more than this share of the shared area: not a local edit."""
