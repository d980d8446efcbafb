"""`forensics.maps`: the helpers every block-map analysis shares."""

from __future__ import annotations

import numpy as np
import pytest

from photoloupe.forensics import maps


def test_robust_z_ignores_a_deviating_minority_and_invalid_blocks() -> None:
    values = np.ones((10, 10), np.float32)
    values[0, :3] = 50.0  # a tampered minority does not move the reference
    valid = np.ones((10, 10), bool)
    valid[9, 9] = False
    z = maps.robust_z(values, valid, floor=0.5)
    assert z[5, 5] == 0.0 and z[0, 0] == pytest.approx(98.0)  # (50 - 1) / floor
    assert z[9, 9] == 0.0
    assert not maps.robust_z(values, np.zeros_like(valid), 0.5).any()


def test_masked_blur_neither_reads_nor_writes_invalid_blocks() -> None:
    values = np.full((5, 5), 2.0, np.float32)
    valid = np.ones((5, 5), bool)
    values[2, 2], valid[2, 2] = 100.0, False
    out = maps.masked_blur(values, valid, 3)
    assert out[2, 2] == 0.0 and np.allclose(out[valid], 2.0)
    np.testing.assert_array_equal(maps.masked_blur(values, valid, 1)[valid], values[valid])


def test_sigmoid_map_is_half_at_the_centre_and_bounded() -> None:
    out = maps.sigmoid_map(np.array([-1e9, 4.0, 1e9], np.float32), 4.0, 0.6)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(0.0, abs=1e-6) and out[1] == 0.5
    assert out[2] == pytest.approx(1.0)


def test_coherent_area_score_prefers_a_connected_area_to_scattered_blocks() -> None:
    scattered = np.zeros((20, 20), np.float32)
    scattered[::4, ::4] = 1.0  # 25 lone blocks
    area = np.zeros((20, 20), np.float32)
    area[5:8, 5:8] = 0.9  # 9 connected blocks
    assert maps.coherent_area_score(scattered) == (0.0, 0.0)
    score, fraction = maps.coherent_area_score(area)
    assert score == pytest.approx(0.9) and fraction == pytest.approx(9 / 400)
    # A small area is scaled down until it has `full_cells` blocks.
    small = np.zeros((20, 20), np.float32)
    small[0, :3] = 1.0
    assert maps.coherent_area_score(small)[0] == pytest.approx(0.5)
    assert maps.coherent_area_score(np.zeros((0, 0), np.float32)) == (0.0, 0.0)


def test_integer_factor_and_working_luma() -> None:
    assert maps.integer_factor(1000, 1000, 1_000_000) == 1
    assert maps.integer_factor(4000, 3000, 3_000_000) == 2
    rgb = np.full((400, 300, 3), 100, np.uint8)
    luma, factor = maps.work_luma(rgb, 30_000)
    assert factor == 2 and luma.shape == (200, 150) and np.allclose(luma, 100, atol=0.5)


def test_valid_pixels_and_not_applicable() -> None:
    assert maps.valid_pixels(np.zeros((2, 2, 3), np.uint8))
    assert not maps.valid_pixels(np.zeros((2, 2), np.uint8))
    assert not maps.valid_pixels(np.zeros((2, 2, 3), np.float32))
    assert not maps.valid_pixels([[0]])
    finding = maps.not_applicable("x_too_small", "Too small.", side=3)
    assert finding.score is None and finding.map is None and finding.details == {"side": 3}
