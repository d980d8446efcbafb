"""A small residual CNN, the detector's second opinion next to the hand-crafted features.

The network (trained here by `training/train_cnn.py`, shipped as ONNX and run with
onnxruntime) starts with a bank of constrained prediction-error filters: each 5×5 filter sums
to zero, so it sees how a pixel departs from its neighbourhood and never the picture's content
or brightness (Bayar & Stamm's constrained convolution). Five small convolution blocks and a
global average follow; the output is a logit, positive towards "generated".

It reads up to `GRID`×`GRID` crops of `CROP` pixels spread evenly over the picture, at the
picture's own resolution (resizing would wash the traces out), and returns their mean logit.
The features model and this one make different mistakes; `model.py` combines their logits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from photoloupe._onnx import cpu_session

CROP = 128
GRID = 3
MIN_CNN_SIDE = 32  # the network downsamples twice; below this it has nothing to read


def crop_origins(
    height: int, width: int, crop: int = CROP, grid: int = GRID
) -> list[tuple[int, int]]:
    """Top-left corners of up to `grid`×`grid` crops spread evenly over the picture.

    >>> crop_origins(512, 512)[:3]
    [(0, 0), (0, 192), (0, 384)]
    >>> crop_origins(100, 300)
    [(0, 0)]
    """
    if height < crop or width < crop:
        return [(0, 0)]

    def spread(side: int) -> list[int]:
        n = min(grid, side // crop)
        if n == 1:
            return [(side - crop) // 2]
        return [round(i * (side - crop) / (n - 1)) for i in range(n)]

    return [(y, x) for y in spread(height) for x in spread(width)]


def crops(rgb: npt.NDArray[np.uint8], crop: int = CROP, grid: int = GRID) -> npt.NDArray[np.uint8]:
    """The crops the network reads, as uint8 (n, side, side, 3).

    A picture smaller than `crop` on a side is read whole, cut to a square of its short side.
    """
    h, w = rgb.shape[:2]
    side = min(crop, h, w)
    if side < MIN_CNN_SIDE:
        raise ValueError(f"picture too small for the CNN ({w}×{h})")
    if side < crop:
        y, x = (h - side) // 2, (w - side) // 2
        return np.ascontiguousarray(rgb[None, y : y + side, x : x + side])
    return np.stack([rgb[y : y + crop, x : x + crop] for y, x in crop_origins(h, w, crop, grid)])


def as_input(batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """uint8 (n, h, w, 3) -> float32 (n, 3, h, w) in [0, 1], the network's input."""
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)


class CnnModel:
    """The shipped network, run by onnxruntime on the CPU. Its bytes are hash-checked by
    `model.py` before they reach this class."""

    def __init__(self, onnx_bytes: bytes, threads: int | None = None) -> None:
        self._session = cpu_session(onnx_bytes, threads)
        self._input = self._session.get_inputs()[0].name

    def crop_logits(self, rgb: npt.NDArray[np.uint8], grid: int = GRID) -> npt.NDArray[np.float64]:
        """One logit per crop the network reads (positive towards AI-generated)."""
        return self.crop_logits_of(crops(rgb, grid=grid))

    def crop_logits_of(self, batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """Logits of crops already cut, uint8 (n, side, side, 3)."""
        out = self._session.run(None, {self._input: as_input(batch)})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def logit(self, rgb: npt.NDArray[np.uint8], grid: int = GRID) -> float:
        """The picture's raw score: the mean logit over its crops (`grid`² at most)."""
        return float(self.crop_logits(rgb, grid).mean())
