"""Resampling traces (Kirchner 2008).

Resizing or rotating a picture makes every new pixel a fixed linear combination of its
neighbours, with weights that repeat periodically. The error of a fixed linear predictor is then
periodically small, and its spectrum shows sharp peaks (Popescu & Farid 2005, "Exposing digital
forgeries by detecting traces of resampling"; Kirchner 2008, "Fast and reliable resampling
detection by spectral analysis of fixed linear predictor residue").

Method, after Kirchner: residual of the fixed predictor
    e = s - [0.5 * (N + S + E + W) - 0.25 * (NE + NW + SE + SW)]
on 8-bit luma at full resolution (resizing the picture would create the very traces we look
for); "p-map" p = exp(-e^2 / SIGMA); per 64 x 64 block, the magnitude spectrum of the windowed,
zero-mean p-map, whitened by the mean magnitude at the same radius and averaged over 3 x 3
neighbouring blocks; the block's peak strength is the largest whitened magnitude. DC, the
lowest frequencies (content) and the lattice of multiples of 1/8 in both directions (the JPEG
8 x 8 grid and chroma subsampling) are excluded. Large pictures are sampled on an even grid of
blocks to bound time.

A block with a peak is evidence that it was resampled. If most blocks have peaks, the whole
picture was resized (common, and not by itself a sign of editing): that is reported in
`details["global_resampling"]` and the map then keeps only blocks whose peak sits at another
frequency than the picture's dominant one.

Weak points: resizing by factors whose period divides 8 (2x, 4/3x upscaling...) puts the peaks on
the excluded JPEG lattice; strong JPEG compression after resizing and downscaling by large
factors erase the peaks; regular textures (fabric, grids, brickwork) produce genuine spectral
peaks that are not resampling.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.maps import (
    FloatArray,
    coherent_area_score,
    not_applicable,
    sigmoid_map,
    valid_pixels,
)
from photoloupe.io import Picture

BLOCK = 64
MAX_BLOCKS = 1200  # blocks sampled on large pictures (time bound)
SIGMA = 1.0  # p-map width, in squared grey levels (Kirchner's lambda = 1, tau = 2, sigma = 1)
LOW_CUT = 4  # spectral bins around DC excluded: content and illumination, not periodicity
PEAK_CENTRE = 3.5  # whitened peak strength at which a block is half-way suspicious
PEAK_WIDTH = 0.08  # in log units
GLOBAL_SHARE = 0.4  # this share of blocks with peaks: the whole picture was resampled
MIN_BLOCKS = 4


def _allowed_frequencies(block: int) -> npt.NDArray[np.bool_]:
    """Mask of rfft2 bins that may carry a resampling peak."""
    ky = np.fft.fftfreq(block) * block  # signed bin index
    kx = np.fft.rfftfreq(block) * block
    yy, xx = np.meshgrid(ky, kx, indexing="ij")
    step = block // 8
    # Distance of each bin to the JPEG lattice (multiples of 1/8 cycles per pixel).
    dy = np.abs(yy - np.round(yy / step) * step)
    dx = np.abs(xx - np.round(xx / step) * step)
    on_lattice = (dy <= 1) & (dx <= 1)
    low = np.hypot(yy, xx) < LOW_CUT
    return np.asarray(~(on_lattice | low))


def _origins(length: int, count: int) -> list[int]:
    """`count` evenly spread block origins in [1, length - BLOCK - 1] (1-px predictor margin)."""
    last = length - BLOCK - 1
    if count <= 1:
        return [max(1, last // 2)]
    return [1 + round(i * (last - 1) / (count - 1)) for i in range(count)]


def block_peaks(grey: npt.NDArray[np.uint8]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-block peak ratio, peak frequency (flat rfft2 index) and validity over a block grid."""
    h, w = grey.shape
    rows = max(1, (h - 2) // (BLOCK // 2) - 1)
    cols = max(1, (w - 2) // (BLOCK // 2) - 1)
    if rows * cols > MAX_BLOCKS:
        shrink = math.sqrt(MAX_BLOCKS / (rows * cols))
        rows, cols = max(1, int(rows * shrink)), max(1, int(cols * shrink))
    ys, xs = _origins(h, rows), _origins(w, cols)
    allowed = _allowed_frequencies(BLOCK).ravel()
    # Natural p-map spectra fall off with frequency; each bin is compared with the mean of the
    # bins at the same radius (spectral whitening), so that a peak means periodicity.
    ky = np.fft.fftfreq(BLOCK) * BLOCK
    kx = np.fft.rfftfreq(BLOCK) * BLOCK
    radius = np.rint(np.hypot(*np.meshgrid(ky, kx, indexing="ij"))).astype(np.int64).ravel()
    radius = radius[allowed]
    # Ring means by sorting bins by radius and summing runs (a small matrix product would do,
    # but BLAS threads contend badly on shared CPUs).
    order = np.argsort(radius, kind="stable")
    rings, starts, counts = np.unique(radius[order], return_index=True, return_counts=True)
    slot = np.searchsorted(rings, radius)
    window = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)
    white = np.zeros((rows, cols, radius.size), np.float32)
    valid = np.zeros((rows, cols), np.float32)
    for r, y in enumerate(ys):
        # One row of blocks at a time keeps memory small.
        stack = np.stack([grey[y - 1 : y + BLOCK + 1, x - 1 : x + BLOCK + 1] for x in xs])
        s = stack.astype(np.float32)
        pred = 0.5 * (s[:, :-2, 1:-1] + s[:, 2:, 1:-1] + s[:, 1:-1, :-2] + s[:, 1:-1, 2:])
        pred -= 0.25 * (s[:, :-2, :-2] + s[:, :-2, 2:] + s[:, 2:, :-2] + s[:, 2:, 2:])
        e = s[:, 1:-1, 1:-1] - pred
        p = np.exp(-(e * e) / SIGMA)
        p -= p.mean(axis=(1, 2), keepdims=True)
        spread = p.std(axis=(1, 2))
        mag = np.abs(np.fft.rfft2(p * window)).reshape(len(xs), -1)[:, allowed]
        ring_mean = np.add.reduceat(mag[:, order], starts, axis=1) / counts
        profile = ring_mean[:, slot]
        ok = (spread > 0.02) & (profile.min(axis=1) > 1e-6)
        white[r] = np.where(ok[:, None], mag / np.maximum(profile, 1e-6), 0.0)
        valid[r] = ok
    # A resampled area repeats the same peak in neighbouring blocks while chance maxima do not:
    # averaging the whitened spectra over 3 x 3 neighbours keeps the former and flattens the rest.
    pad_w = np.pad(white, ((1, 1), (1, 1), (0, 0)))
    pad_v = np.pad(valid, 1)
    acc = np.zeros_like(white)
    cnt = np.zeros_like(valid)
    for dy in range(3):
        for dx in range(3):
            acc += pad_w[dy : dy + rows, dx : dx + cols]
            cnt += pad_v[dy : dy + rows, dx : dx + cols]
    acc /= np.maximum(cnt, 1.0)[..., None]
    ratio = np.where(valid > 0, acc.max(axis=2), 0.0).astype(np.float32)
    where = np.where(valid > 0, np.flatnonzero(allowed)[acc.argmax(axis=2)], -1)
    return ratio, where.astype(np.float32), valid


def _fold(index: FloatArray, block: int) -> npt.NDArray[np.int64]:
    """Peak frequency as (|ky|, kx), so mirrored bins of the same peak compare equal."""
    width = block // 2 + 1
    ky = index.astype(np.int64) // width
    kx = index.astype(np.int64) % width
    ky = np.where(ky > block // 2, block - ky, ky)
    return np.asarray(ky * width + kx, dtype=np.int64)


def analyse_resampling(source: Context | Picture) -> Finding:
    """Map of blocks with resampling traces that the rest of the picture lacks."""
    context = Context.of(source)
    picture = context.picture
    pixels = picture.pixels
    if not valid_pixels(pixels) or min(pixels.shape[:2]) < 2 * BLOCK + 2:
        return not_applicable(
            "resampling_too_small", "The picture is too small to look for resampling traces."
        )
    ratio, where, validf = block_peaks(context.grey)
    valid = validf > 0
    if int(valid.sum()) < MIN_BLOCKS:
        return not_applicable(
            "resampling_not_measurable",
            "The picture has too little texture to look for resampling traces.",
        )
    heat = sigmoid_map(np.log(np.maximum(ratio, 1e-3)), math.log(PEAK_CENTRE), PEAK_WIDTH)
    heat[~valid] = 0.0
    peaked = valid & (heat >= 0.5)
    share = float(peaked.sum() / valid.sum())
    is_global = share >= GLOBAL_SHARE
    details: dict[str, object] = {
        "block_px": BLOCK,
        "blocks_measured": int(valid.sum()),
        "share_with_peaks": round(share, 4),
        "global_resampling": is_global,
    }
    if is_global:
        # Keep only blocks whose peak is somewhere else than the picture's dominant peak.
        folded = _fold(where, BLOCK)
        values, counts = np.unique(folded[peaked], return_counts=True)
        dominant = int(values[counts.argmax()])
        dy, dx = divmod(dominant, BLOCK // 2 + 1)
        fy, fx = folded // (BLOCK // 2 + 1), folded % (BLOCK // 2 + 1)
        near = (np.abs(fy - dy) <= 1) & (np.abs(fx - dx) <= 1)
        heat = np.where(peaked & ~near, heat, 0.0).astype(np.float32)
        details["dominant_period_px"] = round(BLOCK / max(math.hypot(dy, dx), 1e-9), 2)
    score, area = coherent_area_score(heat)
    details["area_fraction"] = round(area, 4)
    notes: list[str] = []
    codes: list[str] = []
    if is_global:
        codes.append("resampling_global")
        notes.append(
            "Most of the picture shows resampling traces: evidence that the whole picture was "
            "resized or rotated, which is common and not by itself a sign of editing."
        )
    if score > 0:
        codes.append("resampling_local")
        notes.append(
            "An area of the picture shows resampling traces that the rest does not share: "
            "evidence that this area was resized or rotated separately, as when a resized "
            "element is pasted in. Regular patterns such as fabric or grids can look similar."
        )
    if not codes:
        codes.append("resampling_none")
        notes.append("No evidence of resampling (resizing or rotation) was found in the picture.")
    return Finding(score=score, notes=tuple(notes), map=heat, codes=tuple(codes), details=details)
