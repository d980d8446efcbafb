"""`local_statistics`: the per-cell statistics the fusion reads beside the maps."""

from __future__ import annotations

import numpy as np

from photoloupe.forensics.local_statistics import STAT_NAMES, cell_statistics, relative


def test_local_statistics_see_a_noisier_patch() -> None:
    rng = np.random.default_rng(5)
    base = np.full((256, 256, 3), 120.0) + rng.normal(0, 2, (256, 256, 3))
    base[96:160, 96:160] += rng.normal(0, 10, (64, 64, 3))
    stats = cell_statistics(base.clip(0, 255).astype(np.uint8))
    assert stats.shape == (8, 8, len(STAT_NAMES))
    rel = relative(stats)
    highpass = STAT_NAMES.index("highpass")
    assert rel[3:5, 3:5, highpass].min() > 3.0  # the noisy cells stand out
    assert np.abs(rel[:2, :2, highpass]).max() < 2.0  # the rest does not


def test_local_statistics_are_bounded_on_large_pictures() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (2048, 3072, 3), dtype=np.uint8)
    stats = cell_statistics(rgb, max_cells=600)
    assert stats.shape == (64, 96, len(STAT_NAMES))
    # Measured on every 3rd cell; the skipped cells repeat their measured neighbour.
    assert np.array_equal(stats[0, 0], stats[1, 1])
    assert np.isfinite(stats).all()
