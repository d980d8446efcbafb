"""Experiment, not shipped: a small residual CNN under the detector's leave-generator-out folds.

Run where torch is (a lent GPU machine; `DEV=cpu` works, slowly), copied into .gpu_exp/ beside
the crops.npz that `pack_crops.py` writes: STEPS=2000 python3 cnn_probe.py (and $OUT/oof.json).

Measured 2026-11-28 on an H200 (2 minutes): picture AUC 0.80 laundered, 0.83 clean; 4000 steps
overfit (0.79 / 0.83). Averaging its ranks with the shipped feature model's out-of-fold scores
gave 0.85 / 0.85 on the same folds (raw scores, not nested-calibrated): the two models are
complementary, and their ensemble is the obvious next step for issue 3.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn
from torch.utils.data import DataLoader, Dataset

cv2.setNumThreads(1)
DATA = np.load(Path(__file__).resolve().parent / "crops.npz")
BLOB, OFFSETS = DATA["blob"], DATA["offsets"]
LABEL, FOLD, OWNER, GROUP = DATA["label"], DATA["fold"], DATA["owner"], DATA["group"]
CROPS = [
    cv2.cvtColor(
        cv2.imdecode(BLOB[OFFSETS[i] : OFFSETS[i + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    for i in range(len(LABEL))
]
STEPS = int(os.environ.get("STEPS", "2000"))
DEVICE = os.environ.get("DEV", "cuda")
WORKERS = int(os.environ.get("WORKERS", "14"))
PATCH = 64


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    _, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)


def launder(rgb: np.ndarray, rng: np.random.Generator, ai: bool) -> np.ndarray:
    """As training/dataset.py: a camera-like JPEG pass on half the AI copies, then a repost."""
    if ai and rng.random() < 0.5:
        rgb = jpeg(rgb, int(rng.integers(85, 99)))
    factor = max(float(rng.uniform(0.5, 1.0)), PATCH / min(rgb.shape[:2]))
    if factor < 0.999:
        rgb = resize(rgb, factor)
    return jpeg(rgb, int(rng.integers(60, 101)))


def evaluation_view(i: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + i)
    factor, quality = float(rng.uniform(0.5, 1.0)), int(rng.integers(70, 96))
    return jpeg(resize(CROPS[i], factor), quality)


class Patches(Dataset[tuple[torch.Tensor, float]]):
    """Endless class-balanced laundered patches of the crops in `index`."""

    def __init__(self, index: np.ndarray) -> None:
        self.index = index

    def __len__(self) -> int:
        return 10**7

    def __getitem__(self, k: int) -> tuple[torch.Tensor, float]:
        rng = np.random.default_rng()
        pool = self.index[LABEL[self.index] == (k % 2)]
        i = pool[rng.integers(len(pool))]
        x = launder(CROPS[i], rng, LABEL[i] == 1)
        h, w = x.shape[:2]
        y0, x0 = rng.integers(0, h - PATCH + 1), rng.integers(0, w - PATCH + 1)
        x = x[y0 : y0 + PATCH, x0 : x0 + PATCH]
        if rng.random() < 0.5:
            x = x[:, ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1).float() / 255.0
        return tensor, float(LABEL[i])


def block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ResidualNet(nn.Module):
    """Constrained prediction-error front (each filter sums to zero), then a small CNN."""

    def __init__(self) -> None:
        super().__init__()
        self.front = nn.Conv2d(3, 16, 5, padding=2, bias=False)
        self.body = nn.Sequential(
            block(16, 32, 1), block(32, 32, 1), block(32, 64, 2),
            block(64, 64, 1), block(64, 128, 2), block(128, 128, 1),
        )  # fmt: skip
        self.head = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.front.weight - self.front.weight.mean(dim=(2, 3), keepdim=True)
        z = self.body(F.conv2d(x, weight, padding=2))
        return self.head(z.mean(dim=(2, 3))).squeeze(1)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    ranks, positive = rankdata(s), y == 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    scores: dict[str, dict[int, float]] = {"laundered": {}, "clean": {}}
    started = time.time()
    for k in range(5):
        train, held = np.flatnonzero(k != FOLD), np.flatnonzero(k == FOLD)
        net = ResidualNet().to(DEVICE)
        opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=STEPS)
        batches = iter(DataLoader(Patches(train), batch_size=128, num_workers=WORKERS))
        net.train()
        for _ in range(STEPS):
            x, y = next(batches)
            loss = F.binary_cross_entropy_with_logits(net(x.to(DEVICE)), y.float().to(DEVICE))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            for i in held:
                for name, view in (("laundered", evaluation_view(i)), ("clean", CROPS[i])):
                    x = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1).float()
                    scores[name][int(i)] = float(net(x[None].to(DEVICE) / 255.0).item())
        print(f"fold {k} done {time.time() - started:.0f}s loss {loss.item():.3f}", flush=True)
    per_picture: dict[str, dict[str, float]] = {}
    for name, by_crop in scores.items():
        owners: dict[int, list[float]] = {}
        for i, s in by_crop.items():
            owners.setdefault(int(OWNER[i]), []).append(s)
        per_picture[name] = {str(o): float(np.mean(v)) for o, v in owners.items()}
        first = {int(OWNER[i]): i for i in by_crop}
        y = np.array([LABEL[first[int(o)]] for o in per_picture[name]])
        s = np.array(list(per_picture[name].values()))
        print(name, "picture AUC", round(auc(y, s), 3))
    if os.environ.get("OUT"):
        with open(Path(os.environ["OUT"]) / "oof.json", "w") as fh:
            json.dump(per_picture, fh)


if __name__ == "__main__":
    main()
