"""Train the detector's residual CNN (`photoloupe.detect.cnn`) on the CPU, under the same folds.

    .venv/bin/python -m training.train_cnn          # needs the `train` extra (torch, onnx)

Steps:
1. `build()`: laundered training copies of every corpus file (`dataset.training_copies`, the
   same laundering as the features model, with its own random draws), cut into 64-px patches;
   and the crops the shipped network reads (`cnn.crops`) of every benchmark view
   (`dataset.evaluation_views`). Cached in training/.cache/cnn_data-<key>.pkl.
2. `scores_without(excluded)`: a network trained without the `excluded` folds, and its mean
   logit per held-out picture and view. Cached per fold set in training/.cache/cnn/<key>/: the
   benchmark needs networks without {k} and without {k, c} for every pair of folds (15
   trainings, about 3.5 minutes each on 2 cores), the shipped calibration those without {k}.
3. `export()`: the network trained on every fold (a 16th training), as ONNX, for
   `train_detector` to ship.

The cache keys are digests of everything the cached values depend on (the files with their
labels and folds, the laundering, the crops, the settings and the code of the network and its
training), so a change anywhere trains afresh instead of reusing stale scores.

The architecture, the steps and the learning rate are those of the GPU probe
(training/experiments/cnn_probe.py, whose step count and the decision to combine the two models
were read off leave-generator-out figures of these same folds) scaled down to fit 2 CPU cores;
they were fixed before any CPU figure was seen.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from photoloupe.detect import cnn, laundering
from photoloupe.io import load_picture
from training import dataset

PATCH = 64
PATCHES_PER_COPY = 8
WIDTH = 16  # channels of the first block; the probe on the GPU used 32
STEPS = 1000
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
SEED = 0
VIEWS = ("clean", "laundered", "small", "laundered_pillow")

U8 = npt.NDArray[np.uint8]


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


@functools.cache
def data_key() -> str:
    """Digest of what the cached patches and crops depend on."""
    items = [(i.path, i.label, i.fold) for i in dataset.items()]
    return _digest(
        items,
        PATCH,
        PATCHES_PER_COPY,
        dataset.AUGMENTS,
        dataset.EVAL_QUALITY,
        cnn.CROP,
        cnn.GRID,
        inspect.getsource(laundering),
        inspect.getsource(dataset.training_copies),
        inspect.getsource(dataset.evaluation_views),
        inspect.getsource(cnn.crops),
        inspect.getsource(cnn.crop_origins),
        inspect.getsource(_work),
    )


def data_file() -> Path:
    return dataset.CACHE / f"cnn_data-{data_key()}.pkl"


def scores_dir() -> Path:
    """Where the held-out scores of the networks trained on these data, with these settings and
    this code, are cached."""
    settings = _digest(
        WIDTH,
        STEPS,
        BATCH,
        LEARNING_RATE,
        WEIGHT_DECAY,
        SEED,
        inspect.getsource(network),
        inspect.getsource(train),
        inspect.getsource(picture_logits),
    )
    return dataset.CACHE / "cnn" / f"{settings}-{data_key()}"


@dataclass(frozen=True)
class CnnData:
    items: list[dataset.Item]
    patches: U8  # (n, PATCH, PATCH, 3)
    patch_item: npt.NDArray[np.int64]  # index into items
    views: list[dict[str, U8]]  # per item: view -> crops (k, side, side, 3)


def _work(item: dataset.Item) -> tuple[dataset.Item, U8, dict[str, U8]] | None:
    try:
        rgb = load_picture(dataset.SHARED / item.path).pixels
        if min(rgb.shape[:2]) < dataset.MIN_SIDE:
            return None
        rng = np.random.default_rng(
            int(hashlib.sha256(f"patches:{item.path}".encode()).hexdigest()[:8], 16)
        )
        patches = []
        for copy in dataset.training_copies(item, rgb, salt="cnn"):
            h, w = copy.shape[:2]
            if min(h, w) < PATCH:
                continue
            for _ in range(PATCHES_PER_COPY):
                y, x = int(rng.integers(0, h - PATCH + 1)), int(rng.integers(0, w - PATCH + 1))
                patches.append(copy[y : y + PATCH, x : x + PATCH])
        views = {k: cnn.crops(v) for k, v in dataset.evaluation_views(item, rgb).items()}
        return item, np.stack(patches), views
    except Exception as exc:  # a file that cannot be used is reported and left out
        print(f"skipped {item.path}: {exc}", file=sys.stderr)
        return None


def build(workers: int = 2) -> CnnData:
    items: list[dataset.Item] = []
    patches: list[U8] = []
    owner: list[int] = []
    views: list[dict[str, U8]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_work, dataset.items(), chunksize=4):
            if result is None:
                continue
            item, p, v = result
            owner += [len(items)] * len(p)
            items.append(item)
            patches.append(p)
            views.append(v)
    data = CnnData(items, np.concatenate(patches), np.asarray(owner, np.int64), views)
    data_file().parent.mkdir(parents=True, exist_ok=True)
    data_file().write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    return data


def load_data() -> CnnData:
    if not data_file().exists():
        return build(int(os.environ.get("WORKERS", "2")))
    data = pickle.loads(data_file().read_bytes())
    assert isinstance(data, CnnData)
    return data


def network():  # type: ignore[no-untyped-def]
    """The architecture (torch), built on demand so that importing this module needs no torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def block(cin: int, cout: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class ResidualCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = WIDTH
            self.front = nn.Conv2d(3, w // 2, 5, padding=2, bias=False)
            self.body = nn.Sequential(
                block(w // 2, w, 1),
                block(w, 2 * w, 2),
                block(2 * w, 2 * w, 1),
                block(2 * w, 4 * w, 2),
                block(4 * w, 4 * w, 1),
            )
            self.head = nn.Linear(4 * w, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Constrained prediction-error filters: every 5x5 filter sums to zero, so the
            # network sees residuals, not content or brightness.
            weight = self.front.weight - self.front.weight.mean(dim=(2, 3), keepdim=True)
            z = self.body(F.conv2d(x, weight, padding=2))
            return self.head(z.mean(dim=(2, 3))).squeeze(1)

    return ResidualCNN()


def train(data: CnnData, excluded: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """A network trained on the patches of every fold but `excluded`; deterministic."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(SEED)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    rng = np.random.default_rng(SEED)
    fold = np.array([data.items[i].fold for i in data.patch_item])
    label = np.array([data.items[i].label for i in data.patch_item])
    keep = ~np.isin(fold, excluded)
    pools = [np.flatnonzero(keep & (label == c)) for c in (0, 1)]
    net = network()
    opt = torch.optim.AdamW(net.parameters(), LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LEARNING_RATE, total_steps=STEPS)
    target = torch.tensor([0.0, 1.0] * (BATCH // 2))
    net.train()
    for _ in range(STEPS):
        # Class-balanced batches: alternate a camera patch and an AI patch.
        index = np.stack([rng.choice(pools[0], BATCH // 2), rng.choice(pools[1], BATCH // 2)], 1)
        batch = data.patches[index.ravel()]
        flip = rng.random(BATCH) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        x = torch.from_numpy(cnn.as_input(batch))
        loss = F.binary_cross_entropy_with_logits(net(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return net


def picture_logits(net, crops: U8) -> float:  # type: ignore[no-untyped-def]
    import torch

    with torch.no_grad():
        return float(net(torch.from_numpy(cnn.as_input(crops))).mean())


def scores_without(data: CnnData, excluded: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """Mean logit per view and per held-out file (path) of a network trained without
    `excluded`. Cached in training/.cache/cnn/<key>/."""
    key = "-".join(map(str, sorted(excluded))) or "all"
    cache = scores_dir() / f"without-{key}.pkl"
    if cache.exists():
        cached = pickle.loads(cache.read_bytes())
        assert isinstance(cached, dict)
        return cached
    started = time.time()
    net = train(data, excluded)
    scores: dict[str, dict[str, float]] = {view: {} for view in VIEWS}
    for item, views in zip(data.items, data.views, strict=True):
        if item.fold in excluded:
            for view in VIEWS:
                scores[view][item.path] = picture_logits(net, views[view])
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(scores))
    print(f"cnn without {key}: {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    return scores


def export(net, side: int = cnn.CROP) -> bytes:  # type: ignore[no-untyped-def]
    """The network as ONNX bytes, with batch, height and width left free."""
    import torch

    buf = io.BytesIO()
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, side, side),),
        buf,
        dynamo=False,
        input_names=["pixels"],
        output_names=["logit"],
        dynamic_axes={"pixels": {0: "n", 2: "h", 3: "w"}, "logit": {0: "n"}},
        opset_version=17,
    )
    return buf.getvalue()


def all_fold_sets(folds: list[int]) -> list[tuple[int, ...]]:
    """Single folds first (what the shipped calibration needs), then every pair."""
    singles = [(k,) for k in folds]
    pairs = [(a, b) for i, a in enumerate(folds) for b in folds[i + 1 :]]
    return singles + pairs


def main() -> None:
    data = load_data()
    folds = sorted({item.fold for item in data.items})
    for fold_set in all_fold_sets(folds):
        scores_without(data, fold_set)


if __name__ == "__main__":
    # Run through the importable module, so that the pickled cache names `training.train_cnn`
    # classes whichever way it was built.
    from training.train_cnn import main as module_main

    module_main()
