"""Detector 3's weight loader: what it refuses, and that a refusal is never a silent fallback."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from photoloupe.detect import ensemble
from photoloupe.detect.model import ModelIntegrityError


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    shipped = resources.files("photoloupe.detect").joinpath("weights")
    for name in (ensemble.WEIGHTS_FILE, ensemble.MANIFEST_FILE):
        with resources.as_file(shipped.joinpath(name)) as path:
            shutil.copy(path, tmp_path / name)
    return tmp_path


def _manifest(directory: Path) -> dict[str, object]:
    loaded = json.loads((directory / ensemble.MANIFEST_FILE).read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _rewrite(directory: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Change the weights' arrays and record the new file's hash, as a careless retrain would."""
    with np.load(directory / ensemble.WEIGHTS_FILE) as a:
        arrays = {k: a[k] for k in a.files}
    change(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (directory / ensemble.WEIGHTS_FILE).write_bytes(buf.getvalue())
    manifest = _manifest(directory)
    manifest["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (directory / ensemble.MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")


def test_a_copy_of_the_shipped_weights_loads_as_the_packaged_detector(weights: Path) -> None:
    copy, packaged = ensemble.load_detector3(str(weights)), ensemble.load_detector3()
    assert (copy.sha256, copy.threshold, copy.branches) == (
        packaged.sha256,
        packaged.threshold,
        packaged.branches,
    )


def test_weights_changed_by_one_byte_are_refused(weights: Path) -> None:
    blob = bytearray((weights / ensemble.WEIGHTS_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (weights / ensemble.WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError, match="fingerprint"):
        ensemble.load_detector3(str(weights))


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", 0.5), ("crop_set", "all"), ("branches", ["encoder", "fsd"])],
)
def test_a_manifest_that_disagrees_with_its_weights_is_refused(
    weights: Path, field: str, value: object
) -> None:
    # The manifest's own hash still matches the weights: only the hashed file is trusted.
    manifest = _manifest(weights)
    manifest[field] = value
    (weights / ensemble.MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ModelIntegrityError, match="disagrees"):
        ensemble.load_detector3(str(weights))


def test_incomplete_or_misshapen_weights_are_an_integrity_error(weights: Path) -> None:
    _rewrite(weights, lambda a: a.pop("head_coef"))
    with pytest.raises(ModelIntegrityError, match="incomplete"):
        ensemble.load_detector3(str(weights))


def test_a_head_that_does_not_fit_its_feature_set_is_refused(weights: Path) -> None:
    def shorten(a: dict[str, np.ndarray]) -> None:
        a["head_coef"] = a["head_coef"][:512]

    _rewrite(weights, shorten)
    with pytest.raises(ModelIntegrityError, match="feature set"):
        ensemble.load_detector3(str(weights))


def test_an_unreadable_manifest_is_an_integrity_error(weights: Path) -> None:
    (weights / ensemble.MANIFEST_FILE).write_text("{not json", "utf-8")
    with pytest.raises(ModelIntegrityError, match="unreadable"):
        ensemble.load_detector3(str(weights))
