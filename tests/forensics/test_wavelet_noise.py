"""`wavelet_noise`: the analysis added as one module and one registry line (issue 12)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from photoloupe.forensics.wavelet_noise import BLOCK, analyse_wavelet_noise
from photoloupe.io import load_picture
from photoloupe.registry import ANALYSES


def _png(grey: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(buf, "PNG")
    return buf.getvalue()


def _noisy(size: int, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 190, size, dtype=np.float64)[None, :].repeat(size, axis=0)
    return ramp + rng.normal(0, sigma, (size, size))


def test_a_noisier_pasted_square_is_found_and_its_twin_is_consistent() -> None:
    twin = _noisy(1024, 2.0)
    tampered = twin.copy()
    tampered[256:640, 384:768] = _noisy(1024, 9.0, seed=1)[256:640, 384:768]
    found = analyse_wavelet_noise(load_picture(_png(np.clip(tampered, 0, 255).astype(np.uint8))))
    plain = analyse_wavelet_noise(load_picture(_png(np.clip(twin, 0, 255).astype(np.uint8))))
    assert found.codes == ("wavelet_noise_inconsistent_area",) and (found.score or 0) > 0.5
    assert plain.codes == ("wavelet_noise_consistent",) and plain.score == 0.0
    assert found.map is not None and found.map.shape == (1024 // BLOCK, 1024 // BLOCK)
    inside = found.map[256 // BLOCK : 640 // BLOCK, 384 // BLOCK : 768 // BLOCK].mean()
    outside = found.map[:2].mean()
    assert inside > 0.8 and outside < 0.2


def test_small_or_flat_pictures_are_not_judged() -> None:
    small = analyse_wavelet_noise(load_picture(_png(np.full((200, 200), 128, np.uint8))))
    assert small.score is None and small.codes == ("wavelet_noise_too_small",)
    flat = analyse_wavelet_noise(load_picture(_png(np.full((1024, 1024), 128, np.uint8))))
    assert flat.score is None and flat.codes == ("wavelet_noise_not_measurable",)


def test_it_is_registered_as_a_local_analysis() -> None:
    (spec,) = [s for s in ANALYSES if s.name == "wavelet_noise"]
    assert spec.kind == "local" and spec.run is analyse_wavelet_noise
    assert "wavelet_noise_inconsistent_area" in spec.area_codes
