"""`camera_trace`: the learned camera-trace extractor and its host/anomaly mixture (issue 14)."""

from __future__ import annotations

import hashlib
import io
import json
from importlib import resources

import numpy as np
import pytest
from PIL import Image

from photoloupe.forensics.camera_trace import (
    MODEL_RESOURCE,
    SIDECAR_RESOURCE,
    STRIDE,
    CameraTraceModel,
    analyse_camera_trace,
    fit_host_and_anomaly,
    host_direction,
    load_model,
    window_reliability,
    windows_to_cells,
)
from photoloupe.io import load_picture
from photoloupe.registry import ANALYSES
from tests.conftest import SHARED, needs_shared

# Two camera photos of the localisation benchmark's test folds (makes the network never saw),
# from different makers: a Panasonic DMC-LC40 host and an Apple iPhone 4S donor, both 768 x 768
# and fine-grained all over (every window reliable), chosen by that alone.
HOST = "real/camera/metadata-extractor-image-5e78008b19.jpg"
DONOR = "real/camera/metadata-extractor-image-08809ff5bc.jpg"


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _rgb(path: str) -> np.ndarray:
    with Image.open(SHARED / path) as im:
        return np.asarray(im.convert("RGB"))


def _area_mean(heat: np.ndarray, box: tuple[int, int, int, int]) -> float:
    y0, x0, y1, x1 = (v // STRIDE for v in box)
    return float(heat[y0:y1, x0:x1].mean())


def test_the_shipped_network_matches_its_recorded_sha256() -> None:
    base = resources.files("photoloupe").joinpath(*MODEL_RESOURCE[:-1])
    onnx_bytes = base.joinpath(MODEL_RESOURCE[-1]).read_bytes()
    sidecar = json.loads(base.joinpath(SIDECAR_RESOURCE[-1]).read_text("utf-8"))
    assert hashlib.sha256(onnx_bytes).hexdigest() == sidecar["sha256"] == load_model().sha256
    assert len(onnx_bytes) < 25 * 1024 * 1024
    with pytest.raises(ValueError, match="sha256"):
        CameraTraceModel(onnx_bytes + b"\0", sidecar)


def test_window_vectors_are_unit_length_on_the_stride_grid() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (256, 320, 3), dtype=np.uint8)
    vectors = load_model().vectors(rgb)
    assert vectors.shape[:2] == (256 // STRIDE - 1, 320 // STRIDE - 1)
    assert np.allclose(np.linalg.norm(vectors, axis=2), 1.0, atol=1e-3)


def test_the_mixture_finds_a_minority_cluster_and_its_separation() -> None:
    rng = np.random.default_rng(1)
    one = np.abs(rng.normal(0.1, 0.03, 400))
    two = np.concatenate([one[:340], rng.normal(0.5, 0.05, 60)])
    split = fit_host_and_anomaly(two, np.ones(400))
    single = fit_host_and_anomaly(one, np.ones(400))
    assert split.posterior[340:].mean() > 0.9 and split.posterior[:340].mean() < 0.1
    assert abs(split.anomaly_share - 0.15) < 0.02
    assert split.separation > 8 > single.separation + 3


def test_the_host_direction_is_a_median_that_a_minority_does_not_pull() -> None:
    rng = np.random.default_rng(3)
    host = np.tile(np.eye(8, dtype=np.float32)[0], (300, 1)) + rng.normal(0, 0.05, (300, 8))
    other = np.tile(np.eye(8, dtype=np.float32)[1], (100, 1))
    vectors = np.concatenate([host, other]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    direction = host_direction(vectors, np.ones(400, np.float32))
    assert float(direction[0]) > 0.99 and abs(float(np.linalg.norm(direction)) - 1) < 1e-5


def test_flat_windows_are_unreliable_and_textured_ones_reliable() -> None:
    rng = np.random.default_rng(2)
    grey = np.clip(128 + rng.normal(0, 6, (256, 256)), 0, 255).astype(np.uint8)
    grey[:, :128] = 128
    rel = window_reliability(grey)
    assert rel.shape == (7, 7)
    assert rel[:, :2].max() == 0.0 and rel[:, 4:].min() == 1.0


def test_windows_spread_over_the_cells_they_cover() -> None:
    values = np.zeros((3, 3), np.float32)
    values[1, 1] = 1.0
    cells = windows_to_cells(values, np.ones_like(values))
    assert cells.shape == (4, 4)
    assert cells[1:3, 1:3].min() > 0 and cells[0, 0] == 0.0


def test_a_flat_picture_is_not_judged_rather_than_guessed() -> None:
    flat = np.full((512, 512, 3), 120, np.uint8)
    finding = analyse_camera_trace(load_picture(_jpeg(flat, 90)))
    assert finding.score is None and finding.map is None
    assert finding.codes == ("camera_trace_not_measurable",)


@needs_shared
@pytest.mark.parametrize("quality", [95, 85])
def test_a_patch_from_another_cameras_photo_is_found(quality: int) -> None:
    host, donor = _rgb(HOST), _rgb(DONOR)
    box = (192, 224, 448, 480)  # y0, x0, y1, x1: on the cell grid, 11 % of the picture
    spliced = host.copy()
    spliced[box[0] : box[2], box[1] : box[3]] = donor[: box[2] - box[0], : box[3] - box[1]]
    finding = analyse_camera_trace(load_picture(_jpeg(spliced, quality)))
    twin = analyse_camera_trace(load_picture(_jpeg(host, quality)))
    assert finding.map is not None and finding.reliability is not None
    assert finding.map.shape == finding.reliability.shape == (768 // STRIDE, 768 // STRIDE)
    # The map marks the patch: every cell well inside it, and most of the picture not.
    inner = (box[0] + 32, box[1] + 32, box[2] - 32, box[3] - 32)
    assert _area_mean(finding.map, inner) > 0.9, finding.details
    outside = finding.map.copy()
    outside[box[0] // STRIDE : box[2] // STRIDE, box[1] // STRIDE : box[3] // STRIDE] = np.nan
    assert float(np.nanmedian(outside)) < 0.25
    # And the picture scores higher than its untouched twin.
    assert (finding.score or 0.0) > (twin.score or 0.0)
    assert finding.details["evidence"] > twin.details["evidence"]  # type: ignore[operator]


@needs_shared
@pytest.mark.parametrize("quality", [95, 85])
def test_the_untouched_photo_gives_no_region(quality: int) -> None:
    finding = analyse_camera_trace(load_picture(_jpeg(_rgb(HOST), quality)))
    assert finding.codes == ("camera_trace_consistent",), finding.details
    assert (finding.score or 0.0) < 0.5


@pytest.mark.parametrize("size", [(256, 256), (257, 1100), (1100, 300), (1500, 1333)])
def test_odd_sizes_give_maps_on_the_fusion_grid_with_a_reliability_beside(
    size: tuple[int, int],
) -> None:
    rng = np.random.default_rng(4)
    h, w = size
    rgb = np.clip(128 + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    rgb[: h // 3] = 200  # a flat band: unreliable there
    finding = analyse_camera_trace(load_picture(_jpeg(rgb, 90)))
    assert finding.map is not None and finding.reliability is not None
    grid = (-(-h // STRIDE), -(-w // STRIDE))
    assert finding.map.shape == finding.reliability.shape == grid
    for array in (finding.map, finding.reliability):
        assert np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0
    # The flat band is unreliable, and the map says nothing there.
    band = max(1, (h // 3) // STRIDE - 2)
    assert finding.reliability[:band].max() == 0.0 and finding.map[:band].max() == 0.0
    assert finding.score is not None and 0.0 <= finding.score <= 1.0


def test_ties_and_a_majority_give_no_anomaly_instead_of_a_half_everywhere() -> None:
    tied = fit_host_and_anomaly(np.array([0.1] * 90 + [0.5] * 10), np.ones(100))
    assert tied.posterior[:90].max() < 0.01 and tied.posterior[90:].min() > 0.99
    rng = np.random.default_rng(5)
    majority = np.concatenate([rng.normal(0.1, 0.02, 30), rng.normal(0.5, 0.05, 70)])
    assert fit_host_and_anomaly(majority, np.ones(100)).posterior.max() == 0.0
    # Unreliable windows do not steal the anomaly from the real one.
    x = np.concatenate(
        [rng.normal(0.1, 0.02, 300), rng.normal(0.5, 0.05, 40), rng.normal(0.9, 0.02, 200)]
    )
    w = np.concatenate([np.ones(340), np.full(200, 0.01)])
    assert fit_host_and_anomaly(x, w).posterior[300:340].mean() > 0.9


def test_it_is_registered_as_a_local_analysis() -> None:
    (spec,) = [s for s in ANALYSES if s.name == "camera_trace"]
    assert spec.kind == "local" and spec.run is analyse_camera_trace
    assert "camera_trace_inconsistent_area" in spec.area_codes
