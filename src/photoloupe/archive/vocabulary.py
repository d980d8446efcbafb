"""The visual vocabulary and PCA that turn a picture's local features into one global
descriptor, trained here by `training/train_vocabulary.py` and shipped in `weights/`.

>>> v = Vocabulary.shipped()
>>> v.centroids.shape[1], v.dimension
(128, 256)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.archive.features import root_sift, vlad

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

SHIPPED = Path(__file__).with_name("weights") / "vocabulary.npz"


@dataclass(frozen=True)
class Vocabulary:
    """k RootSIFT centroids, and the PCA (mean, projection with its whitening folded in) from
    the k x 128 VLAD down to `dimension`."""

    centroids: F32
    mean: F32
    projection: F32
    sha256: str

    @property
    def dimension(self) -> int:
        return int(self.projection.shape[1])

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        data = path.read_bytes()
        with np.load(path) as npz:
            return cls(
                np.ascontiguousarray(npz["centroids"], np.float32),
                np.ascontiguousarray(npz["mean"], np.float32),
                np.ascontiguousarray(npz["projection"], np.float32),
                hashlib.sha256(data).hexdigest(),
            )

    @staticmethod
    @cache
    def shipped() -> Vocabulary:
        return Vocabulary.load(SHIPPED)

    def describe(self, descriptors: U8) -> F32:
        """The unit-length global descriptor of a picture's SIFT descriptors."""
        return self.project(vlad(root_sift(descriptors), self.centroids))

    def project(self, aggregated: F32) -> F32:
        out = (aggregated - self.mean) @ self.projection
        norm = float(np.linalg.norm(out))
        return np.asarray(out / norm if norm > 0 else out, np.float32)
