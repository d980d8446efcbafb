"""The fusion of editing analyses (`photoloupe.localize`) and the windowed AI detector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from photoloupe.findings import Finding
from photoloupe.forensics.local_statistics import CELL
from photoloupe.localize import (
    LOCAL_METHODS,
    FusionWeights,
    block_feature_names,
    block_grid,
    full_size_map,
    fuse,
    load_weights,
    parse_weights,
    resize_map,
)


def _weights(threshold: float = 0.5) -> FusionWeights:
    """Hand-made weights, so these tests check the fusion's mechanics, not the learned values."""
    return FusionWeights.simple(
        map_weight=4.0,
        bias=-4.0,
        image_weights={"top_mean": 12.0},
        image_bias=-6.0,
        threshold=threshold,
    )


def _square_map(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.float32)
    x, y, bw, bh = box
    m[y : y + bh, x : x + bw] = 1.0
    return m


def test_shipped_weights_match_the_features() -> None:
    weights = load_weights()
    assert len(weights.block_coef) == len(block_feature_names())
    assert all(f"map_{m}" in block_feature_names() for m in LOCAL_METHODS)
    assert 0.5 <= weights.threshold < 1.0
    assert weights.training["dev_folds"], "the weights must say what they were learned on"


def test_weights_for_other_features_are_refused() -> None:
    data = json.loads(load_weights().to_json())
    data["block_features"] = data["block_features"][:-1]
    with pytest.raises(ValueError, match="other block features"):
        parse_weights(data)


def test_the_fusion_reads_its_inputs_by_name_not_by_position() -> None:
    shipped = load_weights()
    order = list(range(len(shipped.methods)))[::-1]
    n = len(shipped.methods)
    reordered = json.loads(shipped.to_json())
    for key in ("block_mean", "block_scale", "block_coef", "block_features"):
        values = reordered[key]
        reordered[key] = [values[i] for i in order] + values[n:]
    weights = parse_weights(reordered)
    assert weights.methods == shipped.methods[::-1]
    findings = {
        "noise": Finding(score=0.8, map=_square_map(50, 75, (40, 20, 20, 15))),
        "ela": Finding(score=0.5, map=_square_map(50, 75, (10, 10, 30, 10))),
        "unknown": Finding(score=1.0, map=np.ones((50, 75), np.float32)),
    }
    a = fuse(400, 600, findings, shipped, local=("noise", "ela", "unknown"))
    b = fuse(400, 600, findings, weights, local=("noise", "ela", "unknown"))
    assert a.probability == b.probability
    assert a.map is not None and b.map is not None
    np.testing.assert_allclose(a.map, b.map, atol=1e-6)
    # A map the weights do not know is not read, and is listed as such.
    assert a.unweighted == ["unknown"] and "unknown" not in a.methods_run


def test_no_maps_means_no_judgement() -> None:
    loc = fuse(400, 600, {}, _weights())
    assert loc.probability is None
    assert loc.decision is False
    assert loc.regions == []


def test_agreeing_maps_give_a_region_where_they_agree() -> None:
    box = (320, 160, 160, 120)
    # The maps come at different resolutions, as the analyses make them.
    findings = {
        "noise": Finding(score=0.8, map=_square_map(50, 75, (40, 20, 20, 15))),
        "double_compression": Finding(score=0.9, map=_square_map(400, 600, box)),
    }
    loc = fuse(400, 600, findings, _weights())
    assert loc.decision
    assert loc.probability is not None and loc.probability > 0.5
    assert len(loc.regions) == 1
    x, y, w, h = loc.regions[0].box
    assert abs(x - box[0]) <= CELL and abs(y - box[1]) <= CELL
    assert abs(w - box[2]) <= 2 * CELL and abs(h - box[3]) <= 2 * CELL
    assert set(loc.regions[0].methods) == {"noise", "double_compression"}
    assert loc.map is not None and loc.map.shape == block_grid(400, 600)


def test_dark_maps_give_no_region() -> None:
    findings = {
        name: Finding(score=0.0, map=np.zeros((50, 75), np.float32)) for name in LOCAL_METHODS
    }
    loc = fuse(400, 600, findings, _weights())
    assert loc.probability is not None and loc.probability < 0.5
    assert not loc.decision
    assert loc.regions == []


def test_regions_only_when_the_picture_passes_the_threshold() -> None:
    square = _square_map(400, 600, (0, 0, 200, 200))
    findings = {"noise": Finding(score=0.8, map=square), "ela": Finding(score=0.8, map=square)}
    assert fuse(400, 600, findings, _weights(threshold=0.5)).regions
    strict = fuse(400, 600, findings, _weights(threshold=0.999999))
    assert not strict.decision and strict.regions == []


def test_copy_move_adds_source_and_copy() -> None:
    pairs = [{"source_box": [10, 20, 64, 64], "target_box": [300, 200, 64, 64], "branch": "blocks"}]
    finding = Finding(
        score=0.9,
        map=_square_map(400, 600, (10, 20, 64, 64)) + _square_map(400, 600, (300, 200, 64, 64)),
        codes=("copy_move_found",),
        details={"pairs": pairs},
    )
    loc = fuse(400, 600, {"copy_move": finding}, _weights())
    assert loc.decision
    boxes = [r.box for r in loc.regions if r.methods == ["copy_move"]]
    assert (300, 200, 64, 64) in boxes and (10, 20, 64, 64) in boxes
    none_found = Finding(score=0.0, codes=("copy_move_none",))
    assert not fuse(400, 600, {"copy_move": none_found}, _weights()).decision


def test_full_size_map_is_the_picture_size_and_8_bit() -> None:
    block = np.zeros(block_grid(101, 203), np.float32)
    block[2:5, 3:9] = 1.0
    full = full_size_map(block, 101, 203)
    assert full.shape == (101, 203) and full.dtype == np.uint8
    assert full.max() == 255 and full[0, 0] == 0


def test_resize_map_keeps_range() -> None:
    m = resize_map(np.array([[0.0, 2.0], [np.nan, 0.5]]), (4, 4))
    assert m.min() >= 0.0 and m.max() <= 1.0 and not np.isnan(m).any()


@pytest.mark.parametrize("size", [(8, 8), (64, 2000)])
def test_fusion_of_tiny_or_thin_pictures(size: tuple[int, int]) -> None:
    h, w = size
    findings = {"noise": Finding(score=0.1, map=np.zeros((1, 1), np.float32))}
    loc = fuse(h, w, findings, _weights())
    assert loc.map is not None and loc.map.shape == block_grid(h, w)


def test_a_marginal_copy_move_pair_does_not_decide_alone() -> None:
    pairs = [{"source_box": [10, 20, 64, 64], "target_box": [300, 200, 64, 64]}]
    weak = Finding(
        score=0.45,
        map=_square_map(400, 600, (300, 200, 64, 64)),
        codes=("copy_move_found",),
        details={"pairs": pairs},
    )
    loc = fuse(400, 600, {"copy_move": weak}, _weights(threshold=0.5))
    assert not loc.decision and loc.regions == []
    assert loc.probability is not None and loc.probability <= loc.threshold
