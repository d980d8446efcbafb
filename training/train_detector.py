"""Rebuild the shipped AI-image detector from ../shared/data.

    make train        # or: .venv/bin/python -m training.train_detector

Steps (about 25 minutes on 2 cores, no GPU; the `train` extra provides torch and onnx):
1. features of every corpus image, clean and laundered (`training.dataset`, cached);
2. the residual CNN without each fold, and on every fold (`training.train_cnn`, cached);
3. leave-generator-out predictions of both models (5 folds holding out whole generators and
   camera makes), used only to fit the calibrations, the combination and the threshold;
4. the final logistic regression on every laundered training copy;
5. weights + manifest (with their sha256) into src/photoloupe/detect/weights/.

Nothing here is tuned on benchmark figures: the regularisation is fixed in advance, and the
benchmark (`benchmarks/detect.py`) repeats steps 3-4 inside each of its own outer folds.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect import cnn
from photoloupe.detect.attribution import FAMILIES, Attributor
from photoloupe.detect.features import feature_groups, feature_names
from photoloupe.detect.model import MANIFEST_FILE, WEIGHTS_FILE, DetectorModel
from training import dataset, train_cnn
from training.metrics import (
    balanced_weights,
    fit_logistic,
    fit_platt,
    fit_softmax,
    sigmoid,
    threshold_for_fpr,
)

WEIGHTS_DIR = dataset.ROOT / "src" / "photoloupe" / "detect" / "weights"
L2 = 1e-2  # fixed before any evaluation; not tuned
TARGET_FPR = 0.05  # the shipped threshold lets through at most this share of real photos
# Attribution answers "unknown" unless one family has at least this softmax probability: a
# majority, fixed in advance (not chosen on any figure).
ATTRIBUTION_MIN_CONFIDENCE = 0.5
CALIBRATION_VARIANTS = ("clean", "laundered", "small")
VERSION = "2.0.0"
CNN_FILE = "detector_cnn.onnx"

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


def fit_attributor(corpus: Corpus, model: Fitted, rows: npt.NDArray[np.bool_]) -> Attributor:
    """Multinomial logistic regression from the standardised features of the AI training
    copies among `rows` to their generator family, each family weighed equally."""
    family_of = np.array([FAMILIES.get(str(g), "") for g in corpus.group])
    rows = rows & (corpus.variant == "train") & (corpus.label == 1) & (family_of != "")
    families = tuple(sorted(set(family_of[rows].tolist())))
    y = np.searchsorted(np.array(families), family_of[rows])
    counts = np.bincount(y, minlength=len(families)).astype(np.float64)
    x = (corpus.x[rows] - model.mean) / model.scale
    coef, intercept = fit_softmax(x, y, len(families), L2, 1.0 / counts[y])
    return Attributor(families, coef, intercept, ATTRIBUTION_MIN_CONFIDENCE)


CnnScores = dict[str, dict[str, float]]  # view -> path -> mean logit


def cnn_out_of_fold(
    folds: list[int],
    outer: tuple[int, ...],
    scores: dict[tuple[int, ...], CnnScores],
    fold_of: dict[str, int],
) -> dict[tuple[str, str], float]:
    """(view, path) -> logit of the network trained without that file's fold (and without the
    `outer` folds), over the files of `folds` only: the CNN's counterpart of `out_of_fold`.

    A network trained without two folds scored the files of both; only those of the fold in
    hand are taken from it, so that no score of an `outer` file can ever be read here.
    """
    out: dict[tuple[str, str], float] = {}
    for k in folds:
        for view, by_path in scores[tuple(sorted((*outer, k)))].items():
            out.update({(view, p): v for p, v in by_path.items() if fold_of[p] == k})
    return out


@dataclass(frozen=True)
class Ensemble:
    """How the two models' logits become the reported probability, and its threshold."""

    features: tuple[float, float]  # Platt of the features alone
    cnn: tuple[float, float]  # Platt of the CNN alone
    combination: tuple[float, float, float]  # (w_features, w_cnn, bias)
    threshold: float

    def probability(self, feature_logits: Array, cnn_logits: Array) -> Array:
        w_f, w_c, b = self.combination
        return sigmoid(w_f * feature_logits + w_c * cnn_logits + b)


def calibrate_ensemble(
    corpus: Corpus,
    folds: list[int],
    scores: dict[tuple[int, ...], CnnScores],
    outer: tuple[int, ...] = (),
) -> Ensemble:
    """Fit both Platt scalings, the logistic combination of the two logits and the threshold
    for TARGET_FPR, all on out-of-fold predictions over `folds` (never on `outer`)."""
    feature_logits, rows = out_of_fold(corpus, folds, CALIBRATION_VARIANTS)
    fold_of = {str(p): int(f) for p, f in zip(corpus.path, corpus.fold, strict=True)}
    cnn = cnn_out_of_fold(folds, outer, scores, fold_of)
    cnn_logits = np.array([cnn[(str(corpus.variant[r]), str(corpus.path[r]))] for r in rows])
    y = corpus.label[rows]
    coef, bias = fit_logistic(
        np.stack([feature_logits, cnn_logits], axis=1), y, l2=1e-6, weights=balanced_weights(y)
    )
    ensemble = Ensemble(
        features=fit_platt(feature_logits, y),
        cnn=fit_platt(cnn_logits, y),
        combination=(float(coef[0]), float(coef[1]), bias),
        threshold=0.5,
    )
    probability = ensemble.probability(feature_logits, cnn_logits)
    threshold = max(0.5, threshold_for_fpr(probability[y == 0], TARGET_FPR))
    return Ensemble(ensemble.features, ensemble.cnn, ensemble.combination, threshold)


