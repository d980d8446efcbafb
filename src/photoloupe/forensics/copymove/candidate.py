"""What the copy-move stages pass each other: candidate transforms, verified pairs, and the
verification-resolution views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Box = tuple[int, int, int, int]


@dataclass
class Candidate:
    """One proposed transform, source -> target; points N x 2 in the same pixels."""

    matrix: F64  # 2x3
    src: F64
    dst: F64
    branch: str


@dataclass
class Pair:
    candidate: Candidate
    source: Mask
    target: Mask
    support: int


@dataclass
class Views:
    """The verification-resolution luma and the two derived pictures every check reads."""

    luma: F32
    smooth: F32  # luma after light smoothing: what the residual compares
    detail: F32  # luma minus a blur: noise and grain
    textured: Mask  # pixels with structure of their own at a few pixels' scale
    usable: Mask  # pixels neither blown out nor crushed


def rescaled(cand: Candidate, factor: float) -> Candidate:
    """A detection-resolution candidate in verification pixels (the shift is refined later)."""
    if factor == 1.0:
        return cand
    matrix = cand.matrix.copy()
    matrix[:, 2] *= factor
    return Candidate(matrix, cand.src * factor, cand.dst * factor, cand.branch)


# --- keypoint branch -------------------------------------------------------------------------
