from __future__ import annotations

import cv2
import numpy as np

from photoloupe.forensics.resampling import analyse_resampling
from tests.forensics_synth import bright_inside, picture, smooth, u8


def _noisy() -> np.ndarray:
    rng = np.random.default_rng(1)
    return smooth(512, 512, 0) + rng.normal(0, 3, (512, 512, 3))


def test_upscaled_paste_is_found() -> None:
    img = _noisy()
    up = cv2.resize(u8(img)[:120, :120], (180, 180), interpolation=cv2.INTER_LINEAR)
    img[200:380, 150:330] = up
    f = analyse_resampling(picture(img))
    assert "resampling_local" in f.codes
    assert f.score is not None and f.score > 0.3
    assert f.details["global_resampling"] is False
    assert f.map is not None
    inside, outside = bright_inside(f.map, (200 / 512, 380 / 512, 150 / 512, 330 / 512))
    assert inside > 0.5 and outside < 0.5


def test_untouched_noisy_picture_has_none() -> None:
    f = analyse_resampling(picture(_noisy()))
    assert f.codes == ("resampling_none",)
    assert f.score == 0.0


def test_globally_resized_picture_is_reported_as_global() -> None:
    small = u8(_noisy())[:340, :340]
    f = analyse_resampling(picture(cv2.resize(small, (510, 510), interpolation=cv2.INTER_LINEAR)))
    assert f.details["global_resampling"] is True
    assert "resampling_global" in f.codes


def test_smooth_picture_has_no_area() -> None:
    f = analyse_resampling(picture(smooth(384, 512, 5)))
    assert not f.score
