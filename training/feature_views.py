"""Detector 2's hand-crafted features (`photoloupe.detect.features`) of detector 3's views.

    .venv/bin/python -m training.feature_views

For the benchmark's "features alone" figure and the stack's test of whether they add
anything; cached in training/.cache/features-v3-<version>.npz.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from photoloupe.detect.features import extract_features
from photoloupe.io import load_picture
from training import corpus, dataset, views

CODE_VERSION = "1"


def cache_file() -> Path:
    return dataset.CACHE / f"features-v3-{CODE_VERSION}.npz"


def _work(item: corpus.Item) -> tuple[str, dict[str, np.ndarray] | None]:
    try:
        rgb = load_picture(dataset.SHARED / item.path).pixels
        named = {
            **views.evaluation_views(item.path, rgb),
            **views.training_views(item.path, item.label, rgb),
        }
        return item.path, {name: extract_features(v) for name, v in named.items()}
    except Exception as exc:
        print(f"skipped {item.path}: {exc}", file=sys.stderr)
        return item.path, None


def features(workers: int = 2) -> dict[str, dict[str, np.ndarray]]:
    """path -> view -> (tiles, features)."""
    path = cache_file()
    if path.exists():
        return views.load_by_view(path)
    out: dict[str, dict[str, np.ndarray]] = {}
    todo = corpus.benchmark_items()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (p, result) in enumerate(pool.map(_work, todo, chunksize=4), 1):
            if result is not None:
                out[p] = result
            if n % 200 == 0:
                print(f"features {n}/{len(todo)}", file=sys.stderr)
    views.save_by_view(path, out)
    return out


if __name__ == "__main__":
    print(len(features(int(os.environ.get("WORKERS", "2")))), "pictures")
