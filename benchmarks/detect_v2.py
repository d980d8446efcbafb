"""Leave-generator-out benchmark of detector 2 (features + CNN), the fallback of detector 3.

Its speed, and detector 3's figures, are printed by benchmarks/detect.py.

    .venv/bin/python benchmarks/detect_v2.py

Protocol (issue 3): 5 folds, each holding out whole generators (the modern ones, GPT-4o /
gpt-image-1 / ChatGPT / Nano Banana / Gemini / Seedream, form a fold of their own) and whole
camera makes. For each outer fold both models (features, CNN) are trained on the other four;
their calibrations, their combination and the threshold come from an inner leave-one-fold-out
over those four (CNNs trained without the outer fold and one inner fold), exactly as
`training/train_detector.py` makes the shipped ones. Nothing is tuned on the held-out fold.
The CNNs (15 trainings, about an hour on 2 cores the first time) are cached by
`training/train_cnn.py` in training/.cache/cnn/.

Conditions: clean (the pixels as stored), laundered (resize 0.5-1.0 then JPEG 70-95, with the
OpenCV resampler and encoder that training uses), small (a 256-pixel centre crop), and
laundered_pillow (the same repost through Pillow's Lanczos resampler and libjpeg encoder,
which training never saw). Prints measured figures; asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from training import dataset  # noqa: E402
from training.metrics import (  # noqa: E402
    expected_calibration_error,
    roc_auc,
    sigmoid,
    tpr_at_fpr,
)
from training.train_detector import (  # noqa: E402
    CALIBRATION_VARIANTS,
    calibrate_ensemble,
    cnn_scores,
    fit,
    load_corpus,
    picture_logits,
)

# The last one re-posts with a resampler and encoder that training never used.
CONDITIONS = ("clean", "laundered", "small", "laundered_pillow")


def evaluate() -> None:
    corpus = load_corpus()
    folds = sorted(set(corpus.fold.tolist()))
    scores = cnn_scores(folds, pairs=True)
    results: dict[str, dict[str, list[np.ndarray]]] = {
        c: {"p": [], "y": [], "group": [], "above": [], "features": [], "cnn": []}
        for c in CONDITIONS
    }
    for k in folds:
        inner = [f for f in folds if f != k]
        ensemble = calibrate_ensemble(corpus, inner, scores, outer=(k,))
        model = fit(corpus, (corpus.variant == "train") & np.isin(corpus.fold, inner))
        for condition in CONDITIONS:
            rows = (corpus.variant == condition) & (corpus.fold == k)
            logits, first = picture_logits(corpus, model, rows)
            cnn = np.array([scores[(k,)][condition][str(path)] for path in corpus.path[first]])
            p = ensemble.probability(logits, cnn)
            results[condition]["p"].append(p)
            results[condition]["y"].append(corpus.label[first])
            results[condition]["group"].append(corpus.group[first])
            results[condition]["above"].append(p > ensemble.threshold)
            results[condition]["features"].append(sigmoid(logits))
            results[condition]["cnn"].append(sigmoid(cnn))
    assert set(CALIBRATION_VARIANTS) <= set(CONDITIONS)

    print("== leave-generator-out, 5 folds (nested calibration and threshold)")
    print(
        f"{'condition':16} {'AUC':>6} {'TPR@1%':>7} {'TPR@5%':>7} {'FPR@thr':>8} "
        f"{'TPR@thr':>8} {'ECE':>6} {'n_ai':>5} {'n_real':>6}"
    )
    per_generator: dict[str, dict[str, float]] = {}
    parts: dict[str, tuple[float, float]] = {}
    for condition in CONDITIONS:
        r = {key: np.concatenate(v) for key, v in results[condition].items()}
        y, p, above = r["y"], r["p"], r["above"]
        print(
            f"{condition:16} {roc_auc(y, p):6.3f} {tpr_at_fpr(y, p, 0.01):7.3f} "
            f"{tpr_at_fpr(y, p, 0.05):7.3f} {above[y == 0].mean():8.3f} "
            f"{above[y == 1].mean():8.3f} {expected_calibration_error(y, p):6.3f} "
            f"{int((y == 1).sum()):5d} {int((y == 0).sum()):6d}"
        )
        parts[condition] = (roc_auc(y, r["features"]), roc_auc(y, r["cnn"]))
        for generator in sorted(set(r["group"][y == 1].tolist())):
            mask = (y == 0) | (r["group"] == generator)
            per_generator.setdefault(generator, {})[condition] = roc_auc(y[mask], p[mask])
    print("\n== AUC of each model alone (raw scores of the same held-out folds)")
    for condition, (features_auc, cnn_auc) in parts.items():
        print(f"{condition:16} features {features_auc:.3f}   cnn {cnn_auc:.3f}")
    print("\n== AUC per held-out generator (against all held-out real photos)")
    print(f"{'generator':44} " + " ".join(f"{c:>9}" for c in CONDITIONS))
    for generator, aucs in sorted(per_generator.items(), key=lambda g: g[1]["laundered"]):
        fold = dataset.GENERATOR_FOLDS[generator]
        row = " ".join(f"{aucs[c]:9.3f}" for c in CONDITIONS)
        print(f"{generator[:40]:40} f{fold}  {row}")


if __name__ == "__main__":
    if not dataset.SHARED.is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    evaluate()
