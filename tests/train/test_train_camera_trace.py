"""`training.train_camera_trace` rebuilds a network the analysis can load (a tiny run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from photoloupe.forensics.camera_trace import CameraTraceModel
from tests.conftest import ROOT, needs_shared


@needs_shared
def test_a_tiny_training_run_gives_a_loadable_calibrated_network(tmp_path: Path) -> None:
    args = ["--steps", "2", "--calibration-limit", "4", "--out-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "training.train_camera_trace", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sidecar = json.loads((tmp_path / "camera_trace.json").read_text("utf-8"))
    assert sidecar["training"]["steps"] == 2 and sidecar["training"]["dev_folds"] == [2, 3, 4]
    assert sidecar["calibration"]["width"] > 0 and sidecar["calibration"]["dev_pictures"] > 0
    model = CameraTraceModel((tmp_path / "camera_trace.onnx").read_bytes(), sidecar)
    rgb = np.random.default_rng(0).integers(0, 256, (128, 160, 3), dtype=np.uint8)
    assert model.vectors(rgb).shape == (3, 4, sidecar["architecture"]["embedding"])
