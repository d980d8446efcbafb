"""Imaging helpers shared by the analyses and the comparison.

`deterministic_rng` exists because OpenCV's FLANN matcher and its USAC/MAGSAC estimators
draw from one per-thread random generator: without a reset, a comparison's matches and
homography depended on what the process had computed before (the same pair gave 92 matches
in a fresh process and 89 after another comparison).
"""

from __future__ import annotations

import cv2

OPENCV_SEED = 0


def deterministic_rng() -> None:
    """Reset OpenCV's random generator for this thread, so that a result depends only on
    its inputs."""
    cv2.setRNGSeed(OPENCV_SEED)
