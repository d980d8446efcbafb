"""Hand-crafted forensic features of a picture's micro-structure, for the AI-image detector.

The features describe *how pixels relate to their neighbours*, not what the picture shows:
- co-occurrences of quantised first- and second-order residuals (the SPAM family of
  steganalysis features), which capture how smooth, noisy or synthetic local texture is;
- the radial power spectrum of the high-pass residual and its peaks at the frequencies that
  up-sampling layers and the 8-pixel JPEG grid leave behind (Corvi et al. 2023);
- cross-channel correlation of residuals, which camera demosaicing makes high and generators
  reproduce poorly;
- simple noise statistics.

All of it is numpy, deterministic, and computed on up to `MAX_TILES` tiles of `TILE` pixels at
the picture's own resolution (resizing would wash the traces out).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TILE = 256
MAX_TILES = 6
MIN_SIDE = 64  # below this there is nothing to measure
_T = 2  # residual truncation for co-occurrences
_RADIAL_BINS = 16
_NLF_BINS = 6

FloatArray = npt.NDArray[np.float32]


def tile_origins(
    height: int, width: int, tile: int = TILE, limit: int = MAX_TILES
) -> list[tuple[int, int]]:
    """Top-left corners of up to `limit` non-overlapping tiles, centre first, deterministic."""
    if height < tile or width < tile:
        return [(0, 0)]
    rows = height // tile
    cols = width // tile
    y0 = (height - rows * tile) // 2
    x0 = (width - cols * tile) // 2
    cells = [(y0 + r * tile, x0 + c * tile) for r in range(rows) for c in range(cols)]
    cy, cx = height / 2, width / 2
    cells.sort(key=lambda yx: ((yx[0] + tile / 2 - cy) ** 2 + (yx[1] + tile / 2 - cx) ** 2, yx))
    return cells[:limit]


def extract_features(rgb: npt.NDArray[np.uint8], max_tiles: int = MAX_TILES) -> FloatArray:
    """Feature vectors of an 8-bit RGB picture (H, W, 3), one row per tile: (tiles, features)."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"picture too small for the detector ({w}×{h})")
    origins = tile_origins(h, w, limit=max_tiles)
    rows = [tile_features(rgb[y : y + TILE, x : x + TILE]) for y, x in origins]
    return np.stack(rows).astype(np.float32)


def luma(rgb: npt.NDArray[np.generic]) -> FloatArray:
    """BT.601 luma of an RGB array, as float32 (0-255)."""
    r = rgb.astype(np.float32)
    return np.asarray(0.299 * r[..., 0] + 0.587 * r[..., 1] + 0.114 * r[..., 2], dtype=np.float32)


def tile_features(tile: npt.NDArray[np.uint8]) -> FloatArray:
    rgb = tile.astype(np.float32)
    grey = luma(rgb)
    cb = -0.168736 * rgb[..., 0] - 0.331264 * rgb[..., 1] + 0.5 * rgb[..., 2]
    cr = 0.5 * rgb[..., 0] - 0.418688 * rgb[..., 1] - 0.081312 * rgb[..., 2]
    # Residuals used more than once are computed once (the features are unchanged).
    dx, dy = np.diff(grey, axis=1), np.diff(grey, axis=0)
    highpass = _highpass(grey)
    parts = [
        _hv_cooccurrence(dx, dy, 1.0),
        _hv_cooccurrence(_second_order(grey, axis=1), _second_order(grey, axis=0), 2.0),
        _hv_cooccurrence(grey[1:, 1:] - grey[:-1, :-1], grey[1:, :-1] - grey[:-1, 1:], 1.0),
        _hv_cooccurrence(np.diff(cb, axis=1), np.diff(cb, axis=0), 1.0),
        _hv_cooccurrence(np.diff(cr, axis=1), np.diff(cr, axis=0), 1.0),
        _hv_cooccurrence(dx, dy, 3.0),
        _hv_cooccurrence(highpass, highpass, 1.0),
        _spectrum(highpass),
        _cross_channel(rgb),
        _noise_stats(highpass),
        _noise_level_function(grey, highpass),
    ]
    return np.concatenate(parts).astype(np.float32)


