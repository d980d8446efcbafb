"""`compare.registration.two_view` and the epipolar test: copies, other views, unrelated
pictures, on constructed pictures and (when ../shared/data is present) on real scene photos."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from photoloupe._imaging import deterministic_rng
from photoloupe.compare import compare
from photoloupe.compare.registration import (
    TwoView,
    epipolar,
    fundamental_inliers,
    hull_share,
    two_view,
)
from photoloupe.compare.relation import is_scene_view
from tests.compare.test_compare import _layered_view, jpeg, scene
from tests.conftest import SHARED, needs_shared

Array = np.ndarray


def features(rgb: Array) -> tuple[Array, Array, tuple[int, int]]:
    """SIFT points and descriptors of a picture, as a store of features would keep them."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    kp, des = cv2.SIFT_create(nfeatures=3000).detectAndCompute(gray, None)  # type: ignore[attr-defined]
    return np.float32([k.pt for k in kp]), des, (gray.shape[1], gray.shape[0])


def decoded(data: bytes) -> Array:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def view(a: Array, b: Array) -> TwoView:
    deterministic_rng()
    pa, da, sa = features(a)
    pb, db, sb = features(b)
    return two_view(pa, da, pb, db, sa, sb)


def test_a_rotated_crop_is_copy_geometry_without_parallax() -> None:
    original = scene(1)
    m = cv2.getRotationMatrix2D((320, 240), 7, 0.8)
    copy = decoded(jpeg(cv2.warpAffine(original, m, (640, 480))[40:440, 60:600], 80))
    result = view(original, copy)
    assert result.geometry == "copy", result
    assert result.plausible and not result.parallax
    assert result.homography_inliers > 100


def test_another_viewpoint_with_parallax_is_scene_geometry() -> None:
    result = view(_layered_view(0, 0), _layered_view(25, 55))
    assert result.geometry == "scene", result


def test_unrelated_pictures_have_no_geometry() -> None:
    result = view(scene(1), scene(2))
    assert result.geometry == "none", result
    assert not is_scene_view(result.fundamental_inliers, min(result.spread_a, result.spread_b))


def test_two_view_scales_its_thresholds_with_the_frame() -> None:
    # The same pictures at twice the size give the same verdict.
    big = [cv2.resize(v, None, fx=2, fy=2) for v in (_layered_view(0, 0), _layered_view(25, 55))]
    assert view(*big).geometry == "scene"


def test_random_matches_are_not_epipolar_and_degenerate_sets_do_not_raise() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1000, (300, 2)).astype(np.float32)
    b = rng.uniform(0, 1000, (300, 2)).astype(np.float32)
    deterministic_rng()
    inliers, _, _ = epipolar(a, b, (1000, 1000), (1000, 1000))
    assert inliers < 20
    # All matches related by one homography (a copy): no exception, whatever the estimator does.
    fundamental_inliers(a, a * 0.5 + 3, 1.0)
    assert fundamental_inliers(a[:10], b[:10], 1.0).sum() == 0  # too few to fit


def test_hull_share() -> None:
    square = np.float32([[0, 0], [50, 0], [50, 50], [0, 50], [25, 25]])
    assert hull_share(square, (100, 100)) == pytest.approx(0.25)
    assert hull_share(square[:2], (100, 100)) == 0.0


# --------------------------------------------------------------------------- real photos

# Picked from the development scenes (benchmarks/compare.py), where the pair is found.
REAL_SCENE_PAIRS = [
    ("british-museum/32630292_7166579210.jpg", "british-museum/45839934_4117745134.jpg"),
    ("strecha-castle/castle-P30_0014.jpg", "strecha-castle/castle-P30_0019.jpg"),
]


@needs_shared
@pytest.mark.parametrize(("first", "second"), REAL_SCENE_PAIRS)
def test_real_photos_of_one_scene_are_same_scene(first: str, second: str) -> None:
    paths = [SHARED / "scenes" / first, SHARED / "scenes" / second]
    assert all(p.is_file() for p in paths), "the scene photos are missing from the corpus"
    result = compare(*paths)
    assert result.relation == "same-scene", (result.summary, result.transform)
    assert result.changed_regions == []


@needs_shared
def test_real_photos_of_different_scenes_are_not_same_scene() -> None:
    paths = [
        SHARED / "scenes/british-museum/29057984_287139632.jpg",
        SHARED / "scenes/strecha-castle/castle-P30_0014.jpg",
    ]
    assert all(p.is_file() for p in paths), "the scene photos are missing from the corpus"
    assert compare(*paths).relation == "unrelated"
