"""Detector 3: heads on a frozen encoder and Forensic Self-Descriptions, stacked and calibrated.

`weights/detector3.npz` holds what was trained here (the encoder head, the FSD filters,
whitening and mixture, the stack); `weights/detector3.json` describes it, with the sha256 of
the weights and of the encoder file the head was trained on. Both hashes are checked at load:
a weight file that does not match is refused (`ModelIntegrityError`), and an encoder file
that does not match is treated as missing, so the detector falls back to detector 2 (the
project's own features and CNN) and the report says so.

`training/train_detector3.py` rebuilds the weights from ../shared/data.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect.encoder import (
    CLIP_VIT_B16_INT8,
    LAYERS,
    PROJECTION,
    WIDTH,
    Encoder,
    native_crops,
    resized_crop,
)
from photoloupe.detect.fsd import FsdModel
from photoloupe.detect.heads import FEATURE_SETS, EncoderHead
from photoloupe.detect.model import ModelIntegrityError

WEIGHTS_FILE = "detector3.npz"
MANIFEST_FILE = "detector3.json"
# Which crops a picture's encoder score averages (`training/branches.py` measures each):
# crop set -> how many crops at full resolution beside the whole picture shrunk to 224.
CROP_SETS = {"resized": 0, "resized+centre": 1, "all": 3}


def picture_crops(rgb: npt.NDArray[np.uint8], crop_set: str) -> npt.NDArray[np.uint8]:
    """The encoder's crops of a picture: the resized view first, then those at full
    resolution (the centre first).

    >>> picture_crops(np.zeros((600, 800, 3), np.uint8), "resized+centre").shape
    (2, 224, 224, 3)
    """
    native = CROP_SETS[crop_set]
    parts = [resized_crop(rgb)[None]]
    if native:
        parts.append(native_crops(rgb, native))
    return np.concatenate(parts)


@dataclass(frozen=True)
class BranchScores:
    """What each branch said about one picture (raw logits, positive towards AI)."""

    logits: dict[str, float]
    crop_logits: tuple[float, ...]  # the encoder head's, one per crop


@dataclass(frozen=True)
class Detector3:
    name: str
    version: str
    sha256: str
    head: EncoderHead
    fsd: FsdModel
    branches: tuple[str, ...]  # the stack's inputs, in order
    coef: tuple[float, ...]
    bias: float
    threshold: float  # on the stacked probability
    platt: dict[str, tuple[float, float]]  # each branch alone: probability = sigmoid(a z + b)
    crop_set: str

    def score(self, rgb: npt.NDArray[np.uint8], encoder: Encoder) -> BranchScores:
        crops = picture_crops(rgb, self.crop_set)
        crop_logits = self.head.crop_logits(encoder.embed(crops))
        logits = {"encoder": float(crop_logits.mean())}
        if "fsd" in self.branches:
            logits["fsd"] = self.fsd.logit(rgb)
        return BranchScores(logits, tuple(float(v) for v in crop_logits))

    def probability(self, logits: dict[str, float]) -> float:
        z = sum(c * logits[b] for b, c in zip(self.branches, self.coef, strict=True)) + self.bias
        return float(1.0 / (1.0 + np.exp(-z)))

    def branch_probability(self, branch: str, logit: float) -> float:
        a, b = self.platt[branch]
        return float(1.0 / (1.0 + np.exp(-(a * logit + b))))


def load_detector3(directory: str | None = None) -> Detector3:
    """Load and verify detector 3's weights (the packaged ones by default)."""
    if directory is None:
        return _packaged()
    base = Path(directory)
    return _parse((base / WEIGHTS_FILE).read_bytes(), (base / MANIFEST_FILE).read_text("utf-8"))


@cache
def _packaged() -> Detector3:
    weights = resources.files("photoloupe.detect").joinpath("weights")
    return _parse(
        weights.joinpath(WEIGHTS_FILE).read_bytes(),
        weights.joinpath(MANIFEST_FILE).read_text("utf-8"),
    )


