"""The AI-image detector run in windows: does one area look more generated than the rest?

A crowd pasted from a generator into a real photo leaves the whole-picture detector diluted,
because most of the picture is a camera's. Run tile by tile, the same calibrated model gives a
probability per window; an area that stands out *against the picture's own windows* is what
this map shows. The comparison with the rest of the picture matters: a generated picture is
uniformly "AI" and has no stand-out area, and the whole-picture verdict already speaks for it.

The tiles are the detector's own (256 pixels at the picture's resolution; resizing would wash
the traces out). At most `MAX_WINDOWS` windows are read, spread evenly over the picture, so a
large picture costs about as much as a small one; the map is correspondingly coarse.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.detect.features import TILE, tile_features
from photoloupe.detect.model import DetectorModel, load_model
from photoloupe.findings import Finding
from photoloupe.io import Picture

MAX_WINDOWS = 20
# A window's probability must exceed the picture's median window by this much to count as an
# area that stands out; the per-window spread of camera photos in the corpus is about 0.1-0.2.
STAND_OUT = 0.35


def window_origins(height: int, width: int, limit: int = MAX_WINDOWS) -> list[tuple[int, int]]:
    """Top-left corners of up to `limit` TILE-sized windows covering the picture evenly.

    Half-overlapping windows when the picture is small enough, otherwise evenly spaced ones.

    >>> window_origins(512, 512)[:3]
    [(0, 0), (0, 128), (0, 256)]
    >>> len(window_origins(4000, 3000))
    20
    """
    if height < TILE or width < TILE:
        return []
    for stride in (TILE // 2, TILE):
        ys = _positions(height, stride)
        xs = _positions(width, stride)
        if len(ys) * len(xs) <= limit:
            return [(y, x) for y in ys for x in xs]
    # Too many: as many rows and columns as the limit allows, in the picture's proportions.
    rows = max(1, round(float(np.sqrt(limit * height / width))))
    cols = max(1, limit // rows)
    ys = np.linspace(0, height - TILE, rows).round().astype(int).tolist()
    xs = np.linspace(0, width - TILE, cols).round().astype(int).tolist()
    return [(y, x) for y in ys for x in xs]


def _positions(size: int, stride: int) -> list[int]:
    last = size - TILE
    out = list(range(0, last + 1, stride))
    if out[-1] != last:
        out.append(last)
    return out


def analyse_ai_regions(source: Context | Picture, model: DetectorModel | None = None) -> Finding:
    """Per-window AI probability, and the areas that stand out from the rest of the picture.

    `model` defaults to the shipped detector; benchmarks pass one trained without the
    generators they paste. `details` holds the windows ([x, y, w, h]) with their probabilities.
    """
    context = Context.of(source)
    picture = context.picture
    model = model or load_model()
    rgb = picture.pixels
    h, w = rgb.shape[:2]
    origins = window_origins(h, w)
    if len(origins) < 2:
        return Finding(
            score=None,
            notes=("The picture is too small to compare areas with the AI detector.",),
            codes=("ai_regions_too_small",),
        )
    tiles = np.stack([tile_features(rgb[y : y + TILE, x : x + TILE]) for y, x in origins])
    logits = model.tile_logits(tiles.astype(np.float32))
    probs = np.array([model.probability(float(v)) for v in logits])
    baseline = float(np.median(probs))
    excess = np.clip(probs - baseline, 0.0, 1.0)
    heat = _paint(h, w, origins, excess)
    score = float(np.clip(excess.max() / (2 * STAND_OUT), 0.0, 1.0))
    stands_out = bool(excess.max() >= STAND_OUT)
    if stands_out:
        notes: tuple[str, ...] = (
            "Run window by window, the AI detector rates one area clearly higher than the rest "
            "of the picture: weak evidence that this area was generated and inserted.",
        )
        codes: tuple[str, ...] = ("ai_regions_stand_out",)
    else:
        notes = ("Run window by window, the AI detector rates all areas alike.",)
        codes = ("ai_regions_uniform",)
    return Finding(
        score=score,
        notes=notes,
        map=heat,
        codes=codes,
        details={
            "windows": [
                {"box": [x, y, TILE, TILE], "probability": round(float(p), 4)}
                for (y, x), p in zip(origins, probs, strict=True)
            ],
            "median_probability": round(baseline, 4),
        },
    )


def _paint(
    height: int, width: int, origins: list[tuple[int, int]], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """A map at 1/16 of the picture's size: each cell the mean of the windows covering it
    (cells no window covers take the nearest window's value)."""
    step = 16
    gh, gw = -(-height // step), -(-width // step)
    total = np.zeros((gh, gw))
    count = np.zeros((gh, gw))
    for (y, x), v in zip(origins, values, strict=True):
        sl = np.s_[y // step : (y + TILE) // step, x // step : (x + TILE) // step]
        total[sl] += v
        count[sl] += 1
    if (count == 0).any():
        from scipy.ndimage import distance_transform_edt

        _, (iy, ix) = distance_transform_edt(count == 0, return_indices=True)
        total, count = total[iy, ix], count[iy, ix]
    return np.asarray(total / np.maximum(count, 1), dtype=np.float32)