def feature_names() -> list[str]:
    """Names of the features, in order (for the model card and debugging)."""
    names = []
    for family in ("d1", "d2", "diag", "cb", "cr", "q3d1", "hp"):
        names += [f"cooc_{family}_{i}" for i in range(_COOC_BINS)]
    names += [f"spec_r{i}" for i in range(_RADIAL_BINS)]
    names += ["peak_half", "peak_quarter", "peak_eighth", "peak_max"]
    names += ["xcorr_rg", "xcorr_bg", "xcorr_rb", "chroma_luma_ratio"]
    names += ["res_std_log", "res_kurtosis", "res_zero_frac", "res_std_spread"]
    names += [f"nlf_{i}" for i in range(_NLF_BINS)]
    return names


def _second_order(grey: FloatArray, axis: int) -> FloatArray:
    if axis == 1:
        return grey[:, :-2] - 2 * grey[:, 1:-1] + grey[:, 2:]
    return grey[:-2, :] - 2 * grey[1:-1, :] + grey[2:, :]


# Sign-symmetric folding: (a, b, c) and (-a, -b, -c) describe the same texture, and so do a
# triple and its mirror (c, b, a). Folding halves the bins and steadies the estimates.
def _fold_table() -> tuple[npt.NDArray[np.int64], int]:
    levels = 2 * _T + 1
    index: dict[tuple[int, int, int], int] = {}
    table = np.zeros(levels**3, dtype=np.int64)
    for code in range(levels**3):
        a, b, c = code // (levels * levels) - _T, (code // levels) % levels - _T, code % levels - _T
        key = min((a, b, c), (-a, -b, -c), (c, b, a), (-c, -b, -a))
        table[code] = index.setdefault(key, len(index))
    return table, len(index)


_FOLD, _COOC_BINS = _fold_table()


def _hv_cooccurrence(along_x: FloatArray, along_y: FloatArray, step: float) -> FloatArray:
    """Co-occurrences of a residual along rows and along columns, pooled."""
    pooled = (_cooccurrence(along_x, step, axis=1) + _cooccurrence(along_y, step, axis=0)) / 2
    return np.asarray(pooled, dtype=np.float32)


def _cooccurrence(residual: FloatArray, step: float, axis: int) -> FloatArray:
    levels = 2 * _T + 1
    q = np.clip(np.rint(residual / step), -_T, _T).astype(np.int64) + _T
    if axis == 1:
        a, b, c = q[:, :-2], q[:, 1:-1], q[:, 2:]
    else:
        a, b, c = q[:-2, :], q[1:-1, :], q[2:, :]
    codes = (a * levels + b) * levels + c
    # Count the raw triples, then fold the 125 bins (cheaper than folding every pixel's code).
    raw = np.bincount(codes.ravel(), minlength=levels**3)
    counts = np.bincount(_FOLD, weights=raw, minlength=_COOC_BINS)
    return np.asarray(counts / max(1.0, float(counts.sum())), dtype=np.float32)


def _highpass(grey: FloatArray) -> FloatArray:
    # A 3x3 Laplacian-type predictor: the residual is what the neighbours do not predict.
    p = np.pad(grey, 1, mode="reflect")
    neighbours = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) * 0.5 - (
        p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
    ) * 0.25
    return (grey - neighbours).astype(np.float32)


