"""`ai_regions`: the AI detector run window by window."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from photoloupe.forensics.ai_regions import analyse_ai_regions, window_origins
from photoloupe.io import load_picture


def _jpeg_bytes(rgb: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_windows_cover_the_picture() -> None:
    for h, w in [(256, 256), (300, 700), (768, 1024), (3000, 4000)]:
        origins = window_origins(h, w)
        assert 1 <= len(origins) <= 20
        assert max(y for y, _ in origins) + 256 == h
        assert max(x for _, x in origins) + 256 == w
    assert window_origins(200, 900) == []


def test_ai_regions_map_and_windows() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.normal(128, 20, (512, 640, 3)).clip(0, 255).astype(np.uint8)
    finding = analyse_ai_regions(load_picture(_jpeg_bytes(rgb)))
    assert finding.score is not None and 0.0 <= finding.score <= 1.0
    assert finding.map is not None and finding.map.min() >= 0.0 and finding.map.max() <= 1.0
    assert finding.map.shape == (32, 40)
    windows = finding.details["windows"]
    assert isinstance(windows, list) and len(windows) == 12
    assert finding.evidence_of is None


def test_ai_regions_too_small() -> None:
    rgb = np.full((100, 120, 3), 128, np.uint8)
    finding = analyse_ai_regions(load_picture(_jpeg_bytes(rgb)))
    assert finding.score is None and finding.codes == ("ai_regions_too_small",)
