"""Rebuild the shipped AI-image detector from ../shared/data.

    make train        # or: .venv/bin/python -m training.train_detector

Steps (about 3 minutes on 2 cores, no GPU):
1. features of every corpus image, clean and laundered (`training.dataset`, cached);
2. leave-generator-out predictions (5 folds holding out whole generators and camera makes),
   used only to fit the calibration and choose the threshold;
3. the final logistic regression on every laundered training copy;
4. weights + manifest (with their sha256) into src/photoloupe/detect/weights/.

Nothing here is tuned on benchmark figures: the regularisation is fixed in advance, and the
benchmark (`benchmarks/detect.py`) repeats steps 2-3 inside each of its own outer folds.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect.features import feature_groups, feature_names
from photoloupe.detect.model import MANIFEST_FILE, WEIGHTS_FILE, DetectorModel
from training import dataset
from training.metrics import fit_logistic, fit_platt, sigmoid, threshold_for_fpr

WEIGHTS_DIR = dataset.ROOT / "src" / "photoloupe" / "detect" / "weights"
L2 = 1e-2  # fixed before any evaluation; not tuned
TARGET_FPR = 0.05  # the shipped threshold lets through at most this share of real photos
CALIBRATION_VARIANTS = ("clean", "laundered", "small")
VERSION = "1.0.0"

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Corpus:
    x: Array
    label: Array
    fold: npt.NDArray[np.int64]
    variant: npt.NDArray[np.str_]
    instance: npt.NDArray[np.int64]
    group: npt.NDArray[np.str_]
    path: npt.NDArray[np.str_]


def load_corpus(rebuild: bool = False) -> Corpus:
    cache = dataset.CACHE / "features.npz"
    if rebuild or not cache.exists():
        dataset.build()
    d = np.load(cache)
    return Corpus(
        x=d["features"].astype(np.float64),
        label=d["label"].astype(np.float64),
        fold=d["fold"].astype(np.int64),
        variant=d["variant"],
        instance=d["instance"].astype(np.int64),
        group=d["group"],
        path=d["path"],
    )


@dataclass(frozen=True)
class Fitted:
    mean: Array
    scale: Array
    coef: Array
    intercept: float

    def tile_logits(self, x: Array) -> Array:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def fit(corpus: Corpus, rows: npt.NDArray[np.bool_]) -> Fitted:
    """Standardise, weigh the classes equally, and fit the logistic regression."""
    x, y = corpus.x[rows], corpus.label[rows]
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    weights = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    coef, intercept = fit_logistic((x - mean) / scale, y, L2, weights)
    return Fitted(mean, scale, coef, intercept)


def picture_logits(
    corpus: Corpus, model: Fitted, rows: npt.NDArray[np.bool_]
) -> tuple[Array, npt.NDArray[np.int64]]:
    """Mean tile logit per picture instance among `rows`, and the first row of each instance."""
    idx = np.flatnonzero(rows)
    logits = model.tile_logits(corpus.x[idx])
    _, first, inverse = np.unique(corpus.instance[idx], return_index=True, return_inverse=True)
    means = np.bincount(inverse, weights=logits) / np.bincount(inverse)
    return means, idx[first]


def out_of_fold(
    corpus: Corpus, folds: list[int], variants: tuple[str, ...]
) -> tuple[Array, npt.NDArray[np.int64]]:
    """Leave-one-fold-out picture logits over `folds` (training only on those folds)."""
    all_logits, all_rows = [], []
    train = corpus.variant == "train"
    for k in folds:
        others = np.isin(corpus.fold, [f for f in folds if f != k])
        model = fit(corpus, train & others)
        held = np.isin(corpus.variant, variants) & (corpus.fold == k)
        logits, rows = picture_logits(corpus, model, held)
        all_logits.append(logits)
        all_rows.append(rows)
    return np.concatenate(all_logits), np.concatenate(all_rows)


def calibrate(corpus: Corpus, folds: list[int]) -> tuple[tuple[float, float], float]:
    """Platt parameters and the probability threshold for TARGET_FPR, from out-of-fold logits."""
    logits, rows = out_of_fold(corpus, folds, CALIBRATION_VARIANTS)
    y = corpus.label[rows]
    a, b = fit_platt(logits, y)
    probability = sigmoid(a * logits + b)
    threshold = max(0.5, threshold_for_fpr(probability[y == 0], TARGET_FPR))
    return (a, b), threshold


def save(
    model: Fitted, calibration: tuple[float, float], threshold: float, extra: dict[str, object]
) -> Path:
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(
        buf,
        mean=model.mean.astype(np.float32),
        scale=model.scale.astype(np.float32),
        coef=model.coef.astype(np.float32),
        intercept=np.float32(model.intercept),
        calibration=np.asarray(calibration, dtype=np.float32),
    )
    blob = buf.getvalue()
    (WEIGHTS_DIR / WEIGHTS_FILE).write_bytes(blob)
    manifest = {
        "name": "photoloupe-residual-logistic",
        "version": VERSION,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "threshold": round(threshold, 6),
        "features": len(feature_names()),
        "groups": {k: list(v) for k, v in feature_groups().items()},
        "training": extra,
    }
    (WEIGHTS_DIR / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    return WEIGHTS_DIR / WEIGHTS_FILE


def model_without(corpus: Corpus, excluded: tuple[int, ...]) -> DetectorModel:
    """A detector trained and calibrated as the shipped one, but without the pictures of the
    `excluded` folds (whole generators and camera makes): for benchmarks that need a detector
    which never saw what they measure on (edit localisation, `benchmarks/localize.py`)."""
    kept = [f for f in sorted(set(corpus.fold.tolist())) if f not in excluded]
    calibration, threshold = calibrate(corpus, kept)
    model = fit(corpus, (corpus.variant == "train") & np.isin(corpus.fold, kept))
    return DetectorModel(
        name="photoloupe-residual-logistic-without-folds-" + "-".join(map(str, excluded)),
        version=VERSION,
        sha256="",
        mean=model.mean,
        scale=model.scale,
        coef=model.coef,
        intercept=model.intercept,
        calibration=calibration,
        threshold=threshold,
        groups=feature_groups(),
    )


def main() -> None:
    corpus = load_corpus()
    folds = sorted(set(corpus.fold.tolist()))
    calibration, threshold = calibrate(corpus, folds)
    model = fit(corpus, corpus.variant == "train")
    train = corpus.variant == "train"
    extra = {
        "images": len(set(corpus.path.tolist())),
        "ai_images": len(set(corpus.path[corpus.label == 1].tolist())),
        "real_images": len(set(corpus.path[corpus.label == 0].tolist())),
        "training_tiles": int(train.sum()),
        "l2": L2,
        "target_fpr": TARGET_FPR,
    }
    path = save(model, calibration, threshold, extra)
    print(
        f"wrote {path.relative_to(dataset.ROOT)}: calibration a={calibration[0]:.3f} "
        f"b={calibration[1]:.3f}, threshold {threshold:.3f}"
    )


if __name__ == "__main__":
    main()
