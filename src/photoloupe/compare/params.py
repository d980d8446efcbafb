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
SCENE_SIDE = 1024
SCENE_FEATURES = 10000
"""Unaligned pairs are tested for one scene on larger, denser features than registration uses:
another viewpoint leaves few matches, and at FEATURE_SIDE with SIFT_FEATURES too few survive."""
SCENE_F_PX = 2.0
"""Fundamental-matrix threshold (distance to the epipolar line) at a longest side of SCENE_SIDE."""
EPIPOLAR_MIN_INLIERS = 20
"""Epipolar inliers among mutual matches needed for `same-scene`. Between photos of different
scenes (a fundamental matrix fits any 7 matches, and MAGSAC picks the best of thousands) they
reached 14 on the development scenes
(16 with 6000 features at 1.5 px)."""
EPIPOLAR_MIN_SPREAD = 0.05
"""Share of each frame the epipolar inliers' convex hull must cover: one shared spot is not a
view of the scene."""
PARALLAX_PX = 1.0
"""Aligned pairs: the threshold a fundamental matrix is scored at (at a longest side of
FEATURE_SIDE) against the homography's residuals (`registration.shows_parallax`)."""
PARALLAX_LOOSE_PX = 0.5
"""... only when the homography inliers' median residual exceeds this (at FEATURE_SIDE): on the
tune half, copies reached 0.47; other views of the development scenes 0.3 to 1.7."""
PARALLAX_GAIN = 1.3
PARALLAX_EXTRA = 20
"""Parallax: the fundamental matrix explains at least PARALLAX_GAIN times, and PARALLAX_EXTRA
more, of the matches than it would if the homography's residuals were isotropic noise. Copies
of the tune half reached 1.12 times (one, of a repeated texture, far more, with a median
residual of 0.1 px); other views of the development scenes 1.19 to 3.8."""
SCENE_MIN_INLIERS = 60
SCENE_MIN_RATIO = 0.5
"""The former test (`relation.is_scene`, on registration's sparser, one-way matches): epipolar
inliers needed for `same-scene`, as a count and a share of matches. `compare` no longer uses
it; `archive.verify` still does."""
SCENE_SECOND_PLANE = 25
"""Aligned pairs: inliers of a second homography (at least 30 % of the first's) for parallax."""
DIFF_FLOOR = 14.0
"""Absolute floor of the change threshold, in 8-bit levels after blurring."""
DIFF_K = 6.0
MIN_REGION = 0.001
"""Smallest changed region, as a share of the covered area."""
GLOBAL_CHANGE = 0.5
"""Changed over more than this share of the shared area: not a local edit."""
