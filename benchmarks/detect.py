"""Nested leave-source-out benchmark of detector 3 (issue 11), plus its speed.

    .venv/bin/python benchmarks/detect.py              # figures, then speed
    .venv/bin/python benchmarks/detect.py --no-speed
    .venv/bin/python benchmarks/detect.py --speed-only
    .venv/bin/python benchmarks/detect.py --patch-alone   # the patch network's outer folds

The patch network (`training/train_patch.py`) takes minutes per network on the CPU; its
nested figures (`--patch`) need 15 networks, its figures alone (`--patch-alone`) only the 5
trained without one outer fold each. Its settings are fixed in that module, so nothing is
chosen on inner folds and the outer networks' scores are all it needs to be judged alone.

Protocol: 5 outer folds, each holding out whole generators (fold 1 is the modern generators:
GPT-4o image, gpt-image-1, ChatGPT, Gemini, Nano Banana (Pro), Seedream 5) and whole real
units (camera makes, web repositories, scene sets; `training/corpus.py`). For each outer fold
every branch's configuration is chosen, and the stack, the calibration and the threshold are
fitted, on inner out-of-fold scores of the other four folds (`training/nested.py`); the held-out
fold is scored once. The development photos (real/full, metadata/) are never scored.

Conditions (`training/views.py`): clean (as stored), repost (resize 0.5-1 with Lanczos or
bicubic, then JPEG 70-95 by OpenCV or Pillow; training used area/bicubic resampling), sized
(shrunk to a short side drawn in 256-1024, JPEG 90). Prints measured figures; asserts nothing.
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
from scipy.stats import spearmanr  # noqa: E402
from training import branches, corpus, dataset, nested, views  # noqa: E402
from training.metrics import (  # noqa: E402
    expected_calibration_error,
    roc_auc,
    sigmoid,
    tpr_at_fpr,
)
from training.train_detector3 import STACKABLE  # noqa: E402

CONDITIONS = nested.EVALUATION_VIEWS
MODERN_FOLD = 1


def _source_family(item: corpus.Item) -> str:
    if item.label == 1:
        return "ai"
    head = item.group.split(":", 1)[0]
    return {"make": "camera", "web": "web", "bsds": "bsds500", "scene": "scenes"}.get(head, "other")


def _view_facts(rows: list[dict[str, object]], outers: dict[int, nested.Outer]) -> None:
    """Each row's short side, and whether the detector would answer "inconclusive": the
    reliability read off the view's pixels (size, compression grid, missing fine detail; the
    file-based checks need a file) and the agreement of its crops."""
    from photoloupe.detect import crop_reasons, pixel_reasons
    from photoloupe.io import load_picture

    items = {i.path: i for i in corpus.benchmark_items()}
    by_path: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_path.setdefault(str(row["path"]), []).append(row)
    for path, own in by_path.items():
        named = views.evaluation_views(path, load_picture(dataset.SHARED / path).pixels)
        threshold = outers[items[path].fold].stack.threshold
        for row in own:
            view = named[str(row["view"])]
            low, _ = pixel_reasons(view)
            crop_p = [float(p) for p in row["crop_p"]]  # type: ignore[attr-defined]
            crop_low, _ = crop_reasons(crop_p, threshold)
            row["inconclusive"] = bool(low or crop_low)
            row["side"] = min(view.shape[:2])
            if row["view"] == "repost":
                factor, _, quality, encoder = views.repost_parameters(path, named["clean"].shape)
                row["repost"] = (factor, quality, encoder)


def candidates() -> list[nested.Branch]:
    """The branches measured: the encoder head and FSD always; detector 2's features and the
    patch network when their caches are built (`training.feature_views`, `training.train_patch`)."""
    from training import feature_views, train_patch

    out: list[nested.Branch] = [branches.EncoderBranch(), branches.FsdBranch()]
    if feature_views.cache_file().exists():
        out.append(branches.FeaturesBranch())
    if (train_patch.patch_dir() / "bank.pkl").exists() and "--patch" in sys.argv:
        out.append(branches.PatchBranch())
    return out


def evaluate() -> None:
    measured = candidates()
    names = [b.name for b in measured]
    encoder = measured[0]
    assert isinstance(encoder, branches.EncoderBranch)
    items = {i.path: i for i in corpus.benchmark_items()}
    rows: list[dict[str, object]] = []
    outers: dict[int, nested.Outer] = {}
    for k in nested.FOLDS:
        outer = nested.outer_fold(measured, k, STACKABLE)
        outers[k] = outer
        rest = tuple(f for f in nested.FOLDS if f != k)
        config = outer.chosen["encoder"].config
        crops = encoder.crops(config, rest, (k,))
        # The twins ablation: the chosen configuration with the twins' option flipped.
        flipped = branches.with_twins(config, config.endswith("|no-twins"))
        ablation = encoder.fit_and_score(flipped, rest, (k,))
        members = outer.stack.branches
        keys = nested.common_keys(outer.scores, CONDITIONS)
        p = outer.stack.probability(nested.matrix(outer.scores, keys, members))
        w = dict(zip(members, outer.stack.coef, strict=True))
        for (view, path), prob in zip(keys, p, strict=True):
            item = items[path]
            logits = {b: outer.scores[b][(view, path)] for b in names}
            others = outer.stack.bias + sum(w[b] * logits[b] for b in members if b != "encoder")
            rows.append(
                {
                    "view": view,
                    "path": path,
                    "y": item.label,
                    "fold": k,
                    "group": item.group,
                    "family": _source_family(item),
                    "p": float(prob),
                    "above": bool(prob > outer.stack.threshold),
                    **logits,
                    "flipped": ablation.get((view, path), np.nan),
                    "chosen_twins": not config.endswith("|no-twins"),
                    "crop_p": [
                        float(sigmoid(np.array(others + w["encoder"] * c)))
                        for c in branches.crop_subset(crops[(view, path)], config.split("|")[2])
                    ],
                }
            )
        print(
            f"fold {k}: encoder {config} (inner AUC "
            + ", ".join(f"{c} {a:.3f}" for c, a in outer.chosen["encoder"].inner_auc.items())
            + f"); stack {dict(w)} + {outer.stack.bias:.3f}; threshold "
            f"{outer.stack.threshold:.3f}",
            flush=True,
        )
    _view_facts(rows, outers)
    _report(rows, names)


def _col(rows: list[dict[str, object]], key: str) -> np.ndarray:
    return np.array([r[key] for r in rows])


def _report(rows: list[dict[str, object]], names: list[str]) -> None:
    print("\n== detector 3, nested leave-generator-out and leave-source-out, 5 folds")
    print(
        f"{'condition':10} {'AUC':>6} {'TPR@1%':>7} {'TPR@5%':>7} {'FPR@thr':>8} {'TPR@thr':>8} "
        f"{'ECE':>6} {'incl.AI':>8} {'incl.real':>9} {'n_ai':>5} {'n_real':>6}"
    )
    for condition in (*CONDITIONS, "all"):
        sel = [r for r in rows if condition in ("all", r["view"])]
        y, p, above = _col(sel, "y").astype(float), _col(sel, "p"), _col(sel, "above")
        inc = _col(sel, "inconclusive")
        print(
            f"{condition:10} {roc_auc(y, p):6.3f} {tpr_at_fpr(y, p, 0.01):7.3f} "
            f"{tpr_at_fpr(y, p, 0.05):7.3f} {above[y == 0].mean():8.3f} "
            f"{above[y == 1].mean():8.3f} {expected_calibration_error(y, p):6.3f} "
            f"{inc[y == 1].mean():8.3f} {inc[y == 0].mean():9.3f} "
            f"{int((y == 1).sum()):5d} {int((y == 0).sum()):6d}"
        )
    # Pooled figures compare probabilities of five models; within a fold only one model ranks.
    print("\n== AUC within each outer fold (its own held-out AI and real pictures), and the mean")
    for condition in (*CONDITIONS, "all"):
        per_fold = []
        for k in sorted({int(r["fold"]) for r in rows}):  # type: ignore[call-overload]
            sel = [r for r in rows if r["fold"] == k and condition in ("all", r["view"])]
            per_fold.append(roc_auc(_col(sel, "y").astype(float), _col(sel, "p")))
        print(
            f"{condition:10} "
            + " ".join(f"{a:6.3f}" for a in per_fold)
            + f"   mean {np.mean(per_fold):.3f}"
        )
    print("\n== the modern-generator fold (fold 1) against all held-out real photos")
    for condition in (*CONDITIONS, "all"):
        sel = [
            r
            for r in rows
            if condition in ("all", r["view"]) and (r["y"] == 0 or r["fold"] == MODERN_FOLD)
        ]
        y, p, above = _col(sel, "y").astype(float), _col(sel, "p"), _col(sel, "above")
        print(
            f"{condition:10} AUC {roc_auc(y, p):.3f}   TPR@thr {above[y == 1].mean():.3f}   "
            f"n_ai {int((y == 1).sum())}"
        )
    print("\n== each branch alone (raw logits) and the stack; the twins ablation (encoder)")
    print(
        f"{'condition':10} {'stack':>7} "
        + " ".join(f"{n:>8}" for n in names)
        + "   twins  no twins  (folds choosing twins: "
        + f"{sorted({int(r['fold']) for r in rows if r['chosen_twins']})})"  # type: ignore[call-overload]
    )
    for condition in (*CONDITIONS, "all"):
        sel = [r for r in rows if condition in ("all", r["view"])]
        y = _col(sel, "y").astype(float)
        chosen, other = _col(sel, "encoder").astype(float), _col(sel, "flipped").astype(float)
        uses = _col(sel, "chosen_twins").astype(bool)
        twins, none = np.where(uses, chosen, other), np.where(uses, other, chosen)
        alone = " ".join(f"{roc_auc(y, _col(sel, n).astype(float)):8.3f}" for n in names)
        print(
            f"{condition:10} {roc_auc(y, _col(sel, 'p')):7.3f} {alone} "
            f"{roc_auc(y, twins):7.3f} {roc_auc(y, none):9.3f}"
        )
    print("\n== real photos flagged at the threshold, and inconclusive, by kind of source")
    for family in ("camera", "web", "bsds500", "scenes", "other"):
        sel = [r for r in rows if r["family"] == family]
        if sel:
            print(
                f"{family:10} flagged {_col(sel, 'above').mean():.3f}   inconclusive "
                f"{_col(sel, 'inconclusive').mean():.3f}   ({len(sel)} views)"
            )
    print("\n== size and score: Spearman rank correlation of short side and probability")
    _size_correlation(rows)
    print("\n== AUC by short side of the view (all conditions)")
    for low, high in ((0, 256), (256, 384), (384, 512), (512, 100000)):
        sel = [r for r in rows if low <= int(r["side"]) < high]  # type: ignore[call-overload]
        if sel:
            y = _col(sel, "y").astype(float)
            print(
                f"{low:>4}-{min(high, 9999):<5} AUC {roc_auc(y, _col(sel, 'p')):.3f}   "
                f"n_ai {int((y == 1).sum())} n_real {int((y == 0).sum())}"
            )
    print("\n== repost condition: AUC by JPEG quality and by downscale factor")
    reposts = [r for r in rows if r["view"] == "repost"]
    for name, index, bands in (
        ("quality", 1, ((70, 80), (80, 90), (90, 96))),
        ("factor", 0, ((0.5, 0.7), (0.7, 0.85), (0.85, 1.01))),
    ):
        for low, high in bands:
            sel = [r for r in reposts if low <= r["repost"][index] < high]  # type: ignore[index]
            y = _col(sel, "y").astype(float)
            print(f"{name} {low}-{high}: AUC {roc_auc(y, _col(sel, 'p')):.3f} ({len(sel)} views)")
    print("\n== AUC per held-out generator (against all held-out real photos)")
    print(f"{'generator':40} {'fold':>4} " + " ".join(f"{c:>7}" for c in CONDITIONS))
    generators = sorted({str(r["group"]) for r in rows if r["y"] == 1})
    table = []
    for g in generators:
        aucs = []
        for c in CONDITIONS:
            sel = [r for r in rows if r["view"] == c and (r["y"] == 0 or r["group"] == g)]
            aucs.append(roc_auc(_col(sel, "y").astype(float), _col(sel, "p")))
        table.append((aucs[1], g, aucs))
    for _, g, aucs in sorted(table):
        fold = dataset.GENERATOR_FOLDS[g]
        print(f"{g[:40]:40} {fold:>4} " + " ".join(f"{a:7.3f}" for a in aucs))


def _size_correlation(rows: list[dict[str, object]]) -> None:
    """On real photos only: the AI side's sizes come from the generators, not from reposts."""
    sel = [r for r in rows if r["y"] == 0]
    side, p, view = _col(sel, "side"), _col(sel, "p"), _col(sel, "view")
    parts = ", ".join(
        f"{c} {spearmanr(side[view == c], p[view == c]).statistic:+.3f}" for c in CONDITIONS
    )
    print(
        f"real photos: {spearmanr(side, p).statistic:+.3f} over all views ({parts}); "
        f"short sides {side.min()}-{side.max()}"
    )
    # Sources differ both in size and in how they look (BSDS500's scans are small, camera
    # originals large), so the pooled figure mixes size with source. Within one source, and
    # within one picture (its clean view against its own shrunk views), only size varies.
    group = _col(sel, "group")
    within, weights = [], []
    for g in np.unique(group):
        m = group == g
        if m.sum() >= 10 and len(np.unique(side[m])) > 1:
            within.append(spearmanr(side[m], p[m]).statistic)
            weights.append(m.sum())
    path = _col(sel, "path")
    shrink, change = [], []
    for q in np.unique(path):
        m = path == q
        clean = m & (view == "clean")
        if clean.sum() != 1:
            continue
        for other in np.flatnonzero(m & (view != "clean")):
            shrink.append(side[other] / side[clean][0])
            change.append(p[other] - p[clean][0])
    print(
        f"  within a source (mean over {len(within)} sources of 10+ views, weighted by views): "
        f"{np.average(within, weights=weights):+.3f}; within a picture (its shrunk views' "
        f"size ratio against their change in probability, {len(shrink)} pairs): "
        f"{spearmanr(shrink, change).statistic:+.3f}"
    )


