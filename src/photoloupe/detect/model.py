"""The shipped AI-image detector: load the weights, check their hash, score tile features.

Two small models read the pixels: standardised hand-crafted features (`features.py`) with a
logistic regression per tile, averaged over the picture's tiles; and a residual CNN (`cnn.py`,
ONNX, averaged over its crops). A logistic combination of their two logits, fitted on
leave-generator-out predictions, gives the calibrated probability. Every weight file's sha256
is recorded in the manifest and checked at load. `training/train_detector.py` rebuilds them
from ../shared/data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect.attribution import Attributor
from photoloupe.detect.cnn import CROP, GRID, CnnModel
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
    calibration: tuple[float, float]  # features alone: probability = sigmoid(a * logit + b)
    threshold: float  # on the calibrated probability the detector reports
    groups: dict[str, tuple[int, int]]  # feature group -> [start, stop) column range
    # The second model and how the two are combined; None in a features-only detector (the
    # ones benchmarks train without some folds). The combined probability is
    # sigmoid(w_features * feature_logit + w_cnn * cnn_logit + bias).
    cnn: CnnModel | None = None
    cnn_calibration: tuple[float, float] | None = None  # the CNN alone, as `calibration`
    combination: tuple[float, float, float] | None = None  # (w_features, w_cnn, bias)
    attributor: Attributor | None = None  # nearest generator family, on the same features

    def standardised(self, tiles: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.asarray((tiles.astype(np.float64) - self.mean) / self.scale, dtype=np.float64)

    def tile_logits(self, tiles: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        z = self.standardised(tiles)
        return np.asarray(z @ self.coef + self.intercept, dtype=np.float64)

    def logit(self, tiles: npt.NDArray[np.float32]) -> float:
        """The picture's raw score: the mean logit over its tiles."""
        return float(self.tile_logits(tiles).mean())

    def probability(self, logit: float) -> float:
        """Calibrated probability that the picture is AI-generated."""
        a, b = self.calibration
        return float(1.0 / (1.0 + np.exp(-(a * logit + b))))

    def cnn_probability(self, cnn_logit: float) -> float:
        """Calibrated probability from the CNN alone (needs a detector with a CNN)."""
        if self.cnn_calibration is None:
            raise ValueError("this detector has no CNN")
        a, b = self.cnn_calibration
        return float(1.0 / (1.0 + np.exp(-(a * cnn_logit + b))))

    def combined_probability(self, feature_logit: float, cnn_logit: float | None) -> float:
        """The probability the detector reports: both models combined when it has a CNN,
        the features alone otherwise."""
        if self.combination is None or cnn_logit is None:
            return self.probability(feature_logit)
        w_features, w_cnn, bias = self.combination
        z = w_features * feature_logit + w_cnn * cnn_logit + bias
        return float(1.0 / (1.0 + np.exp(-z)))

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
    base = Path(directory)
    return _parse(
        (base / WEIGHTS_FILE).read_bytes(),
        (base / MANIFEST_FILE).read_text("utf-8"),
        lambda name: (base / name).read_bytes(),
    )


@cache
def _packaged_model() -> DetectorModel:
    weights = resources.files("photoloupe.detect").joinpath("weights")
    return _parse(
        weights.joinpath(WEIGHTS_FILE).read_bytes(),
        weights.joinpath(MANIFEST_FILE).read_text("utf-8"),
        lambda name: weights.joinpath(name).read_bytes(),
    )


def _verified(blob: bytes, expected: str, what: str) -> str:
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise ModelIntegrityError(
            f"The {what} do not match their recorded fingerprint "
            f"(expected {expected[:12]}…, found {digest[:12]}…); refusing to use them."
        )
    return digest


def _parse(blob: bytes, manifest_text: str, read: Callable[[str], bytes]) -> DetectorModel:
    manifest = json.loads(manifest_text)
    digest = _verified(blob, manifest["sha256"], "detector weights")
    cnn = None
    if "cnn" in manifest:
        spec = manifest["cnn"]
        name = str(spec["file"])
        if name in ("", ".", "..") or Path(name).name != name:
            raise ModelIntegrityError("The detector manifest names a file outside its folder.")
        if (spec.get("crop"), spec.get("grid")) != (CROP, GRID):
            # The stacker was calibrated on the crops the network read in training; other
            # crops would give probabilities that mean something else.
            raise ModelIntegrityError(
                "The CNN was calibrated on other crops than this version of photoloupe reads."
            )
        onnx_bytes = read(name)
        _verified(onnx_bytes, spec["sha256"], "CNN weights")
        cnn = CnnModel(onnx_bytes)
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
            cnn=cnn,
            cnn_calibration=_pair(arrays, "cnn_calibration") if cnn is not None else None,
            combination=_triple(arrays, "combination") if cnn is not None else None,
            attributor=_attributor(arrays, manifest.get("attribution")),
        )


def _attributor(arrays: np.lib.npyio.NpzFile, spec: object) -> Attributor | None:
    if not isinstance(spec, dict):
        return None
    return Attributor(
        families=tuple(str(f) for f in spec["families"]),
        coef=arrays["attribution_coef"].astype(np.float64),
        intercept=arrays["attribution_intercept"].astype(np.float64),
        min_confidence=float(spec["min_confidence"]),
    )


def _pair(arrays: np.lib.npyio.NpzFile, key: str) -> tuple[float, float]:
    a, b = (float(v) for v in arrays[key])
    return a, b


def _triple(arrays: np.lib.npyio.NpzFile, key: str) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in arrays[key])
    return a, b, c