def decision_arrays(
    threshold: float, branches: tuple[str, ...] | list[str], feature_set: str, crop_set: str
) -> dict[str, npt.NDArray[np.generic]]:
    """The fields that decide a verdict, as the arrays stored in the (hashed) weight file.

    >>> sorted(decision_arrays(0.5, ["encoder"], "blocks", "resized"))
    ['decision_branches', 'decision_crop_set', 'decision_feature_set', 'decision_threshold']
    """
    return {
        "decision_threshold": np.array(threshold, dtype=np.float64),
        "decision_branches": np.array(list(branches), dtype=np.str_),
        "decision_feature_set": np.array(feature_set, dtype=np.str_),
        "decision_crop_set": np.array(crop_set, dtype=np.str_),
    }


def _parse(blob: bytes, manifest_text: str) -> Detector3:
    try:
        manifest = json.loads(manifest_text)
        expected = str(manifest["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"The detector's manifest is unreadable: {exc}") from exc
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise ModelIntegrityError(
            f"The detector weights do not match their recorded fingerprint (expected "
            f"{expected[:12]}…, found {digest[:12]}…); refusing to use them."
        )
    # The weight file is authenticated by its hash; the rest of the manifest is not, so
    # everything that decides a verdict is read from the weights and the manifest must agree.
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as a:
            return _build(a, manifest, digest)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelIntegrityError(f"The detector's weights are incomplete: {exc}") from exc


def _build(a: np.lib.npyio.NpzFile, manifest: dict[str, object], digest: str) -> Detector3:
    threshold = float(a["decision_threshold"])
    branches = tuple(str(b) for b in a["decision_branches"])
    feature_set = str(a["decision_feature_set"])
    crop_set = str(a["decision_crop_set"])
    encoder = manifest.get("encoder")
    if not isinstance(encoder, dict) or encoder.get("sha256") != CLIP_VIT_B16_INT8.sha256:
        raise ModelIntegrityError("The detector's head was trained on another encoder.")
    listed = manifest.get("branches")
    stated: tuple[object, ...] = (
        manifest.get("threshold"),
        tuple(listed) if isinstance(listed, list) else listed,
        manifest.get("feature_set"),
        manifest.get("crop_set"),
    )
    if stated != (threshold, branches, feature_set, crop_set):
        raise ModelIntegrityError(
            "The detector's manifest disagrees with its weights (threshold, branches, "
            "feature set or crop set); refusing to use them."
        )
    if crop_set not in CROP_SETS:
        raise ModelIntegrityError(f"Unknown encoder crop set {crop_set!r}.")
    if feature_set not in FEATURE_SETS:
        raise ModelIntegrityError(f"Unknown encoder feature set {feature_set!r}.")
    if not 0.0 < threshold < 1.0:
        raise ModelIntegrityError(f"The detector's threshold {threshold} is not a probability.")
    head = EncoderHead(
        feature_set=feature_set,
        mean=a["head_mean"].astype(np.float32),
        scale=a["head_scale"].astype(np.float32),
        coef=a["head_coef"].astype(np.float32),
        intercept=float(a["head_intercept"]),
    )
    fsd = FsdModel(
        filters=a["fsd_filters"].astype(np.float64),
        mean=a["fsd_mean"].astype(np.float64),
        components=a["fsd_components"].astype(np.float64),
        weights=a["fsd_weights"].astype(np.float64),
        means=a["fsd_means"].astype(np.float64),
        precision_cholesky=a["fsd_precision_cholesky"].astype(np.float64),
        z_mean=float(a["fsd_z"][0]),
        z_std=float(a["fsd_z"][1]),
    )
    platt = {b: (float(a[f"platt_{b}"][0]), float(a[f"platt_{b}"][1])) for b in branches}
    coef = tuple(float(c) for c in a["stack_coef"])
    bias = float(a["stack_bias"])
    if (
        len(coef) != len(branches)
        or branches[:1] != ("encoder",)
        or not set(branches)
        <= {
            "encoder",
            "fsd",
        }
    ):
        raise ModelIntegrityError("The detector's stack does not match its branches.")
    width = PROJECTION if feature_set == "projection" else LAYERS * WIDTH + PROJECTION
    if not head.coef.shape == head.mean.shape == head.scale.shape == (width,):
        raise ModelIntegrityError("The detector's encoder head does not fit its feature set.")
    return Detector3(
        name=str(manifest.get("name")),
        version=str(manifest.get("version")),
        sha256=digest,
        head=head,
        fsd=fsd,
        branches=branches,
        coef=coef,
        bias=bias,
        threshold=threshold,
        platt=platt,
        crop_set=crop_set,
    )
