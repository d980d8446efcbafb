from __future__ import annotations

import numpy as np

from photoloupe.forensics.cfa import analyse_cfa
from tests.forensics_synth import bright_inside, picture, smooth


def _demosaiced(h: int, w: int, seed: int) -> np.ndarray:
    """Bayer (RGGB) sampling of a noisy smooth picture, then bilinear demosaicing of green."""
    rng = np.random.default_rng(seed)
    scene = smooth(h, w, seed) + rng.normal(0, 4, (h, w, 3))
    out = scene.copy()
    g = scene[..., 1]
    yy, xx = np.mgrid[0:h, 0:w]
    measured = (yy + xx) % 2 == 1  # green sites of an RGGB mosaic
    pad = np.pad(g, 1, mode="reflect")
    avg = 0.25 * (pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:])
    out[..., 1] = np.where(measured, g, avg)
    return out


def test_non_demosaiced_block_is_found() -> None:
    img = _demosaiced(512, 512, 1)
    rng = np.random.default_rng(9)
    img[192:352, 192:352] = smooth(160, 160, 4) + rng.normal(0, 4, (160, 160, 3))
    f = analyse_cfa(picture(img))
    assert f.codes == ("cfa_inconsistent_area",)
    assert f.score is not None and f.score > 0.3
    assert f.map is not None
    inside, outside = bright_inside(f.map, (192 / 512, 352 / 512, 192 / 512, 352 / 512))
    assert inside > 0.5 and outside < 0.5


def test_demosaiced_picture_is_consistent() -> None:
    f = analyse_cfa(picture(_demosaiced(512, 512, 2)))
    assert f.codes == ("cfa_consistent",)
    assert f.score == 0.0


def test_picture_without_trace_is_not_applicable() -> None:
    rng = np.random.default_rng(3)
    f = analyse_cfa(picture(smooth(512, 512, 3) + rng.normal(0, 4, (512, 512, 3))))
    assert f.codes == ("cfa_not_applicable",)
    assert f.score is None and f.map is None
