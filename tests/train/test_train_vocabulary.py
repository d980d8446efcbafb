"""`training.train_vocabulary` rebuilds a vocabulary the archive can load (a small run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from photoloupe.archive.features import local_features
from photoloupe.archive.vocabulary import Vocabulary
from tests.conftest import ROOT, needs_shared


@needs_shared
def test_a_small_training_run_gives_a_loadable_vocabulary(tmp_path: Path) -> None:
    out = tmp_path / "vocabulary.npz"
    done = subprocess.run(
        [sys.executable, "-m", "training.train_vocabulary", "--limit", "12", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    vocab = Vocabulary.load(out)
    assert vocab.centroids.shape == (64, 128)
    assert 0 < vocab.dimension <= 256
    grey = (np.random.default_rng(0).random((240, 320)) * 255).astype(np.uint8)
    vector = vocab.describe(local_features(np.dstack([grey] * 3)).descriptors)
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-4
