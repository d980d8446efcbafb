"""Leave-generator-out benchmark of the AI-image detector, plus its speed.

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
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scan_timer import time_scan  # noqa: E402
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


def speed() -> None:
    import cv2

    from photoloupe.detect import detect_ai
    from photoloupe.io import load_picture

    scene = cv2.resize(
        np.asarray(load_picture(ROOT / "examples" / "harbour.jpg").pixels), (4000, 3000)
    )
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
    picture = load_picture(buf.tobytes(), name="12mp.jpg")
    detect_ai(picture)  # load the model once
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        detect_ai(picture)
        runs.append(time.perf_counter() - started)
    print(f"\n== detector on a 12-megapixel picture: {min(runs):.3f} s (best of 3)")

    sources = sorted((dataset.SHARED / "ai" / "stable-diffusion-v1-4").glob("*.jpg"))[:50]
    sources += sorted((dataset.SHARED / "real" / "camera").glob("*.jpg"))[:50]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        count = 0
        for n, source in enumerate(sources):
            rgb = load_picture(source).pixels
            h, w = rgb.shape[:2]
            if min(h, w) < 512:
                rgb = cv2.resize(rgb, (512, 512))
            y, x = (h - 512) // 2 if h >= 512 else 0, (w - 512) // 2 if w >= 512 else 0
            tile = np.ascontiguousarray(rgb[y : y + 512, x : x + 512])
            cv2.imwrite(str(folder / f"{n:03d}.png"), cv2.cvtColor(tile, cv2.COLOR_RGB2BGR))
            count += 1
        for label, extra in (("scan --quick", ("--quick",)), ("scan (full report)", ())):
            _, elapsed = time_scan(folder, 2, *extra)
            print(
                f"== {label} --workers 2 on {count} pictures of 512x512: "
                f"{count / elapsed:.1f} images/s ({elapsed:.1f} s, process start-up included)"
            )


if __name__ == "__main__":
    if not dataset.SHARED.is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    if "--speed-only" not in sys.argv:
        evaluate()
    if "--no-speed" not in sys.argv:
        speed()
