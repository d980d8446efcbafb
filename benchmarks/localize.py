"""Benchmark of edit localisation (issues 4 and 14): every kind of edit, copy-move, pristine
photos, speed.

    .venv/bin/python benchmarks/localize.py [--per-photo 5] [--no-speed]

Sets:
- **Composites** (`training/composites.py`, test folds only): camera photos of `TEST_FOLDS`
  makes, each edited once per kind (`EDIT_KINDS`: a pasted AI picture from a `TEST_FOLDS`
  generator, a region regenerated through a latent autoencoder, an inpainted removal, a splice
  from a test-fold photo of another make, a rotated and scaled copy-move), over 1-25 % of the
  area, saved at JPEG 70-95 once or twice (a repost), each beside its twin saved the same way.
  The windowed AI detector used here is trained without those folds; the fusion weights and
  the camera-trace network were learned on `DEV_FOLDS` only.
- **Copy-move**: `../shared/data/edited/copymove`, with its masks and pristine originals.
- **Pristine camera originals**: every photo in `real/camera` and `real/full`, through the full
  shipped `check()`: how often is the verdict "edited"?

Per method and fused: image-level ROC AUC (edited against twins), mean pixel F1 and IoU per
edited picture (map > 0.5). Speed: the full `check()` of the large camera originals, with the
time per analysis. Prints measured figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import composites, dataset  # noqa: E402
from training.metrics import roc_auc  # noqa: E402
from training.train_detector import load_corpus, model_without  # noqa: E402

from photoloupe import check  # noqa: E402
from photoloupe.findings import Finding  # noqa: E402
from photoloupe.forensics.ai_regions import analyse_ai_regions  # noqa: E402
from photoloupe.io import load_picture  # noqa: E402
from photoloupe.localize import LOCAL_METHODS, fuse, resize_map  # noqa: E402
from photoloupe.pipeline import Options, run_analyses  # noqa: E402

METHODS = (*LOCAL_METHODS, "copy_move")


def pixel_scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """(F1, IoU) of a binary prediction against a binary truth."""
    tp = float((truth & predicted).sum())
    fp = float((~truth & predicted).sum())
    fn = float((truth & ~predicted).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 1.0
    return f1, iou


def binary_map(array: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if array is None or array.size == 0:
        return np.zeros(shape, dtype=bool)
    return resize_map(array, shape) > 0.5


def evaluate(name: str, data: bytes, mask: np.ndarray | None, replace: dict) -> dict:
    picture = load_picture(data, name=name)
    findings: dict[str, Finding] = run_analyses(picture, replace=replace)
    loc = fuse(picture.height, picture.width, findings, pixels=picture.pixels)
    row: dict = {
        "scores": {m: findings[m].score for m in METHODS if m in findings},
        "fused": loc.probability,
        "decision": loc.decision,
    }
    if mask is not None and mask.any():
        shape = mask.shape
        row["pixel"] = {m: pixel_scores(mask, binary_map(findings[m].map, shape)) for m in METHODS}
        row["pixel"]["fused"] = pixel_scores(mask, binary_map(loc.map, shape))
    return row


def fused_figures(rows: list[dict]) -> tuple[float, float, float, float, float]:
    """(AUC, F1, IoU, share of composites called edited, share of twins called edited)."""
    y = np.array([1.0 if r["edited"] else 0.0 for r in rows])
    s = np.array([r["fused"] if r["fused"] is not None else 0.0 for r in rows])
    auc = roc_auc(y, s) if 0 < y.sum() < len(y) else float("nan")
    edited = [r for r in rows if r["edited"]]
    f1 = float(np.mean([r["pixel"]["fused"][0] for r in edited])) if edited else float("nan")
    iou = float(np.mean([r["pixel"]["fused"][1] for r in edited])) if edited else float("nan")
    dec = np.array([r["decision"] for r in rows])
    return auc, f1, iou, float(dec[y == 1].mean()), float(dec[y == 0].mean())


def summarise_groups(rows: list[dict]) -> None:
    """The fused figures per kind of edit and per saving history."""
    groups: dict[str, list[dict]] = {"all": rows}
    for kind in composites.EDIT_KINDS:
        groups[kind] = [r for r in rows if r["edit"] == kind]
    groups["saved once, JPEG >= 85"] = [r for r in rows if r["saves"] == 1 and r["quality"] >= 85]
    groups["saved once, JPEG < 85"] = [r for r in rows if r["saves"] == 1 and r["quality"] < 85]
    groups["reposted (saved twice)"] = [r for r in rows if r["saves"] == 2]
    for kind in composites.EDIT_KINDS:
        groups[f"{kind}, once, JPEG >= 85"] = [
            r for r in groups[kind] if r["saves"] == 1 and r["quality"] >= 85
        ]
        groups[f"{kind}, reposted"] = [r for r in groups[kind] if r["saves"] == 2]
    print(
        f"\n{'fused, by group':32s} {'n':>4s} {'AUC':>6s} {'F1':>6s} {'IoU':>6s} "
        f"{'TPR':>6s} {'FPR':>6s}"
    )
    for name, group in groups.items():
        if not group:
            continue
        auc, f1, iou, tpr, fpr = fused_figures(group)
        n = sum(1 for r in group if r["edited"])
        print(f"{name:32s} {n:4d} {auc:6.3f} {f1:6.3f} {iou:6.3f} {tpr:6.1%} {fpr:6.1%}")


def summarise(rows: list[dict], title: str) -> None:
    y = np.array([1.0 if r["edited"] else 0.0 for r in rows])
    print(f"\n{title}: {int(y.sum())} composites, {int((1 - y).sum())} twins")
    print(f"{'method':20s} {'AUC':>6s} {'F1':>6s} {'IoU':>6s} {'ran':>5s}")
    for m in (*METHODS, "fused"):
        if m == "fused":
            s = np.array([r["fused"] if r["fused"] is not None else 0.0 for r in rows])
            ran = np.mean([r["fused"] is not None for r in rows])
        else:
            vals = [r["scores"].get(m) for r in rows]
            s = np.array([v if v is not None else 0.0 for v in vals])
            ran = np.mean([v is not None for v in vals])
        auc = roc_auc(y, s) if 0 < y.sum() < len(y) else float("nan")
        edited = [r for r in rows if r["edited"]]
        f1 = np.mean([r["pixel"][m][0] for r in edited]) if edited else float("nan")
        iou = np.mean([r["pixel"][m][1] for r in edited]) if edited else float("nan")
        print(f"{m:20s} {auc:6.3f} {f1:6.3f} {iou:6.3f} {ran:5.0%}")
    dec = np.array([r["decision"] for r in rows])
    print(
        f"fused decision 'edited': {dec[y == 1].mean():.1%} of composites, "
        f"{dec[y == 0].mean():.1%} of twins"
    )


def composites_benchmark(per_photo: int) -> None:
    print("training a detector without the test folds ...", file=sys.stderr, flush=True)
    detector = model_without(load_corpus(), composites.TEST_FOLDS)
    replace = {"ai_regions": partial(analyse_ai_regions, model=detector)}
    rows = []
    started = time.perf_counter()
    for sample in composites.samples(composites.TEST_FOLDS, per_photo, originals=False):
        row = evaluate(sample.name.replace("/", "_"), sample.data, sample.mask, replace)
        row.update(
            edited=sample.edited, quality=sample.quality, edit=sample.edit, saves=sample.saves
        )
        rows.append(row)
        if len(rows) % 50 == 0:
            print(f"  {len(rows)} pictures", file=sys.stderr, flush=True)
    took = time.perf_counter() - started
    print(
        f"\n== Composites (test folds {composites.TEST_FOLDS}), {len(rows)} pictures, {took:.0f} s"
    )
    summarise(rows, "every kind, all qualities (70-95), once or twice")
    for kind in composites.EDIT_KINDS:
        summarise([r for r in rows if r["edit"] == kind], f"{kind}")
    summarise_groups(rows)


def copy_move_benchmark() -> None:
    manifest = json.loads((dataset.SHARED / "manifest.json").read_text("utf-8"))
    by_kind: dict[str, dict[str, str]] = {"real": {}, "edited": {}, "mask": {}}
    for e in manifest:
        if e["path"].startswith("edited/copymove/"):
            kind = e["path"].split("/")[2]
            # NoSo_dataset/01.png (original), 01_mod.png (edited), 01_mod_gt.png (mask)
            key = Path(e["source_path"]).stem.removesuffix("_gt").removesuffix("_mod")
            by_kind[kind][key] = e["path"]
    print("\n== Copy-move (edited/copymove)")
    f1s, ious = [], []
    for key, path in sorted(by_kind["edited"].items()):
        mask_path = by_kind["mask"].get(key)
        if mask_path is None:
            print(f"{path}: no mask paired (key {key})")
            continue
        with Image.open(dataset.SHARED / mask_path) as im:
            mask = np.asarray(im.convert("L")) > 127
        row = evaluate(path, (dataset.SHARED / path).read_bytes(), mask, {})
        f1, iou = row["pixel"]["fused"]
        cf1, ciou = row["pixel"]["copy_move"]
        f1s.append(f1)
        ious.append(iou)
        print(
            f"{path}: fused F1 {f1:.3f} IoU {iou:.3f}; copy-move alone F1 {cf1:.3f} "
            f"IoU {ciou:.3f}; fused probability {row['fused']}"
        )
    if f1s:
        print(f"mean fused F1 {np.mean(f1s):.3f}, IoU {np.mean(ious):.3f}")
    for _key, path in sorted(by_kind["real"].items()):
        row = evaluate(path, (dataset.SHARED / path).read_bytes(), None, {})
        print(f"pristine {path}: edited decision {row['decision']}, probability {row['fused']}")


def pristine_benchmark() -> None:
    """How often untouched camera pictures are called edited.

    Two figures, because the corpus's camera set is partly cropped: 85 of the 122 files in
    real/camera were cut to a centre crop with `jpegtran` (manifest `transform`), so their EXIF
    thumbnail still shows the whole frame and the thumbnail check rightly finds a crop. The
    pixel analyses' own false-alarm rate is counted on every file; the whole verdict's on the
    files whose bytes are the camera's own.
    """
    folds = {i.path: i.fold for i in dataset.items()}
    entries = {
        e["path"]: e for e in json.loads((dataset.SHARED / "manifest.json").read_text("utf-8"))
    }
    paths = sorted(
        p.relative_to(dataset.SHARED).as_posix()
        for folder in ("real/camera", "real/full")
        for p in (dataset.SHARED / folder).glob("*.jpg")
    )
    pixel: dict[str, list[bool]] = {"test folds": [], "dev folds": [], "all": []}
    verdict: dict[str, list[bool]] = {"camera's own bytes": [], "jpegtran crops": []}
    flagged = []
    for path in paths:
        report = check(dataset.SHARED / path, options=Options(preview=False))
        by_pixels = "edited_regions" in report.verdict.reasons
        split = "test folds" if folds.get(path) in composites.TEST_FOLDS else "dev folds"
        pixel[split].append(by_pixels)
        pixel["all"].append(by_pixels)
        cropped = entries[path]["transform"].startswith("jpegtran-crop")
        edited = report.verdict.label == "edited"
        verdict["jpegtran crops" if cropped else "camera's own bytes"].append(edited)
        if by_pixels or (edited and not cropped):
            flagged.append(f"{path} ({report.edited.probability}; {report.verdict.reasons})")
    print("\n== Pristine camera pictures (real/camera + real/full), full check()")
    for split, flags in pixel.items():
        if flags:
            print(
                f"edited by the pixel analyses, {split}: {sum(flags)}/{len(flags)} = "
                f"{np.mean(flags):.1%}"
            )
    for kind, flags in verdict.items():
        if flags:
            print(
                f"verdict 'edited' (any evidence), {kind}: {sum(flags)}/{len(flags)} = "
                f"{np.mean(flags):.1%}"
            )
    for n in flagged:
        print(f"  flagged: {n}")


def speed_benchmark() -> None:
    print("\n== Speed: full check() of the camera originals in real/full (2 cores)")
    for path in sorted((dataset.SHARED / "real/full").glob("*.jpg")):
        with Image.open(path) as im:
            mp = im.size[0] * im.size[1] / 1e6
        check(path, options=Options(preview=False))  # warm caches
        best = None
        for _ in range(2):
            t0 = time.perf_counter()
            report = check(path, options=Options(preview=False))
            took = time.perf_counter() - t0
            if best is None or took < best[0]:
                best = (took, report.timings_ms)
        assert best is not None
        parts = ", ".join(
            f"{k.removeprefix('analysis.')} {v:.0f}"
            for k, v in best[1].items()
            if k.startswith("analysis.") or k == "fusion"
        )
        print(f"{path.name} ({mp:.1f} MP): {best[0]:.2f} s  [ms: {parts}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-photo", type=int, default=len(composites.EDIT_KINDS))
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--only", choices=("composites", "copymove", "pristine", "speed"))
    args = parser.parse_args()
    steps = {
        "composites": partial(composites_benchmark, args.per_photo),
        "copymove": copy_move_benchmark,
        "pristine": pristine_benchmark,
        "speed": speed_benchmark,
    }
    for name, step in steps.items():
        if args.only and name != args.only:
            continue
        if name == "speed" and args.no_speed:
            continue
        step()


if __name__ == "__main__":
    main()
