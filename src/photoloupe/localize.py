"""Fusion of the editing analyses into one map, one probability and a list of regions.

Every local analysis (double compression, JPEG grid, ghosts, error levels, noise, CFA,
resampling, the AI detector in windows) leaves a map where bright means "this area does not
behave like the rest of the picture". None of them is reliable alone: each is blind in some
conditions and noisy in others. The fusion weighs them with a small logistic model learned on
composites made here (`training/train_fusion.py`): AI-made areas pasted into camera photos
from a development split of the corpus, beside their untouched twins. The generators and the
cameras used to learn the weights are not the ones the benchmark measures on.

- per block of `BLOCK` pixels: a logistic combination of every map's value (and whether the
  analysis could run at all) gives the probability that the block was changed;
- per picture: a second logistic model reads the strongest coherent area of that block map and
  each analysis's own score, and gives `edited.probability`;
- regions are the connected areas of the smoothed block map above one half, reported only when
  the picture's probability passes the threshold chosen on the development split's untouched
  photos (so that few untouched photos are ever called edited).

Copy-move is the exception: the composites teach nothing about it, and a geometrically
consistent duplicate is strong evidence on its own, so its regions (copy and source) are added
as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage

from photoloupe.findings import Finding, Localization
from photoloupe.forensics.local_statistics import (
    CELL,
    RELATIVE,
    STAT_NAMES,
    cell_statistics,
    relative,
)
from photoloupe.schema.report import Region

BLOCK = CELL  # the fusion works on the local statistics' cells
# The analyses whose maps the shipped fusion was trained on, in feature order. The fusion
# reads the list from its weights (`FusionWeights.methods`); this is what `make train` uses
# when the registry's local analyses are not given.
LOCAL_METHODS = (
    "double_compression",
    "jpeg_grid",
    "jpeg_ghosts",
    "ela",
    "noise",
    "cfa",
    "resampling",
    "ai_regions",
    "wavelet_noise",
    "camera_trace",
)
COPY_MOVE = "copy_move"
# Standardised inputs are clipped to this many standard deviations: one analysis gone wild on
# an untouched picture (a noise map at its maximum over snow) must not outvote all the others.
Z_CLIP = 3.0
REGION_LEVEL = 0.5
MIN_REGION_SHARE = 0.004  # of the picture's area: smaller specks are not reported
MAX_REGIONS = 8
WEIGHTS_RESOURCE = ("forensics", "weights", "fusion.json")

FloatMap = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FusionWeights:
    """The learned fusion: block model, picture model and the decision threshold.

    The block model is a logistic regression on standardised block features
    (`block_feature_names`); the picture model one on `image_feature_names`.
    """

    version: str
    block_mean: list[float]
    block_scale: list[float]
    block_coef: list[float]
    block_bias: float
    image_weights: dict[str, float]
    image_bias: float
    threshold: float
    training: dict[str, Any] = field(default_factory=dict)
    # The block probability from which a block counts as edited in the map (chosen on the
    # development composites for the best overlap with the truth); the map is rescaled so that
    # this level reads 0.5.
    map_threshold: float = 0.5
    # The analyses whose maps the block model reads, in feature order.
    methods: tuple[str, ...] = LOCAL_METHODS

    def to_json(self) -> str:
        data = dict(self.__dict__)
        data.pop("methods")
        data["block_features"] = block_feature_names(self.methods)
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def simple(
        cls,
        map_weight: float,
        bias: float,
        image_weights: dict[str, float],
        image_bias: float,
        threshold: float,
        methods: tuple[str, ...] = LOCAL_METHODS,
    ) -> FusionWeights:
        """Weights that only add up the analyses' maps (for tests and experiments)."""
        n = len(block_feature_names(methods))
        coef = [0.0] * n
        for i in range(len(methods)):
            coef[i] = map_weight
        return cls(
            "simple",
            [0.0] * n,
            [1.0] * n,
            coef,
            bias,
            image_weights,
            image_bias,
            threshold,
            methods=methods,
        )


def block_feature_names(methods: tuple[str, ...] = LOCAL_METHODS) -> list[str]:
    """Names of the fusion's per-block inputs, in order: one map per analysis in `methods`,
    then the local statistics."""
    names = [f"map_{m}" for m in methods]
    names += [f"stat_{s}" for s in STAT_NAMES]
    names += [f"rel_{STAT_NAMES[i]}" for i in RELATIVE]
    names += [f"rel2_{STAT_NAMES[i]}" for i in RELATIVE]
    return names


@cache
def load_weights() -> FusionWeights:
    """The shipped fusion weights (`forensics/weights/fusion.json`)."""
    path = resources.files("photoloupe").joinpath(*WEIGHTS_RESOURCE)
    return parse_weights(json.loads(path.read_text("utf-8")))


