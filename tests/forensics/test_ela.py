from __future__ import annotations

import numpy as np

from photoloupe.forensics.ela import analyse_ela
from tests.forensics_synth import bright_inside, jpeg_roundtrip, picture, smooth, u8


def _base() -> np.ndarray:
    rng = np.random.default_rng(2)
    return u8(smooth(512, 512, 0) + rng.normal(0, 3, (512, 512, 3)))


def test_block_from_higher_quality_is_found() -> None:
    base = _base()
    low, high = jpeg_roundtrip(base, 70), jpeg_roundtrip(base, 98)
    img = low.copy()
    img[192:320, 256:384] = high[192:320, 256:384]
    f = analyse_ela(picture(img))
    assert f.codes == ("ela_bright_area",)
    assert f.score is not None and f.score > 0.5
    assert f.map is not None
    inside, outside = bright_inside(f.map, (192 / 512, 320 / 512, 256 / 512, 384 / 512))
    assert inside > 0.5 and outside < 0.5
    assert "weak" in f.notes[0]


def test_single_history_is_uniform() -> None:
    f = analyse_ela(picture(jpeg_roundtrip(_base(), 70)))
    assert f.codes == ("ela_uniform",)
    assert f.score == 0.0


def test_smooth_picture_has_no_area() -> None:
    f = analyse_ela(picture(smooth(384, 512, 5)))
    assert not f.score
