"""Pack 128-px crops of the corpus (PNG, about 47 MB) for the CNN probe: small enough to carry
to a lent GPU machine. Experiment only: nothing here is shipped.

    .venv/bin/python -m training.experiments.pack_crops   # writes .gpu_exp/crops.npz
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photoloupe.io import load_picture
from training import dataset

OUT = Path(__file__).resolve().parents[2] / ".gpu_exp" / "crops.npz"
SIDE = 128
CROPS = {1: 2, 0: 5}  # per AI picture, per camera photo


def main() -> None:
    rng = np.random.default_rng(0)
    blobs: list[np.ndarray] = []
    meta: dict[str, list[object]] = {"label": [], "fold": [], "group": [], "owner": []}
    for n, item in enumerate(dataset.items()):
        rgb = load_picture(dataset.SHARED / item.path).pixels
        h, w = rgb.shape[:2]
        if min(h, w) < SIDE:
            continue
        for _ in range(CROPS[item.label]):
            y = int(rng.integers(0, h - SIDE + 1))
            x = int(rng.integers(0, w - SIDE + 1))
            crop = cv2.cvtColor(
                np.ascontiguousarray(rgb[y : y + SIDE, x : x + SIDE]), cv2.COLOR_RGB2BGR
            )
            _, buf = cv2.imencode(".png", crop, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            blobs.append(np.frombuffer(buf.tobytes(), np.uint8))
            for key, value in zip(meta, (item.label, item.fold, item.group, n), strict=True):
                meta[key].append(value)
    OUT.parent.mkdir(exist_ok=True)
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    np.savez(
        OUT,
        blob=np.concatenate(blobs),
        offsets=offsets,
        **{k: np.asarray(v) for k, v in meta.items()},
    )
    print(f"{len(blobs)} crops, {offsets[-1] / 1e6:.1f} MB -> {OUT}")


if __name__ == "__main__":
    main()