def parse_weights(data: Mapping[str, Any]) -> FusionWeights:
    """Weights from their JSON. The analyses they weigh are read from their block features
    (`map_<name>`, by name, not by position); the local statistics must be today's."""
    listed = [str(v) for v in data.get("block_features", [])]
    methods = tuple(n[len("map_") :] for n in listed if n.startswith("map_"))
    if listed != block_feature_names(methods):
        raise ValueError("the fusion weights were made for other block features; run make train")
    weights = FusionWeights(
        version=str(data["version"]),
        block_mean=[float(v) for v in data["block_mean"]],
        block_scale=[float(v) for v in data["block_scale"]],
        block_coef=[float(v) for v in data["block_coef"]],
        block_bias=float(data["block_bias"]),
        image_weights={k: float(v) for k, v in data["image_weights"].items()},
        image_bias=float(data["image_bias"]),
        threshold=float(data["threshold"]),
        training=dict(data.get("training", {})),
        map_threshold=float(data.get("map_threshold", 0.5)),
        methods=methods,
    )
    if not len(weights.block_mean) == len(weights.block_scale) == len(weights.block_coef):
        raise ValueError("the fusion weights are inconsistent")
    return weights


def block_grid(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of the fusion's block grid for a picture of this size.

    >>> block_grid(600, 801)
    (19, 26)
    """
    return -(-height // BLOCK), -(-width // BLOCK)


def resize_map(array: npt.ArrayLike, shape: tuple[int, int]) -> FloatMap:
    """A 2-D map brought to `shape` (rows, columns) by area or bilinear resampling."""
    a = np.nan_to_num(np.asarray(array, dtype=np.float32), nan=0.0)
    if a.ndim == 3:
        a = a[..., 0]
    if a.shape == shape:
        return np.clip(a, 0.0, 1.0)
    img = Image.fromarray(np.ascontiguousarray(a), mode="F")
    shrinking = a.shape[0] > shape[0] and a.shape[1] > shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    out = np.asarray(img.resize((shape[1], shape[0]), method), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def block_features(
    height: int,
    width: int,
    findings: Mapping[str, Finding],
    pixels: npt.NDArray[np.uint8] | None = None,
    methods: tuple[str, ...] = LOCAL_METHODS,
) -> tuple[npt.NDArray[np.float32], list[str]]:
    """Per-block inputs of the fusion, (rows, cols, len(block_feature_names())), and the names
    of the analyses that produced a map. Feature i is method i's map (0 when it has none: the
    block model reads only local evidence; whether an analysis could run at all is a fact about
    the whole picture); then come the local statistics of `pixels`
    (`forensics/local_statistics.py`), as measured and relative to the picture, when given."""
    shape = block_grid(height, width)
    feats = np.zeros((*shape, len(block_feature_names(methods))), dtype=np.float32)
    ran: list[str] = []
    for i, name in enumerate(methods):
        finding = findings.get(name)
        if finding is None or finding.map is None or finding.map.size == 0:
            continue
        feats[..., i] = resize_map(finding.map, shape)
        ran.append(name)
    if pixels is not None and min(pixels.shape[:2]) >= 1:
        stats = cell_statistics(pixels)
        rel = relative(stats)
        start = len(methods)
        n_stats, n_rel = len(STAT_NAMES), len(RELATIVE)
        feats[..., start : start + n_stats] = stats
        feats[..., start + n_stats : start + n_stats + n_rel] = rel
        feats[..., start + n_stats + n_rel :] = rel * rel
    return feats, ran


def block_logits(feats: npt.NDArray[np.float32], weights: FusionWeights) -> FloatMap:
    mean = np.asarray(weights.block_mean, dtype=np.float32)
    scale = np.asarray(weights.block_scale, dtype=np.float32)
    coef = np.asarray(weights.block_coef, dtype=np.float32)
    z = np.clip((feats - mean) / scale, -Z_CLIP, Z_CLIP)
    return np.asarray(z @ coef + weights.block_bias, dtype=np.float32)


def image_features(
    block_probability: FloatMap,
    findings: Mapping[str, Finding],
    methods: tuple[str, ...] = LOCAL_METHODS,
) -> dict[str, float]:
    """The picture-level inputs: the strongest coherent area of the block map, and each
    analysis's own score (0 when it could not judge)."""
    smooth = smooth_map(block_probability)
    flat = np.sort(smooth.ravel())[::-1]
    top = flat[: max(1, flat.size // 50)]
    feats = {
        "top_mean": float(top.mean()),
        "area_above_half": float((smooth > REGION_LEVEL).mean()),
    }
    for name in methods:
        finding = findings.get(name)
        score = finding.score if finding is not None else None
        feats[f"score_{name}"] = float(score) if score is not None else 0.0
    return feats


def fuse(
    height: int,
    width: int,
    findings: Mapping[str, Finding],
    weights: FusionWeights | None = None,
    pixels: npt.NDArray[np.uint8] | None = None,
    local: tuple[str, ...] = (),
) -> Localization:
    """Fuse the findings of one picture (stored size `height` x `width`, and its `pixels` for
    the local statistics; without them only the analyses' maps are read).

    `local` names the analyses meant for the fusion (the registry's local ones); those among
    them that left a map the weights were not trained on are listed in `unweighted`.
    """
    weights = weights or load_weights()
    methods = weights.methods
    unweighted = [
        name
        for name in local
        if name not in methods and (f := findings.get(name)) is not None and f.map is not None
    ]
    feats, ran = block_features(height, width, findings, pixels, methods)
    copy_move = findings.get(COPY_MOVE)
    cm_found = copy_move is not None and _copy_move_found(copy_move)
    if not ran and not cm_found:
        return Localization(None, weights.threshold, False, None, [], ran, unweighted)
    block_p = sigmoid_array(block_logits(feats, weights))
    if not ran:
        block_p = np.zeros_like(block_p)
    image = image_features(block_p, findings, methods)
    z = weights.image_bias + sum(weights.image_weights.get(k, 0.0) * v for k, v in image.items())
    probability = float(sigmoid_array(np.float32(z)))
    smooth = rescale_map(smooth_map(block_p), weights.map_threshold)
    fused = smooth.copy()
    decision = probability > weights.threshold
    regions: list[Region] = []
    if decision:
        regions = _regions(smooth, findings, height, width, methods)
    if cm_found and copy_move is not None:
        cm_map = (
            resize_map(copy_move.map, smooth.shape)
            if copy_move.map is not None
            else np.zeros_like(smooth)
        )
        # A verified pair counts through its own score, against the same threshold: a strong
        # duplicate decides alone, a marginal one (repeated windows, tiles) does not.
        cm_score = float(copy_move.score or 0.0)
        if cm_score > weights.threshold:
            # The pair is the evidence; the learned map's weaker areas join it only when the
            # fusion is convinced on its own.
            fused = np.maximum(fused, cm_map) if decision else cm_map
            regions = _copy_move_regions(copy_move) + regions
            decision = True
        probability = max(probability, cm_score)
    return Localization(
        probability=round(probability, 4),
        threshold=weights.threshold,
        decision=decision,
        map=fused.astype(np.float32),
        regions=regions[:MAX_REGIONS],
        methods_run=ran + ([COPY_MOVE] if copy_move is not None else []),
        unweighted=unweighted,
    )


def full_size_map(block_map: FloatMap, height: int, width: int) -> npt.NDArray[np.uint8]:
    """The block map as an 8-bit picture of the picture's own size (255 = most likely edited)."""
    full = resize_map(block_map, (height, width))
    return np.asarray(np.rint(full * 255), dtype=np.uint8)


def _copy_move_found(finding: Finding) -> bool:
    return "copy_move_found" in finding.codes and bool(finding.details.get("pairs"))


def _copy_move_regions(finding: Finding) -> list[Region]:
    out: list[Region] = []
    pairs = finding.details.get("pairs")
    if not isinstance(pairs, list):
        return out
    score = float(finding.score or 0.0)
    for pair in pairs:
        if not isinstance(pair, dict):
            continue
        for key in ("target_box", "source_box"):
            box = pair.get(key)
            if isinstance(box, list | tuple) and len(box) == 4:
                x, y, w, h = (round(float(v)) for v in box)
                out.append(Region(box=(x, y, w, h), score=round(score, 4), methods=[COPY_MOVE]))
    return out


def _regions(
    smooth: FloatMap,
    findings: Mapping[str, Finding],
    height: int,
    width: int,
    methods: tuple[str, ...],
) -> list[Region]:
    mask = smooth > REGION_LEVEL
    labels, count = ndimage.label(mask)
    if count == 0:
        return []
    min_blocks = max(2, int(MIN_REGION_SHARE * mask.size))
    shape = smooth.shape
    maps = {
        name: resize_map(f.map, shape)
        for name in methods
        if (f := findings.get(name)) is not None and f.map is not None and f.map.size
    }
    found: list[Region] = []
    for index, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        inside = labels[sl] == index
        if inside.sum() < min_blocks:
            continue
        region = labels == index
        marking = [
            name
            for name, m in maps.items()
            if float(m[region].mean()) >= max(0.3, 2.0 * float(m[~region].mean()))
        ]
        y0, y1 = sl[0].start * BLOCK, min(height, sl[0].stop * BLOCK)
        x0, x1 = sl[1].start * BLOCK, min(width, sl[1].stop * BLOCK)
        found.append(
            Region(
                box=(x0, y0, x1 - x0, y1 - y0),
                score=round(float(smooth[region].mean()), 4),
                methods=marking or ["fusion"],
            )
        )
    found.sort(key=lambda r: -r.score)
    return found


def rescale_map(block_p: FloatMap, level: float) -> FloatMap:
    """Shift a probability map in logit space so that `level` reads 0.5.

    >>> [round(float(v), 2) for v in rescale_map(np.array([0.2, 0.5], np.float32), 0.2)]
    [0.5, 0.8]
    """
    if level == 0.5:
        return block_p
    p = np.clip(block_p, 1e-6, 1 - 1e-6)
    shift = np.log(level / (1 - level))
    return np.asarray(sigmoid_array(np.log(p / (1 - p)) - shift), dtype=np.float32)


def smooth_map(block_p: FloatMap) -> FloatMap:
    # A light blur: one cell is already 32 pixels, and edits rarely follow the cell grid.
    return np.asarray(ndimage.gaussian_filter(block_p, 0.7, mode="nearest"), dtype=np.float32)


def sigmoid_array(z: npt.ArrayLike) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=np.float32), -30, 30)))
