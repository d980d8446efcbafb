"""Copy-move detection: areas of the picture duplicated elsewhere in the same picture.

A copy-move edit copies part of a picture and pastes it elsewhere in it, to hide something (a
patch of background pasted over it) or to multiply something (a crowd, smoke, an object). Both
the pasted area (target) and the area it came from (source) are marked, because a fact-checker
cannot tell from the pixels alone which of the two is the original.

Two detectors propose candidate transforms, and one dense check verifies every candidate:

1. Keypoints (after Amerini et al., "A SIFT-based forensic method for copy-move attack
   detection and transformation recovery", IEEE TIFS 2011). SIFT keypoints on the luma are
   matched against all other keypoints of the same picture with the generalised 2NN test
   (g2NN: keep the k-th neighbour while d_k / d_(k+1) stays below a ratio, so one keypoint can
   match several copies). Pairs closer than a minimum distance are dropped (they are the same
   structure), the remaining pairs are clustered by where both ends lie, and a similarity
   transform (shift, rotation, scale) is fitted per cluster with RANSAC. Handles rotated and
   rescaled copies.
2. Dense blocks (after Fridrich, Soukal & Lukáš, "Detection of copy-move forgery in digital
   images", DFRWS 2003, and the dense-field idea of Cozzolino, Poggi & Verdoliva, "Efficient
   dense-field copy-move forgery detection", IEEE TIFS 2015). Overlapping blocks of a downscaled
   luma are described by their low-frequency DCT coefficients, each block finds its nearest
   neighbours, and shift vectors are voted: a shift supported by many block pairs is a
   candidate. This finds clones in low-texture areas where keypoints are scarce. Near-flat
   blocks (sky, walls) are excluded: every flat block matches every other one.

Verification builds the map. For each candidate transform the picture is warped onto itself
and compared with the original after light smoothing; pixels whose local residual is small,
in the neighbourhood of the supporting matches, form the target mask, and the inverse
transform gives the source mask. A candidate is kept only when this dense agreement covers a
real area and most of its supporting matches. This is what keeps the false-alarm rate low:
repeated natural things (tiles, leaves, two copies of the same poster) are similar, often
geometrically consistent, but they are not pixel-for-pixel copies, noise included.

Detection runs on a small copy (640 px) and only proposes; verification runs at up to 1280 px,
refines each shift to a fraction of a pixel, checks patches at the supporting points first,
and grows the agreeing area from the matches (flat pixels join only with shared noise).

Limitations: mirrored copies are not modelled (the transform has no reflection); copies that
were blurred, recoloured or recompressed after pasting usually fail the strict noise
correlation (chosen to keep similar natural objects out); copies smaller than about 2% of the
picture's long side are below the working resolution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe._imaging import deterministic_rng
from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.forensics.copymove.blocks import block_candidates
from photoloupe.forensics.copymove.candidate import F32, Mask, Pair, rescaled
from photoloupe.forensics.copymove.keypoints import keypoint_candidates
from photoloupe.forensics.copymove.params import BLOCKS, KEYPOINTS, RESOLUTION, VERIFY
from photoloupe.forensics.copymove.verify import verify
from photoloupe.io import Picture

MIN_SIDE = 48  # smaller pictures hold too few structures to compare

NOTE_FOUND = (
    "Evidence of copied areas: parts of the picture appear duplicated elsewhere in the same "
    "picture. The map marks both the copy and the area it matches."
)
NOTE_NONE = "No evidence of copied areas: no part of the picture was found duplicated within it."
NOTE_TOO_SMALL = "The picture is too small to look for copied areas."
NOTE_NO_DETAIL = "The picture has too little detail to look for copied areas."


def analyse_copy_move(source: Context | Picture) -> Finding:
    """Look for areas of the picture copied elsewhere in the same picture.

    Returns a Finding whose score grows with the number of supporting matches and the copied
    area (0 when nothing is found, None when the picture is too small or has no detail), whose
    map marks both copies of each duplicated pair, and whose details["pairs"] lists each pair
    with its source and target boxes in full-resolution stored pixels.
    """
    context = Context.of(source)
    picture = context.picture
    pixels = np.asarray(picture.pixels)
    if pixels.ndim < 2 or min(pixels.shape[0], pixels.shape[1]) < MIN_SIDE:
        return Finding(score=None, notes=(NOTE_TOO_SMALL,), codes=("copy_move_too_small",))
    deterministic_rng()
    grey = context.grey if pixels.ndim == 3 and pixels.shape[2] == 3 else _grey(pixels)
    verify_luma, factor = _resized(grey, RESOLUTION.verify_side)
    detect_luma, detect_factor = _resized(verify_luma, RESOLUTION.detect_side)
    height, width = verify_luma.shape

    kp_candidates, n_keypoints = keypoint_candidates(detect_luma)
    dense_candidates, n_textured = block_candidates(detect_luma)
    if n_keypoints < 2 * KEYPOINTS.min_inliers and n_textured < BLOCKS.min_votes:
        return Finding(score=None, notes=(NOTE_NO_DETAIL,), codes=("copy_move_no_detail",))

    candidates = [rescaled(c, detect_factor) for c in kp_candidates + dense_candidates]
    pairs = verify(verify_luma, candidates) if candidates else []
    if not pairs:
        return Finding(
            score=0.0,
            notes=(NOTE_NONE,),
            codes=("copy_move_none",),
            map=np.zeros((height, width), np.float32),
            details={"pairs": [], "keypoints": n_keypoints, "candidates": len(candidates)},
        )

    union = np.zeros((height, width), bool)
    evidence = 0.0
    described: list[dict[str, object]] = []
    for pair in pairs:
        union |= pair.source | pair.target
        area = float(pair.target.mean())
        # Why this form: either many matches or a large verified area is strong evidence,
        # and the minimum accepted pair (8 matches, minimum area) lands near 0.5.
        evidence += (
            pair.support / (2 * KEYPOINTS.min_inliers) + math.sqrt(area / VERIFY.min_area) / 2
        )
        described.append(_describe(pair, factor))
    score = float(1.0 - math.exp(-0.7 * evidence))
    smooth = cv2.GaussianBlur(union.astype(np.float32), (0, 0), 1.0)
    return Finding(
        score=round(min(1.0, max(0.0, score)), 4),
        notes=(NOTE_FOUND,),
        codes=("copy_move_found",),
        map=np.clip(np.maximum(smooth, union.astype(np.float32)), 0.0, 1.0).astype(np.float32),
        evidence_of=None,
        details={"pairs": described, "keypoints": n_keypoints},
    )


def _grey(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    arr = np.ascontiguousarray(pixels)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        return np.asarray(cv2.cvtColor(arr[:, :, :3], cv2.COLOR_RGB2GRAY), np.uint8)
    if arr.ndim == 3:
        return np.ascontiguousarray(arr[:, :, 0])
    return arr


def _resized(grey: npt.NDArray[np.uint8] | F32, side: int) -> tuple[F32, float]:
    """The picture with its long side at most `side`, and the input / output scale factor."""
    factor = max(1.0, max(grey.shape) / side)
    if factor > 1.0:
        size = (max(1, round(grey.shape[1] / factor)), max(1, round(grey.shape[0] / factor)))
        return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), np.float32), factor
    return np.asarray(grey, np.float32), factor


def _box(mask: Mask, factor: float) -> list[int]:
    ys, xs = np.nonzero(mask)
    x0, y0 = float(xs.min()), float(ys.min())
    x1, y1 = float(xs.max() + 1), float(ys.max() + 1)
    return [
        round(x0 * factor),
        round(y0 * factor),
        round((x1 - x0) * factor),
        round((y1 - y0) * factor),
    ]


def _describe(pair: Pair, factor: float) -> dict[str, object]:
    """A pair in full-resolution stored pixels. dx, dy: shift of the source's centroid."""
    m = pair.candidate.matrix
    sy, sx = np.nonzero(pair.source)
    ty, tx = np.nonzero(pair.target)
    return {
        "source_box": _box(pair.source, factor),
        "target_box": _box(pair.target, factor),
        "dx": round(float(tx.mean() - sx.mean()) * factor, 1),
        "dy": round(float(ty.mean() - sy.mean()) * factor, 1),
        "scale": round(math.hypot(m[0, 0], m[1, 0]), 3),
        "rotation": round(math.degrees(math.atan2(m[1, 0], m[0, 0])), 1),
        "matches": pair.support,
        "branch": pair.candidate.branch,
    }
