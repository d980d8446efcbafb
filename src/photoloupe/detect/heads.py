"""The head trained here on the frozen encoder's embeddings (`encoder.py`).

A logistic regression on one crop's features; a picture's score is the mean logit over its
crops, so that each part of the picture counts alike whatever its size. `training/` fits it
(`training/encoder_heads.py`) and uses these same functions, so that training and run time
read identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from photoloupe.detect.encoder import LAYERS, PROJECTION, WIDTH

FEATURE_SETS = ("projection", "blocks")


def encoder_features(x: npt.NDArray[np.floating], feature_set: str) -> npt.NDArray[np.float32]:
    """Rows of `Encoder.embed` -> the head's input.

    `projection`: the 512-number image embedding, unit length (as in UnivFD). `blocks`: the
    class token after every transformer block, each normalised as a layer norm would (zero
    mean, unit spread over its 768 numbers), then the unit projection.

    >>> encoder_features(np.ones((2, LAYERS * WIDTH + PROJECTION)), "projection").shape
    (2, 512)
    """
    x = np.asarray(x, dtype=np.float32)
    projection = x[:, -PROJECTION:]
    projection = projection / (np.linalg.norm(projection, axis=1, keepdims=True) + 1e-6)
    if feature_set == "projection":
        return np.ascontiguousarray(projection)
    if feature_set != "blocks":
        raise ValueError(f"unknown feature set {feature_set!r}")
    tokens = x[:, : LAYERS * WIDTH].reshape(-1, LAYERS, WIDTH)
    tokens = tokens - tokens.mean(axis=2, keepdims=True)
    tokens = tokens / (tokens.std(axis=2, keepdims=True) + 1e-6)
    flat = tokens.reshape(len(x), -1) / np.float32(np.sqrt(LAYERS))
    return np.ascontiguousarray(np.concatenate([flat, projection], axis=1))


@dataclass(frozen=True)
class EncoderHead:
    feature_set: str
    mean: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    coef: npt.NDArray[np.float32]
    intercept: float

    def crop_logits(self, x: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """One logit per embedding row (positive towards AI-generated)."""
        z = (encoder_features(x, self.feature_set) - self.mean) / self.scale
        return np.asarray(z @ self.coef + self.intercept, dtype=np.float64)
