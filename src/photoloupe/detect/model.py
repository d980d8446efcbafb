"""The shipped AI-image detector: load the weights, check their hash, score tile features.

The model is deliberately small and transparent: standardised hand-crafted features
(`features.py`), a logistic regression per tile, the mean tile logit per picture, and Platt
calibration fitted on leave-generator-out predictions. Everything is numpy; the weights are a
few kilobytes. `training/train_detector.py` rebuilds them from ../shared/data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from photoloupe.errors import PhotoloupeError

WEIGHTS_FILE = "detector.npz"
MANIFEST_FILE = "detector.json"


class ModelIntegrityError(PhotoloupeError):
    """The weight file on disk is not the one this version of photoloupe was shipped with."""

    code = "model_integrity"


@dataclass(frozen=True)
class DetectorModel:
    name: str
    version: str
    sha256: str
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: float
    calibration: tuple[float, float]  # probability = sigmoid(a * logit + b)
    threshold: float  # on the calibrated probability
    groups: dict[str, tuple[int, int]]  # feature group -> [start, stop) column range

    def tile_logits(self, tiles: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        z = (tiles.astype(np.float64) - self.mean) / self.scale
        return np.asarray(z @ self.coef + self.intercept, dtype=np.float64)

    def logit(self, tiles: npt.NDArray[np.float32]) -> float:
        """The picture's raw score: the mean logit over its tiles."""
        return float(self.tile_logits(tiles).mean())

    def probability(self, logit: float) -> float:
        """Calibrated probability that the picture is AI-generated."""
        a, b = self.calibration
        return float(1.0 / (1.0 + np.exp(-(a * logit + b))))

    def contributions(self, tiles: npt.NDArray[np.float32]) -> dict[str, float]:
        """How much each feature group pushed the mean logit (positive: towards AI)."""
        z = (tiles.astype(np.float64).mean(axis=0) - self.mean) / self.scale
        return {
            name: float(z[start:stop] @ self.coef[start:stop])
            for name, (start, stop) in self.groups.items()
        }


def load_model(directory: str | None = None) -> DetectorModel:
    """Load and verify the detector. Raises `ModelIntegrityError` on a hash mismatch.

    `directory` defaults to the weights shipped in the package.
    """
    if directory is None:
        return _packaged_model()
    from pathlib import Path

    base = Path(directory)
    return _parse((base / WEIGHTS_FILE).read_bytes(), (base / MANIFEST_FILE).read_text("utf-8"))


@cache
def _packaged_model() -> DetectorModel:
    weights = resources.files("photoloupe.detect").joinpath("weights")
    return _parse(
        weights.joinpath(WEIGHTS_FILE).read_bytes(),
        weights.joinpath(MANIFEST_FILE).read_text("utf-8"),
    )


def _parse(blob: bytes, manifest_text: str) -> DetectorModel:
    manifest = json.loads(manifest_text)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest["sha256"]:
        raise ModelIntegrityError(
            f"The detector weights do not match their recorded fingerprint "
            f"(expected {manifest['sha256'][:12]}…, found {digest[:12]}…); refusing to use them."
        )
    import io

    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        return DetectorModel(
            name=str(manifest["name"]),
            version=str(manifest["version"]),
            sha256=digest,
            mean=arrays["mean"].astype(np.float64),
            scale=arrays["scale"].astype(np.float64),
            coef=arrays["coef"].astype(np.float64),
            intercept=float(arrays["intercept"]),
            calibration=(float(arrays["calibration"][0]), float(arrays["calibration"][1])),
            threshold=float(manifest["threshold"]),
            groups={k: (int(v[0]), int(v[1])) for k, v in manifest["groups"].items()},
        )