def patch_alone() -> None:
    """The patch network alone: each outer fold scored by the network trained without it."""
    from training import train_patch

    bank = train_patch.build_bank()
    items = {i.path: i for i in corpus.benchmark_items()}
    scores: nested.Scores = {}
    for k in nested.FOLDS:
        scores.update(train_patch.scores_without(bank, (k,)))
    print("\n== the patch network alone (raw logits), outer networks")
    for condition in (*CONDITIONS, "all"):
        keys = [key for key in scores if condition in ("all", key[0])]
        y = np.array([items[p].label for _, p in keys], float)
        fold = np.array([items[p].fold for _, p in keys])
        z = np.array([scores[key] for key in keys])
        within = [roc_auc(y[fold == k], z[fold == k]) for k in nested.FOLDS]
        modern = (fold == MODERN_FOLD) | (y == 0)
        print(
            f"{condition:10} AUC pooled {roc_auc(y, z):.3f}   within folds "
            + " ".join(f"{a:.3f}" for a in within)
            + f" (mean {np.mean(within):.3f})   modern fold {roc_auc(y[modern], z[modern]):.3f}"
        )


def speed() -> None:
    import cv2

    from photoloupe.detect import detect_ai
    from photoloupe.io import load_picture

    scene = cv2.resize(
        np.asarray(load_picture(ROOT / "examples" / "harbour.jpg").pixels), (4000, 3000)
    )
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
    picture = load_picture(buf.tobytes(), name="12mp.jpg")
    first = detect_ai(picture)  # loads the models once
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        detect_ai(picture)
        runs.append(time.perf_counter() - started)
    model = first.details.get("model")
    print(f"\n== detector ({model}) on a 12-megapixel picture: {min(runs):.3f} s (best of 3)")

    sources = sorted((dataset.SHARED / "ai" / "stable-diffusion-v1-4").glob("*.jpg"))[:50]
    sources += sorted((dataset.SHARED / "real" / "camera").glob("*.jpg"))[:50]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for n, source in enumerate(sources):
            rgb = load_picture(source).pixels
            h, w = rgb.shape[:2]
            if min(h, w) < 512:
                rgb = cv2.resize(rgb, (512, 512))
                h, w = 512, 512
            y, x = (h - 512) // 2, (w - 512) // 2
            tile = np.ascontiguousarray(rgb[y : y + 512, x : x + 512])
            cv2.imwrite(str(folder / f"{n:03d}.png"), cv2.cvtColor(tile, cv2.COLOR_RGB2BGR))
        for label, extra in (("scan --quick", ("--quick",)), ("scan (full report)", ())):
            _, elapsed = time_scan(folder, 2, *extra)
            print(
                f"== {label} --workers 2 on {len(sources)} pictures of 512x512: "
                f"{len(sources) / elapsed:.1f} images/s ({elapsed:.1f} s, process start-up "
                "included)"
            )


if __name__ == "__main__":
    if not dataset.SHARED.is_dir():
        sys.exit("../shared/data is not beside the checkout; nothing to measure")
    if "--patch-alone" in sys.argv:
        patch_alone()
        sys.exit(0)
    if "--speed-only" not in sys.argv:
        evaluate()
    if "--no-speed" not in sys.argv:
        speed()
