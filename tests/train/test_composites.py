"""`training.composites`: every kind of edit changes the masked area, and only it (issue 14)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from training import composites, taef2


def _photo(seed: int, size: tuple[int, int] = (256, 320)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (size[0] // 16, size[1] // 16, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((size[1], size[0]), Image.Resampling.BICUBIC))
    noise = rng.normal(0, 3, (*size, 3))
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def _check(host: np.ndarray, pixels: np.ndarray, mask: np.ndarray) -> None:
    assert pixels.shape == host.shape and mask.shape == host.shape[:2]
    share = float(mask.mean())
    assert composites.AREA[0] * 0.5 <= share <= composites.AREA[1] * 1.2
    changed = np.abs(pixels.astype(int) - host.astype(int)).max(axis=2) > 0
    # Nothing changes far from the mask (the feather reaches a few pixels beyond it).
    near = ndimage.binary_dilation(mask, iterations=12)
    assert not changed[~near].any()
    assert changed[mask].mean() > 0.5


@pytest.mark.parametrize("seed", range(4))
def test_pixel_edits_change_the_masked_area_only(seed: int) -> None:
    host, donor = _photo(seed), _photo(seed + 100, (400, 400))
    for kind in ("ai_paste", "splice", "copy_move", "inpaint"):
        rng = composites._rng("test", seed, kind)
        if kind == "ai_paste":
            pixels, mask = composites.paste(host, donor, rng)
        elif kind == "splice":
            pixels, mask = composites.splice(host, donor, rng)
        elif kind == "copy_move":
            pixels, mask = composites.copy_move(host, rng)
        else:
            pixels, mask = composites.inpaint(host, rng)
        _check(host, pixels, mask)


@pytest.mark.skipif(
    not taef2.available(), reason="../shared/models/taef2 is not beside the checkout"
)
def test_the_latent_round_trip_keeps_the_scene_and_changes_the_pixels() -> None:
    host = _photo(7)
    pixels, mask = composites.regenerate(host, composites._rng("test", "ae"))
    _check(host, pixels, mask)
    diff = np.abs(pixels.astype(float) - host.astype(float))[mask].mean()
    assert 0.5 < diff < 20  # the same scene, other pixels


def test_a_repost_is_the_first_save_decoded_and_saved_again() -> None:
    host = _photo(3)
    once, twice = composites.save(host, (90,)), composites.save(host, (90, 80))
    with Image.open(io.BytesIO(once)) as im:
        again = composites.save(np.asarray(im.convert("RGB")), (80,))
    assert twice == again and twice != composites.save(host, (80,))
    with Image.open(io.BytesIO(twice)) as im:
        assert im.format == "JPEG" and im.size == (320, 256)
