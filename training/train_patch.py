"""A patch-level supervised model with a small receptive field, in the style of LaDeDa.

    .venv/bin/python -m training.train_patch      # the patch bank and every network, cached

Tiny-LaDeDa (Cavia et al., 2024) scores each 9×9 patch and averages: a small receptive field
cannot learn what a picture shows, only how its pixels relate. Ours: four 3×3 convolutions
(no padding, so every output sees a whole 9×9 patch of real pixels) and two 1×1 layers to a
logit per position; a crop's score is the mean over positions, a picture's the mean over its
crops. Trained on crops of the laundered training views (two encoders, two resamplers, blur,
scale 0.5-1, JPEG 60-100; `training/views.py`), never on resizes of whole pictures, with the
aligned twins as extra AI samples, classes balanced and real sources weighted
(`corpus.source_weights`).

Networks are trained without each fold and without each pair of folds (16 in all with the
final one), so that the nested benchmark and the shipped stack only ever read scores of
pictures a network never saw.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from photoloupe.detect import cnn
from photoloupe.io import load_picture
from training import corpus, dataset, nested, views

PATCH = 48
PATCHES_PER_VIEW = 8
TWIN_PATCHES_PER_VIEW = 4
WIDTHS = (24, 24, 32, 32)
STEPS = 500
BATCH = 48
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
SEED = 0
CROP = 128  # at test time: up to GRID × GRID crops of CROP pixels
GRID = 2
TRAINING_VIEWS = ("clean", "train0", "train1", "train2")
CODE_VERSION = "1"

U8 = npt.NDArray[np.uint8]


def patch_dir() -> Path:
    return dataset.CACHE / f"patch-v{CODE_VERSION}"


@dataclass(frozen=True)
class PatchBank:
    patches: U8  # (n, PATCH, PATCH, 3)
    path: npt.NDArray[np.str_]  # the corpus picture (a twin: its real source)
    label: npt.NDArray[np.int64]
    twin: npt.NDArray[np.bool_]
    crops: dict[tuple[str, str], U8]  # (view, path) -> the evaluation crops


def _random_patches(rgb: U8, n: int, rng: np.random.Generator) -> list[U8]:
    h, w = rgb.shape[:2]
    if min(h, w) < PATCH:
        return []
    out = []
    for _ in range(n):
        y, x = int(rng.integers(h - PATCH + 1)), int(rng.integers(w - PATCH + 1))
        out.append(np.ascontiguousarray(rgb[y : y + PATCH, x : x + PATCH]))
    return out


def _item_work(item: corpus.Item) -> tuple[corpus.Item, list[U8], dict[str, U8]] | None:
    try:
        rgb = load_picture(dataset.SHARED / item.path).pixels
        rng = np.random.default_rng(views.seed(item.path, "patch"))
        own = views.training_views(item.path, item.label, rgb)
        patches: list[U8] = _random_patches(rgb, PATCHES_PER_VIEW, rng)
        for v in own.values():
            patches += _random_patches(v, PATCHES_PER_VIEW, rng)
        evaluation = {
            name: cnn.crops(v, crop=CROP, grid=GRID)
            for name, v in views.evaluation_views(item.path, rgb).items()
        }
        return item, patches, evaluation
    except Exception as exc:
        print(f"skipped {item.path}: {exc}", file=sys.stderr)
        return None


def _twin_work(job: tuple[str, str]) -> tuple[str, list[U8]] | None:
    from training import twins

    path, kind = job
    try:
        rgb = twins.load_twin(path, kind)
        rng = np.random.default_rng(views.seed(f"{kind}:{path}", "patch"))
        patches = _random_patches(rgb, TWIN_PATCHES_PER_VIEW, rng)
        for v in views.training_views(path, 0, rgb).values():
            patches += _random_patches(v, TWIN_PATCHES_PER_VIEW, rng)
        return path, patches
    except Exception as exc:
        print(f"skipped twin {kind}:{path}: {exc}", file=sys.stderr)
        return None


def build_bank(workers: int = 2) -> PatchBank:
    file = patch_dir() / "bank.pkl"
    if file.exists():
        bank = pickle.loads(file.read_bytes())
        assert isinstance(bank, PatchBank)
        return bank
    from training import twins

    patches: list[U8] = []
    path, label, twin = [], [], []
    crops: dict[tuple[str, str], U8] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_item_work, corpus.benchmark_items(), chunksize=4):
            if result is None:
                continue
            item, own, evaluation = result
            patches += own
            path += [item.path] * len(own)
            label += [item.label] * len(own)
            twin += [False] * len(own)
            crops.update({(name, item.path): c for name, c in evaluation.items()})
        jobs = [j for j in twins.jobs() if twins.twin_file(*j).exists()]
        for result in pool.map(_twin_work, jobs, chunksize=8):
            if result is None:
                continue
            source, own = result
            patches += own
            path += [source] * len(own)
            label += [1] * len(own)
            twin += [True] * len(own)
    bank = PatchBank(
        np.stack(patches), np.array(path), np.array(label), np.array(twin, bool), crops
    )
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(pickle.dumps(bank, protocol=pickle.HIGHEST_PROTOCOL))
    return bank


def network() -> Any:
    import torch
    from torch import nn

    layers: list[Any] = []
    previous = 3
    for width in WIDTHS:
        layers += [nn.Conv2d(previous, width, 3), nn.ReLU()]
        previous = width
    layers += [nn.Conv2d(previous, 32, 1), nn.ReLU(), nn.Conv2d(32, 1, 1)]

    class TinyPatchNet(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Centred pixels; the mean over every 9×9 patch's logit is the crop's logit.
            return self.body(x - 0.5).mean(dim=(1, 2, 3))

    return TinyPatchNet()


def _sampling_weights(bank: PatchBank, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    items = {i.path: i for i in corpus.benchmark_items()}
    chosen = [items[p] for p in sorted(set(bank.path[keep & ~bank.twin].tolist()))]
    per_picture = corpus.source_weights(chosen)
    w = np.zeros(len(bank.path))
    idx = np.flatnonzero(keep)
    counts: dict[tuple[str, bool], int] = {}
    for i in idx:
        key = (str(bank.path[i]), bool(bank.twin[i]))
        counts[key] = counts.get(key, 0) + 1
    for i in idx:
        key = (str(bank.path[i]), bool(bank.twin[i]))
        base = per_picture.get(key[0], 0.0) if not key[1] else 1.0
        w[i] = base / counts[key]
    # Twins take a third of the AI class, as for the encoder head.
    from training.encoder_heads import TWIN_SHARE

    for is_twin, share in ((False, 1 - TWIN_SHARE), (True, TWIN_SHARE)):
        sel = keep & (bank.label == 1) & (bank.twin == is_twin)
        if sel.any():
            w[sel] *= share / w[sel].sum()
    real = keep & (bank.label == 0)
    w[real] /= w[real].sum()
    return w


def train(bank: PatchBank, excluded: tuple[int, ...]) -> Any:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(SEED)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    rng = np.random.default_rng(SEED)
    items = {i.path: i for i in corpus.benchmark_items()}
    fold = np.array([items[p].fold for p in bank.path])
    keep = ~np.isin(fold, excluded)
    w = _sampling_weights(bank, keep)
    pools = [np.flatnonzero(keep & (bank.label == c)) for c in (0, 1)]
    probs = [w[p] / w[p].sum() for p in pools]
    net = network()
    opt = torch.optim.AdamW(net.parameters(), LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LEARNING_RATE, total_steps=STEPS)
    target = torch.tensor([0.0] * (BATCH // 2) + [1.0] * (BATCH // 2))
    net.train()
    for _ in range(STEPS):
        index = np.concatenate([rng.choice(pools[c], BATCH // 2, p=probs[c]) for c in (0, 1)])
        batch = bank.patches[index]
        flip = rng.random(BATCH) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        loss = F.binary_cross_entropy_with_logits(
            net(torch.from_numpy(cnn.as_input(batch))), target
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return net


def crop_logits(net: Any, crops: U8) -> npt.NDArray[np.float64]:
    import torch

    with torch.no_grad():
        return np.asarray(net(torch.from_numpy(cnn.as_input(crops))).numpy(), np.float64)


def _key(excluded: tuple[int, ...], bank: PatchBank) -> str:
    spec = f"v{CODE_VERSION} {PATCH} {WIDTHS} {STEPS} {BATCH} {LEARNING_RATE} {len(bank.path)}"
    return hashlib.sha256(f"{spec} without {sorted(excluded)}".encode()).hexdigest()[:16]


def scores_without(bank: PatchBank, excluded: tuple[int, ...]) -> nested.Scores:
    """(view, path) -> mean crop logit of the network trained without `excluded`, for the
    pictures of `excluded` (cached)."""
    file = patch_dir() / f"scores-{_key(excluded, bank)}.pkl"
    if file.exists():
        scores = pickle.loads(file.read_bytes())
        assert isinstance(scores, dict)
        return scores
    started = time.time()
    net = train(bank, excluded)
    items = {i.path: i for i in corpus.benchmark_items()}
    scores = {
        key: float(crop_logits(net, c).mean())
        for key, c in bank.crops.items()
        if items[key[1]].fold in excluded
    }
    file.write_bytes(pickle.dumps(scores))
    print(f"patch net without {excluded}: {time.time() - started:.0f} s", file=sys.stderr)
    return scores


def export(net: Any) -> bytes:
    from training.train_cnn import export as export_onnx

    return export_onnx(net, CROP)


def main() -> None:
    bank = build_bank(int(os.environ.get("WORKERS", "2")))
    folds = list(nested.FOLDS)
    sets = [(k,) for k in folds] + [(a, b) for i, a in enumerate(folds) for b in folds[i + 1 :]]
    for s in sets:
        scores_without(bank, s)


if __name__ == "__main__":
    from training.train_patch import main as module_main

    module_main()
