"""Detector 3's views of one picture: what the benchmark scores and what training reads.

Deterministic per file (seeded by its path), so that every branch (encoder heads, FSD, patch
CNN) is trained and measured on the same pixels. Both classes, and the aligned twins of real
photos, go through exactly the same transforms.

- `clean`: the pixels as stored;
- `repost`: resize 0.5-1 (Lanczos or bicubic), JPEG 70-95 by OpenCV or Pillow (the
  benchmark's social-media condition);
- `sized`: the picture shrunk (area) to a short side drawn in 256-1024 (never enlarged), JPEG
  90: the size sweep behind the size-score correlation;
- `train0`, `train1`, ...: copies from the wider training laundering.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect.laundering import (
    jpeg,
    jpeg_with,
    launder_wide,
    repost,
    repost_draws,
    resize,
)

RGB = npt.NDArray[np.uint8]
EVALUATION_VIEWS = ("clean", "repost", "sized")
TRAINING_COPIES = 3
SIZE_RANGE = (256, 1024)


def seed(path: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{path}".encode()).hexdigest()[:8], 16)


def repost_parameters(path: str, shape: tuple[int, ...]) -> tuple[float, str, int, str]:
    """What the repost view of `path` did: (factor, resampler, JPEG quality, encoder)."""
    return repost_draws(shape, np.random.default_rng(seed(path, "v3-repost")))


def evaluation_views(path: str, rgb: RGB) -> dict[str, RGB]:
    rng = np.random.default_rng(seed(path, "v3-eval"))
    h, w = rgb.shape[:2]
    short = min(h, w)
    target = int(rng.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    sized = resize(rgb, target / short) if target < short else rgb
    return {
        "clean": rgb,
        "repost": repost(rgb, np.random.default_rng(seed(path, "v3-repost"))),
        "sized": jpeg(sized, 90),
    }


def training_views(
    path: str, label: int, rgb: RGB, copies: int = TRAINING_COPIES
) -> dict[str, RGB]:
    """`copies` laundered training copies. Half of the AI copies get one JPEG save at 85-98
    first: every camera photo carries its camera's JPEG history and most AI files do not, and
    "was once a JPEG" must not tell the classes apart."""
    rng = np.random.default_rng(seed(path, "v3-train"))
    out = {}
    for k in range(copies):
        source = rgb
        if label == 1 and rng.random() < 0.5:
            quality = int(rng.integers(85, 99))
            source = jpeg_with(rgb, quality, ("opencv", "pillow")[int(rng.integers(2))])
        out[f"train{k}"] = launder_wide(source, rng)
    return out


def save_by_view(path: Path, by_path: dict[str, dict[str, np.ndarray]]) -> None:
    """One .npz of arrays keyed "picture|view" (the caches of per-view descriptions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"{p}|{v}": a for p, by in by_path.items() for v, a in by.items()})


def load_by_view(path: Path) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as d:
        for key in d.files:
            p, view = key.rsplit("|", 1)
            out.setdefault(p, {})[view] = d[key]
    return out
