from __future__ import annotations

import cv2
import numpy as np

from photoloupe.forensics.noise import analyse_noise
from tests.forensics_synth import bright_inside, picture, smooth

BOX = (200 / 512, 328 / 512, 100 / 512, 228 / 512)


def _noisy(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return smooth(512, 512, 0) + rng.normal(0, 2, (512, 512, 3))


def test_louder_block_is_found() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 2, (512, 512, 3))
    noise[200:328, 100:228] *= 4
    f = analyse_noise(picture(smooth(512, 512, 0) + noise))
    assert f.codes == ("noise_inconsistent_area",)
    assert f.score is not None and f.score > 0.3
    assert f.map is not None and f.map.dtype == np.float32
    inside, outside = bright_inside(f.map, BOX)
    assert inside > 0.4 and outside < 0.2
    assert f.evidence_of is None


def test_blurred_block_is_found() -> None:
    img = _noisy(1)
    img[200:328, 100:228] = cv2.GaussianBlur(img, (0, 0), 1.5)[200:328, 100:228]
    f = analyse_noise(picture(img))
    assert f.codes == ("noise_inconsistent_area",)
    assert f.score is not None and f.score > 0.3
    assert f.details["quieter_blocks"] > 0


def test_uniform_noise_is_consistent() -> None:
    f = analyse_noise(picture(_noisy(3)))
    assert f.codes == ("noise_consistent",)
    assert f.score == 0.0


def test_smooth_picture_has_no_area() -> None:
    f = analyse_noise(picture(smooth(384, 512, 5)))
    assert not f.score