def cnn_scores(folds: list[int], pairs: bool) -> dict[tuple[int, ...], CnnScores]:
    """Held-out CNN logits of networks trained without each fold (and, for the benchmark's
    nested calibration, without each pair of folds); trained once, then cached."""
    data = train_cnn.load_data()
    sets = [s for s in train_cnn.all_fold_sets(folds) if pairs or len(s) == 1]
    return {s: train_cnn.scores_without(data, s) for s in sets}


def save(
    model: Fitted,
    ensemble: Ensemble,
    onnx_bytes: bytes,
    attributor: Attributor,
    extra: dict[str, object],
) -> Path:
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(
        buf,
        mean=model.mean.astype(np.float32),
        scale=model.scale.astype(np.float32),
        coef=model.coef.astype(np.float32),
        intercept=np.float32(model.intercept),
        calibration=np.asarray(ensemble.features, dtype=np.float32),
        cnn_calibration=np.asarray(ensemble.cnn, dtype=np.float32),
        combination=np.asarray(ensemble.combination, dtype=np.float32),
        attribution_coef=attributor.coef.astype(np.float32),
        attribution_intercept=attributor.intercept.astype(np.float32),
    )
    blob = buf.getvalue()
    (WEIGHTS_DIR / WEIGHTS_FILE).write_bytes(blob)
    (WEIGHTS_DIR / CNN_FILE).write_bytes(onnx_bytes)
    manifest = {
        "name": "photoloupe-residual-ensemble",
        "version": VERSION,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "threshold": round(ensemble.threshold, 6),
        "features": len(feature_names()),
        "groups": {k: list(v) for k, v in feature_groups().items()},
        "cnn": {
            "file": CNN_FILE,
            "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "crop": cnn.CROP,
            "grid": cnn.GRID,
        },
        "attribution": {
            "families": list(attributor.families),
            "min_confidence": attributor.min_confidence,
        },
        "training": extra,
    }
    (WEIGHTS_DIR / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    return WEIGHTS_DIR / WEIGHTS_FILE


def model_without(corpus: Corpus, excluded: tuple[int, ...]) -> DetectorModel:
    """A features-only detector (no CNN), trained and calibrated as the shipped features model,
    but without the pictures of the `excluded` folds (whole generators and camera makes): for
    benchmarks that need a detector which never saw what they measure on. Edit localisation
    (`ai_regions`, `benchmarks/localize.py`) only ever reads the features model's tile scores."""
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


def check_export(network: object, onnx_bytes: bytes, data: train_cnn.CnnData) -> None:
    """The ONNX file must give the logits the stacker was calibrated on (torch's), crop by crop."""
    runtime = cnn.CnnModel(onnx_bytes)
    for views in data.views[:: max(1, len(data.views) // 20)]:
        crops = views["clean"]
        expected = train_cnn.picture_logits(network, crops)
        got = float(runtime.crop_logits_of(crops).mean())
        if abs(expected - got) > 1e-3:
            raise RuntimeError(f"ONNX export differs from torch: {got:.5f} vs {expected:.5f}")


def main() -> None:
    corpus = load_corpus()
    folds = sorted(set(corpus.fold.tolist()))
    ensemble = calibrate_ensemble(corpus, folds, cnn_scores(folds, pairs=False))
    model = fit(corpus, corpus.variant == "train")
    network = train_cnn.train(train_cnn.load_data(), excluded=())
    extra = {
        "images": len(set(corpus.path.tolist())),
        "ai_images": len(set(corpus.path[corpus.label == 1].tolist())),
        "real_images": len(set(corpus.path[corpus.label == 0].tolist())),
        "training_tiles": int((corpus.variant == "train").sum()),
        "l2": L2,
        "target_fpr": TARGET_FPR,
        "cnn_steps": train_cnn.STEPS,
        "cnn_batch": train_cnn.BATCH,
    }
    attributor = fit_attributor(corpus, model, np.ones(len(corpus.label), bool))
    onnx_bytes = train_cnn.export(network)
    check_export(network, onnx_bytes, train_cnn.load_data())
    path = save(model, ensemble, onnx_bytes, attributor, extra)
    w_f, w_c, b = ensemble.combination
    print(
        f"wrote {path.relative_to(dataset.ROOT)} and {CNN_FILE}: combination "
        f"{w_f:.3f} x features + {w_c:.3f} x cnn + {b:.3f}, threshold {ensemble.threshold:.3f}"
    )


if __name__ == "__main__":
    main()
