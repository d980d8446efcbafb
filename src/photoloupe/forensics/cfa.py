"""Colour filter array (demosaicing) consistency.

A camera sensor measures one colour per pixel through a Bayer filter; the green channel is
measured on one quincunx lattice (half the pixels, in a checkerboard) and interpolated on the
other. Interpolated pixels are close to the average of their four neighbours, measured ones are
not, so the error of a 4-neighbour predictor is clearly larger on the measured lattice (Popescu &
Farid 2005; Dirik & Memon 2009, "Image tamper detection based on demosaicing artifacts";
Ferrara, Bianchi, De Rosa & Piva 2012, "Image forgery localization via fine-grained analysis of
CFA artifacts"). A region pasted from elsewhere, resized, or generated lacks this trace or has it
at the other phase of the checkerboard.

Method: on the green channel at full resolution (any resizing destroys the trace), prediction
error e = G - (N + S + E + W) / 4; per 32 x 32 block, the log-ratio of the mean squared error on
the two quincunx lattices. The picture's phase is the sign of the median log-ratio; the trace is
present when most blocks agree in sign and the median is clearly away from zero. The map marks
blocks whose ratio is absent or reversed. Large pictures are analysed on an evenly spread sample
of blocks to bound time.

Weak points: JPEG compression (anything below very high quality), resizing, noise reduction,
screenshots and AI generation erase the trace everywhere, and then nothing can be said (score
None, "not applicable"): this is the usual case. Flat, dark and clipped areas carry no trace.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.block_map import BlockMapAnalysis, Measured, Outcome
from photoloupe.forensics.maps import (
    FloatArray,
    masked_blur,
    not_applicable,
    sigmoid_map,
)

BLOCK = 32
MAX_BLOCKS = 6000  # blocks measured on large pictures (time bound)
MIN_BLOCKS = 16
MIN_ERROR = 0.5  # mean squared error below this: flat block, no trace to measure
GLOBAL_MEDIAN = 0.25  # |median log-ratio| needed to say the picture shows a CFA trace
GLOBAL_AGREEMENT = 0.75  # ... and this share of blocks with the same sign
# Smoothed trace strength (1 = the picture's median) at which a block is half-way suspicious:
# pristine camera files rarely go below 0.1, a block without the trace sits near 0.
ABSENT_LEVEL = 0.05
ABSENT_WIDTH = 0.08


def _origins(length: int, count: int) -> list[int]:
    """`count` evenly spread even block origins in [2, length - BLOCK - 2]."""
    last = length - BLOCK - 2
    if count <= 1:
        return [2 * max(1, last // 4)]
    return [2 * ((2 + round(i * (last - 2) / (count - 1))) // 2) for i in range(count)]


def block_ratios(green: npt.NDArray[np.uint8]) -> tuple[FloatArray, FloatArray]:
    """Per-block log(error on lattice (y+x) even / error on lattice odd), and validity."""
    h, w = green.shape
    rows, cols = (h - 4) // BLOCK, (w - 4) // BLOCK
    if rows * cols > MAX_BLOCKS:
        shrink = math.sqrt(MAX_BLOCKS / (rows * cols))
        rows, cols = max(1, int(rows * shrink)), max(1, int(cols * shrink))
    ys, xs = _origins(h, rows), _origins(w, cols)
    even = (np.add.outer(np.arange(BLOCK), np.arange(BLOCK)) % 2 == 0)[None]
    ratio = np.zeros((rows, cols), np.float32)
    valid = np.zeros((rows, cols), np.float32)
    for r, y in enumerate(ys):
        # Origins are even, so lattice parity is the same in every block and in the picture.
        stack = np.stack([green[y - 1 : y + BLOCK + 1, x - 1 : x + BLOCK + 1] for x in xs])
        s = stack.astype(np.float32)
        pred = 0.25 * (s[:, :-2, 1:-1] + s[:, 2:, 1:-1] + s[:, 1:-1, :-2] + s[:, 1:-1, 2:])
        e2 = (s[:, 1:-1, 1:-1] - pred) ** 2
        centre = s[:, 1:-1, 1:-1]
        clipped = ((centre <= 2) | (centre >= 253)).mean(axis=(1, 2))
        half = BLOCK * BLOCK / 2
        on_even = (e2 * even).sum(axis=(1, 2)) / half
        on_odd = (e2 * ~even).sum(axis=(1, 2)) / half
        ok = (np.minimum(on_even, on_odd) > MIN_ERROR * 0.1) & ((on_even + on_odd) / 2 > MIN_ERROR)
        ok &= clipped < 0.02
        ratio[r] = np.where(ok, np.log(np.maximum(on_even, 1e-6) / np.maximum(on_odd, 1e-6)), 0)
        valid[r] = ok
    return ratio, valid


class CfaAnalysis(BlockMapAnalysis):
    """Map of blocks lacking the demosaicing trace that the rest of the picture shows."""

    found = Outcome(
        "cfa_inconsistent_area",
        "The picture carries a camera demosaicing trace, but an area of it does not: evidence "
        "that this area has a different origin or was processed separately.",
    )
    uniform = Outcome(
        "cfa_consistent",
        "The camera demosaicing trace is present and consistent across the picture: no "
        "evidence of an area with a different origin.",
    )
    too_small = Outcome(
        "cfa_too_small", "The picture is too small to look for camera demosaicing traces."
    )
    min_side = 4 * BLOCK + 4

    def measure(self, context: Context) -> Measured | Finding:
        ratio, validf = block_ratios(np.ascontiguousarray(context.pixels[..., 1]))
        valid = validf > 0
        measured = int(valid.sum())
        if measured < MIN_BLOCKS:
            return not_applicable("cfa_not_applicable", NOTE_NO_TRACE, blocks_measured=measured)
        median = float(np.median(ratio[valid]))
        phase = 1.0 if median >= 0 else -1.0
        agree = float((np.sign(ratio[valid]) == phase).mean())
        details: dict[str, object] = {
            "block_px": BLOCK,
            "blocks_measured": measured,
            "median_log_ratio": round(median, 4),
            "agreement": round(agree, 4),
        }
        if abs(median) < GLOBAL_MEDIAN or agree < GLOBAL_AGREEMENT:
            return not_applicable("cfa_not_applicable", NOTE_NO_TRACE, **details)
        details["lattice_phase"] = "even" if phase > 0 else "odd"
        # Strength of the trace in the picture's own phase; 1 = as strong as the picture's
        # median.
        strength = ratio * phase / abs(median)
        strength = masked_blur(strength, valid, 3)
        heat = sigmoid_map(-strength, -ABSENT_LEVEL, ABSENT_WIDTH)
        heat[~valid] = 0.0
        return Measured(heat, details)


NOTE_NO_TRACE = (
    "The picture shows no camera demosaicing trace (as after compression, resizing or "
    "generation), so this analysis does not apply."
)
analyse_cfa = CfaAnalysis()
