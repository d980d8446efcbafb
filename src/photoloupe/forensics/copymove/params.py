"""The copy-move detector's parameters, one frozen dataclass per stage.

The defaults are the values the detector was tuned and benchmarked with; tests and experiments
may pass others (`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resolution:
    """Working resolutions. Detection only has to propose transforms, so it runs small: SIFT
    doubles its input internally, so 640 px costs like ~1300 px. Verification decides, and a
    copy's shared noise is its strongest signature, so it runs as close to the stored pixels as
    time allows."""

    detect_side: int = 640
    verify_side: int = 1280
    dense_factor: int = 3  # dense blocks run at 1/3 of the detection resolution


@dataclass(frozen=True)
class KeypointParams:
    """The keypoint branch (SIFT, g2NN, clustering, RANSAC), at the detection resolution."""

    max_keypoints: int = 1500  # the strongest; a copy's keypoints are as strong as its source's
    # a little below OpenCV's 0.04: more keypoints on low-contrast copies
    sift_contrast: float = 0.03
    g2nn_k: int = 8  # neighbours examined per keypoint
    g2nn_ratio: float = 0.5  # Amerini et al.'s threshold
    min_pair_dist: float = 0.02  # fraction of the working long side: closer pairs are the same spot
    # fraction of the long side linking pairs whose two ends are both near
    cluster_radius: float = 0.06
    ransac_px: float = 3.0
    min_inliers: int = 8
    scale_range: tuple[float, float] = (0.5, 2.0)


@dataclass(frozen=True)
class BlockParams:
    """The dense block branch, at the dense resolution."""

    block: int = 8
    flat_std: float = 2.5  # grey levels: blocks flatter than this match anything
    feature_dist: float = 8.0  # L2 distance between orthonormal low-frequency DCT vectors, plus
    feature_rel: float = 0.3  # this fraction of the block's AC energy
    # quantisation step of the sort keys (orthonormal DCT: 8 = one grey level of DC)
    quant: float = 8.0
    sort_window: int = 12  # rows compared after each block in the sorted list
    dct_terms: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))
    min_votes: int = 30
    max_peaks: int = 16  # shift peaks passed on; the cheap point check sorts out the rest

    @property
    def min_offset(self) -> int:
        """Shifts shorter than two blocks are the block overlapping itself."""
        return 2 * self.block


@dataclass(frozen=True)
class VerifyParams:
    """Verification, at the verification resolution, in grey levels 0-255."""

    pre_sigma: float = 1.0  # smoothing before comparison: tolerates resampling and JPEG noise
    res_sigma: float = 2.5  # window over which the absolute residual is averaged
    res_max: float = 3.5  # mean absolute residual below which a pixel agrees with its copy
    # detail = luma minus this blur: the noise and grain a copy carries along
    fine_sigma: float = 1.0
    local_sigma: float = 3.0  # window of the per-pixel detail correlation and texture measure
    local_corr: float = 0.6  # per-pixel detail correlation that lets a flat pixel agree
    # mean |band-pass| (grey levels) above which a pixel has structure of its own
    texture: float = 1.5
    # fraction of the long side the agreeing area may grow beyond the matches
    grow_margin: float = 0.3
    min_area: float = 0.0015  # fraction of the picture: smaller agreements are noise
    # share of supporting matches that must fall in the agreeing area
    min_matches_inside: float = 0.5
    duplicate_iou: float = 0.5
    # Textured pixels of a pasted copy correlate at ~0.99; two similar natural edges (parallel
    # railings) reach 0.8, so the gate sits above that, at the cost of re-saved or blurred copies.
    min_fine_corr: float = 0.85
    min_fine_corr_resampled: float = 0.5
    refine_min_peak: float = 0.3  # detail correlation below which the refinement uses the residual
    patch: int = 6  # half-size of the patches compared at the supporting points
    max_patches: int = 64
    min_patch_agree: float = 0.4  # share of supporting points whose patches agree ...
    min_patch_corr: float = 0.15  # ... and pooled detail correlation, before the dense check
    max_candidates: int = 24  # point-checked per picture, strongest first: bounds the time
    refine_half: int = 20  # half-size of the template that refines a transform's shift
    nudge: int = 3  # pixels by which a found transform is perturbed to test that it is specific
    nudge_ratio: float = 2.0  # the perturbed residual must be this many times larger ...
    nudge_gain: float = 2.0  # ... and this many grey levels larger
    nudge_corr: float = 0.5  # or the detail correlation must fall below this share of the found one
    flat_min_corr: float = 0.85  # ... when the found one is at least this (flat copies: noise only)
    clip_low: float = 4.0
    clip_high: float = 251.0
    min_textured: int = 200  # textured pixels needed to measure the detail correlation on them


RESOLUTION = Resolution()
KEYPOINTS = KeypointParams()
BLOCKS = BlockParams()
VERIFY = VerifyParams()