def _spectrum(residual: FloatArray) -> FloatArray:
    """Radial spectrum and up-sampling / grid peaks of the high-pass residual."""
    h, w = residual.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(residual * window))) ** 2
    total = float(power.sum()) + 1e-9
    fy = (np.arange(h) - h // 2) / h
    fx = (np.arange(w) - w // 2) / w
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) / 0.5  # 1.0 at Nyquist
    bins = np.minimum((radius * _RADIAL_BINS).astype(np.int64), _RADIAL_BINS - 1)
    radial = np.bincount(bins.ravel(), weights=power.ravel(), minlength=_RADIAL_BINS) / total
    radial = np.log(radial + 1e-9)

    def peak(frac: float) -> float:
        # Energy at ±frac of the sampling rate on both axes, against the median around it.
        values = []
        for dy, dx in ((frac, 0.0), (0.0, frac), (frac, frac)):
            y = round(h // 2 + dy * h) % h
            x = round(w // 2 + dx * w) % w
            patch = power[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4]
            values.append(float(power[y, x]) / (float(np.median(patch)) + 1e-9))
        return float(np.log(max(values) + 1e-9))

    peaks = [peak(0.5 - 1.0 / max(h, w)), peak(0.25), peak(0.125)]
    peaks.append(max(peaks))
    return np.concatenate([radial, np.asarray(peaks)]).astype(np.float32)


def _cross_channel(rgb: FloatArray) -> FloatArray:
    r, g, b = (_highpass(rgb[..., i]) for i in range(3))

    def corr(u: FloatArray, v: FloatArray) -> float:
        u0, v0 = u - u.mean(), v - v.mean()
        denom = float(np.sqrt((u0 * u0).sum() * (v0 * v0).sum())) + 1e-6
        return float((u0 * v0).sum()) / denom

    luma_residual = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = np.stack([r - g, b - g])
    ratio = float(np.log((chroma.std() + 1e-3) / (luma_residual.std() + 1e-3)))
    return np.asarray([corr(r, g), corr(b, g), corr(r, b), ratio], dtype=np.float32)


def _noise_stats(residual: FloatArray) -> FloatArray:
    """Strength, tails, flat share and spatial spread of the high-pass residual."""
    std = float(residual.std()) + 1e-6
    kurtosis = float(np.mean(((residual - residual.mean()) / std) ** 4))
    zero = float(np.mean(np.abs(residual) < 0.5))
    # Spread of local noise levels across 32-pixel blocks: flat for sensor noise.
    h, w = residual.shape
    bh, bw = h // 32, w // 32
    if bh and bw:
        blocks = residual[: bh * 32, : bw * 32].reshape(bh, 32, bw, 32).std(axis=(1, 3))
        spread = float(
            np.log((np.percentile(blocks, 90) + 1e-3) / (np.percentile(blocks, 10) + 1e-3))
        )
    else:
        spread = 0.0
    return np.asarray([np.log(std), np.log(kurtosis + 1e-6), zero, spread], dtype=np.float32)


def _noise_level_function(grey: FloatArray, highpass: FloatArray) -> FloatArray:
    """Residual strength by brightness, relative to the whole tile.

    Sensor noise grows with the light that reached the sensor (shot noise); a generator's
    texture has no such law. Empty brightness bins read 0.
    """
    residual = np.abs(highpass)
    overall = float(residual.mean()) + 1e-3
    bins = np.minimum((grey / 256.0 * _NLF_BINS).astype(np.int64), _NLF_BINS - 1)
    sums = np.bincount(bins.ravel(), weights=residual.ravel(), minlength=_NLF_BINS)
    counts = np.bincount(bins.ravel(), minlength=_NLF_BINS)
    out = np.zeros(_NLF_BINS, dtype=np.float32)
    seen = counts > 64
    out[seen] = np.log((sums[seen] / counts[seen] + 1e-3) / overall)
    return out


# Feature groups, for the report's evidence ("which cues pushed the score").
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("texture", ("cooc_d1", "cooc_d2", "cooc_diag")),
    ("colour_texture", ("cooc_cb", "cooc_cr")),
    ("coarse_texture", ("cooc_q3d1", "cooc_hp")),
    ("spectrum", ("spec_", "peak_")),
    ("cross_channel", ("xcorr_", "chroma_luma")),
    ("noise", ("res_", "nlf_")),
)


def feature_groups() -> dict[str, tuple[int, int]]:
    """Group name -> [start, stop) columns of `feature_names()`; groups are contiguous."""
    names = feature_names()
    out: dict[str, tuple[int, int]] = {}
    for group, prefixes in GROUPS:
        columns = [i for i, n in enumerate(names) if n.startswith(prefixes)]
        out[group] = (min(columns), max(columns) + 1)
        assert out[group][1] - out[group][0] == len(columns), group
    return out
