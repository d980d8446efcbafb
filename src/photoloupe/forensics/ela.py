"""Error level analysis (ELA), normalised by texture.

Re-saving a JPEG changes each 8 x 8 block by an amount that depends on how far the block already
is from what the encoder would produce. Blocks that went through the same compression history
change alike; a pasted or retouched area that did not often changes more (Krawetz 2007, "A
picture's worth: digital image analysis and forensics").

ELA is weak and content-dependent: edges and fine texture always change more than smooth areas,
whatever their history, and a picture re-saved once more at low quality loses the differences.
So this implementation does not show raw error levels; it shows how much brighter each block is
than *expected for its texture*:
1. Luma (the JPEG Y channel, up to rounding) is re-encoded at qualities 75, 85 and 95; per 8 x 8
   block, the mean absolute difference. Large pictures are analysed on a regular subset of whole
   8 x 8 blocks packed together, which gives exactly the same per-block errors for a greyscale
   JPEG because each block is quantised independently.
2. Texture per block = mean absolute difference between neighbouring pixels inside the block,
   on a slightly blurred copy (structure, not pixel noise). The
   expected log-error for a texture level is the median log-error of blocks with similar texture.
3. Excess = log-error minus expected, averaged over the qualities, as a robust z-score (median /
   MAD), then averaged over 4 x 4 neighbouring blocks so that only coherent areas stand out.

The map is 0 where blocks change as expected for their texture and 1 where a coherent area changes
much more. Treat it as a pointer for a closer look, never as evidence on its own.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.block_map import BlockMapAnalysis, Measured, Outcome
from photoloupe.forensics.maps import (
    FloatArray,
    coherent_area_score,
    masked_blur,
    not_applicable,
    robust_z,
    sigmoid_map,
)

QUALITIES = (75, 85, 95)
MAX_BLOCKS = 40_000  # 8 x 8 blocks re-encoded (about 2.5 megapixels)
MIN_GRID = 8  # at least 8 x 8 blocks (64 x 64 pixels)
TEXTURE_BINS = 12
Z_FLOOR = 0.15  # log-error spread floor, so a uniform picture does not light up
SMOOTH = 4  # blocks averaged in each direction
Z_CENTRE = 2.5  # mean excess z over 4 x 4 blocks at which an area is half-way suspicious
Z_WIDTH = 0.4
THRESHOLD_NOTE = (
    "Error level analysis is weak and depends on content: treat this only as a pointer for a "
    "closer look."
)


def _blocks(grey: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int]:
    """Whole 8 x 8 blocks, every k-th in each direction, packed into one picture; and k."""
    hb, wb = grey.shape[0] // 8, grey.shape[1] // 8
    k = max(1, math.ceil(math.sqrt(hb * wb / MAX_BLOCKS)))
    tiles = grey[: hb * 8, : wb * 8].reshape(hb, 8, wb, 8)[::k, :, ::k, :]
    h2, w2 = tiles.shape[0], tiles.shape[2]
    return np.ascontiguousarray(tiles.reshape(h2 * 8, w2 * 8)), k


def _per_block(a: npt.NDArray[np.float32]) -> FloatArray:
    h, w = a.shape[0] // 8, a.shape[1] // 8
    return np.asarray(a.reshape(h, 8, w, 8).mean(axis=(1, 3)), dtype=np.float32)


def _expected(logs: FloatArray, texture: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Median log-error of blocks of similar texture, interpolated over texture."""
    t, v = texture[valid], logs[valid]
    edges = np.unique(np.quantile(t, np.linspace(0, 1, TEXTURE_BINS + 1)))
    xs, ys = [], []
    for lo, hi in itertools.pairwise(edges):
        inside = (t >= lo) & (t <= hi)
        if inside.sum() >= 8:
            xs.append(float(np.median(t[inside])))
            ys.append(float(np.median(v[inside])))
    if len(xs) < 2:
        return np.full(logs.shape, float(np.median(v)), dtype=np.float32)
    order = np.argsort(xs)
    fitted = np.interp(texture, np.asarray(xs)[order], np.asarray(ys)[order])
    return np.asarray(fitted, dtype=np.float32)


class ErrorLevelAnalysis(BlockMapAnalysis):
    """Map of areas whose re-compression error exceeds what their texture explains."""

    found = Outcome(
        "ela_bright_area",
        "Error level analysis shows an area that changes more on re-compression than its "
        "texture explains: weak evidence of a different compression history, as after pasting "
        "or retouching. " + THRESHOLD_NOTE,
    )
    uniform = Outcome(
        "ela_uniform",
        "Error level analysis is uniform once texture is accounted for: no evidence of an area "
        "with a different compression history. " + THRESHOLD_NOTE,
    )
    too_small = Outcome("ela_too_small", "The picture is too small for error level analysis.")
    min_side = 8 * MIN_GRID

    def area_score(self, heat: FloatArray) -> tuple[float, float]:
        return coherent_area_score(heat, min_cells=SMOOTH * SMOOTH, full_cells=4 * SMOOTH**2)

    def measure(self, context: Context) -> Measured | Finding:
        packed, step = _blocks(context.grey)
        f = packed.astype(np.float32)
        # Texture is measured on a blurred copy: edges and structure raise the expected error,
        # but pixel-level noise does not, since noise kept or removed is itself compression
        # history.
        soft = cv2.GaussianBlur(f, (0, 0), 1.0)
        dx = np.abs(np.diff(soft, axis=1))
        dy = np.abs(np.diff(soft, axis=0))
        # Differences inside blocks only (every 8th difference crosses a block border).
        dx[:, 7::8] = 0
        dy[7::8, :] = 0
        texture = _per_block(np.pad(dx, ((0, 0), (0, 1)))) + _per_block(
            np.pad(dy, ((0, 1), (0, 0)))
        )
        texture *= 64 / 56  # 56 of the 64 differences per block are inside it
        mean = _per_block(f)
        valid = (mean > 4) & (mean < 251)
        if int(valid.sum()) < 32:
            return not_applicable(
                "ela_not_measurable", "The picture is too uniform for error level analysis."
            )
        excess = np.zeros(texture.shape, np.float32)
        for quality in QUALITIES:
            ok, code = cv2.imencode(".jpg", packed, [cv2.IMWRITE_JPEG_QUALITY, quality])
            decoded = cv2.imdecode(code, cv2.IMREAD_GRAYSCALE) if ok else None
            if decoded is None:
                return not_applicable(
                    "ela_failed", "Error level analysis could not re-encode the picture."
                )
            again = decoded.astype(np.float32)
            err = _per_block(np.abs(again - f))
            logs = np.log(err + 0.25).astype(np.float32)
            excess += robust_z(logs - _expected(logs, texture, valid), valid, Z_FLOOR)
        excess /= len(QUALITIES)
        # Mean excess over 4 x 4 blocks: a coherent area keeps its level, lone blocks average
        # out.
        z = masked_blur(excess, valid, SMOOTH)
        heat = sigmoid_map(z, Z_CENTRE, Z_WIDTH)
        heat[~valid] = 0.0
        return Measured(heat, {"block_px": 8 * step, "qualities": list(QUALITIES)})


analyse_ela = ErrorLevelAnalysis()
