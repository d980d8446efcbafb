"""Wavelet noise: where the picture's noise level, read from its finest wavelet detail, differs.

After Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and
Vision Computing 27(10), 2009: the diagonal detail subband (HH) of the first level of a Haar
wavelet transform holds mostly noise, whose standard deviation is estimated block by block.
Donoho's median estimator (MAD / 0.6745) is too coarse on 8-bit pictures, whose HH values are
multiples of 0.5, so the mean absolute value is used instead (sigma = sqrt(pi / 2) E|HH| for
Gaussian noise), with values above `EDGE_CAP` clipped so that edges do not count as noise. A pasted
area from another camera, or one blurred or denoised, carries another level.

It complements `noise` (Immerkær's Laplacian estimate on a working-size copy): this one reads
the stored resolution, where resampling and denoising show most. The fusion has no weight for
it until `make train` learns one, so its report entry says that the edit map does not count it.
Alone it is weak: on the first 60 photos of `real/camera` (768 px crops, JPEG) it judged 46 and
marked an area on 6 of them (13 %); most JPEGs saved below quality 90 keep too little of the
finest detail for it to measure at all.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> grey = np.clip(128 + rng.normal(0, 4, (512, 512)), 0, 255).astype(np.uint8)
>>> sigma, valid = block_sigma(grey)
>>> sigma.shape, bool(valid.all()), round(float(np.median(sigma)), 1)
((4, 4), True, 3.9)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.block_map import BlockMapAnalysis, Measured, Outcome
from photoloupe.forensics.maps import (
    BoolArray,
    FloatArray,
    not_applicable,
    robust_z,
    sigmoid_map,
)

BLOCK = 128  # pixels of the picture per block (64 x 64 wavelet coefficients)
MAX_SIDE = 2048  # larger pictures are read in their central 2048 x 2048 (time and memory)
MIN_BLOCKS = 16
SIGMA_FLOOR = 0.3  # below this, the estimate is 8-bit rounding, not noise
Z_FLOOR = 0.3  # log-sigma spread floor: real pictures vary this much without editing
Z_CENTRE = 3.0  # robust z at which a block is half-way suspicious
Z_WIDTH = 0.6
EDGE_CAP = 8.0  # |HH| above this many grey levels is structure (an edge), not noise
MEAN_TO_SIGMA = float(np.sqrt(np.pi / 2))


def block_sigma(grey: npt.NDArray[np.uint8]) -> tuple[FloatArray, BoolArray]:
    """Per block of `BLOCK` pixels: the noise sigma estimated from the Haar HH subband, and
    whether the block is measurable (not clipped, not flat)."""
    side = BLOCK // 2
    h, w = (grey.shape[0] // BLOCK) * BLOCK, (grey.shape[1] // BLOCK) * BLOCK
    g = grey[:h, :w].astype(np.int16)
    # Twice the Haar HH at the first level, a - b - c + d over each 2 x 2 cell, in integers
    # (exact, and several times faster than in floats).
    hh2 = np.abs(g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2])
    np.minimum(hh2, np.int16(2 * EDGE_CAP), out=hh2)
    sums = hh2.reshape(h // BLOCK, side, w // BLOCK, side).sum(axis=(1, 3), dtype=np.int64)
    sigma = sums.astype(np.float32) * np.float32(MEAN_TO_SIGMA / (2 * side * side))
    mean = g.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    valid = (mean > 8) & (mean < 247) & (sigma > SIGMA_FLOOR)
    return np.asarray(sigma, dtype=np.float32), np.asarray(valid)


class WaveletNoiseAnalysis(BlockMapAnalysis):
    """Map of blocks whose wavelet noise level differs from the picture's dominant level."""

    found = Outcome(
        "wavelet_noise_inconsistent_area",
        "The finest wavelet detail shows an area whose noise level differs from the rest of "
        "the picture: evidence of a region with another origin or processing (pasted, "
        "blurred, denoised). Smooth surfaces and compression can also cause this.",
    )
    uniform = Outcome(
        "wavelet_noise_consistent",
        "The noise level in the finest wavelet detail is consistent across the picture: no "
        "evidence of a region with a different noise level.",
    )
    too_small = Outcome(
        "wavelet_noise_too_small", "The picture is too small to compare wavelet noise levels."
    )
    min_side = 4 * BLOCK

    def measure(self, context: Context) -> Measured | Finding:
        grey = context.grey
        h, w = grey.shape
        y, x = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
        sigma, valid = block_sigma(grey[y : y + MAX_SIDE, x : x + MAX_SIDE])
        if int(valid.sum()) < MIN_BLOCKS:
            return not_applicable(
                "wavelet_noise_not_measurable",
                "The picture has too few unclipped, non-flat areas to measure its noise level.",
            )
        logs = np.log(np.maximum(sigma, SIGMA_FLOOR)).astype(np.float32)
        # Blocks are large already (64 x 64 coefficients each): no smoothing across them, and
        # `area_score` ignores a lone block.
        z = robust_z(logs, valid, Z_FLOOR)
        heat = sigmoid_map(np.abs(z), Z_CENTRE, Z_WIDTH)
        heat[~valid] = 0.0
        # The map covers the picture; blocks outside the central square stay 0 (not read).
        full = np.zeros((max(1, h // BLOCK), max(1, w // BLOCK)), np.float32)
        oy, ox = y // BLOCK, x // BLOCK
        full[oy : oy + heat.shape[0], ox : ox + heat.shape[1]] = heat
        details: dict[str, object] = {
            "block_px": BLOCK,
            "blocks_measured": int(valid.sum()),
            "median_noise_sigma": round(float(np.median(sigma[valid])), 3),
        }
        return Measured(full, details)


analyse_wavelet_noise = WaveletNoiseAnalysis()
