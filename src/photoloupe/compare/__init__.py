"""Compare a viral copy (the *suspect*) with the file claimed to be its original.

Method, in the order it runs:

1. **Intake.** Both inputs go through `load_picture` (limits, clear errors). Everything works
   in *stored* pixels; EXIF orientation is a display hint and a rotated copy is found by the
   registration anyway. Equal bytes or equal decoded pixels: `identical`, and we stop.
2. **Working copies.** Each picture is resampled (area average) so its longer side is at most
   `WORK_SIDE`; very small pictures are enlarged so that local features exist at all.
3. **Registration.** SIFT keypoints (on contrast-equalised grey copies), nearest-neighbour
   matching with Lowe's ratio test, then a homography by robust estimation (MAGSAC), or an
   affine map when it explains the matches as well. A mirrored copy defeats SIFT descriptors,
   so when the direct match is weak, or when it would leave any change to report, we match
   again against the mirrored original; the pixels decide between the two alignments, and the
   mirror is folded into the homography (its determinant is then negative). A fit counts only
   with enough inliers and a geometry a copy could have.
4. **Same scene or unrelated** (`registration.two_view` runs the same tests on stored
   features). A different photo of the same scene shares details but no single homography
   maps one onto the other (parallax). Aligned pairs: parallax when the homography is loose
   (a copy's is exact to a fraction of a pixel) and a fundamental matrix explains clearly
   more matches than the homography's residuals, taken as noise, would let it; or when the
   matches the homography leaves out fit a strong, widely spread second plane: `same-scene`.
   Unaligned pairs: denser features are matched (cross-checked ratio test), and a
   fundamental matrix (MAGSAC) with enough inliers spread over both frames means
   `same-scene`; otherwise `unrelated`. Matches confined to a small spot, with the rest of
   the pictures different and no parallax, are one shared element (a logo): `unrelated`.
5. **Changed map.** The original is resampled from its stored pixels straight into the
   suspect's working frame (pre-shrunk by area averaging when the suspect is smaller, so the
   warp does not alias). Then, to survive re-encoding, colour and gamma changes and
   resampling: a per-channel tone curve (the median suspect value for each original value,
   made monotonic) maps the original's colours onto the suspect's; both are blurred; the
   difference at each pixel is the smallest over one-pixel shifts, so sub-pixel misalignment
   along edges does not count; it is smoothed and thresholded at a level set by the residual's
   own distribution (median + K robust deviations, with an absolute floor), with hysteresis,
   morphological cleanup and a minimum region size. Pixels of the suspect that the original
   does not cover (screenshot borders, bars, padding) are *outside*, reported as `padding`,
   never as changed.
6. **Relation.** Registered with no changed region: `same-image`; with changed regions:
   `edited`; registered but different over most of the shared area (by an absolute measure,
   since the relative threshold rises with a global difference): `same-scene` (a different
   moment, or a change so global that calling it a local edit would overreach).
7. **Closer to the source.** Votes from resolution of the shared content, crop containment,
   padding, JPEG quality and metadata richness, each with its reason in English and Arabic.

Nothing here calls a picture fake or authentic: the relation says how the pixels relate.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from photoloupe._imaging import deterministic_rng
from photoloupe._version import __version__
from photoloupe.compare.changes import (
    align,
    changed_map,
    changed_regions,
    disagreement_share,
    full_size_changed_map,
    padding_boxes,
    write_changed_map,
)
from photoloupe.compare.closer import closer_to_source, file_facts
from photoloupe.compare.params import (
    MIN_INLIER_SPREAD,
    SIFT_FEATURES,
    WORK_SIDE,
)
from photoloupe.compare.registration import (
    MIRROR,
    Fit,
    Point,
    Side,
    convincing,
    empty_transform,
    epipolar,
    mutual_matches,
    parallax_of,
    plausible,
    register,
    scene_features,
    spread,
    to_stored,
    transform_of,
    working,
)
from photoloupe.compare.relation import RelationEvidence, decide
from photoloupe.errors import PhotoloupeError
from photoloupe.i18n import t
from photoloupe.io import Limits, Picture, load_picture
from photoloupe.schema.compare import (
    ChangedRegion,
    CloserToSource,
    CompareFile,
    Comparison,
    ToolInfo,
    Transform,
)

__all__ = ["WORK_SIDE", "compare", "compare_pictures", "full_size_changed_map", "write_changed_map"]

Source = str | os.PathLike[str] | bytes
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


def compare(
    original: Source,
    suspect: Source,
    *,
    names: tuple[str, str] | None = None,
    limits: Limits | None = None,
) -> Comparison:
    """Compare `suspect` with `original` (each a path or the file's bytes).

    Raises `photoloupe.InputError` (with `.code`, `.message`) when either cannot be read; the
    error's message names which input it was.

    >>> import photoloupe
    >>> c = photoloupe.compare("examples/harbour.jpg", "examples/harbour-edited.jpg")
    >>> c.relation
    'edited'
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pics = []
    for role, source, name in zip(
        ("original", "suspect"), (original, suspect), names or (None, None), strict=True
    ):
        try:
            pics.append(load_picture(source, name=name, limits=limits))
        except PhotoloupeError as exc:
            # Say which of the two inputs failed; `input` lets the CLI name its path.
            message = f"The {role} cannot be read: {exc.message}"
            raise type(exc)(message, code=exc.code, input=role) from exc
    orig, susp = pics
    timings["load"] = _ms(start)
    return _compare_pictures(orig, susp, timings, start)


def compare_pictures(original: Picture, suspect: Picture) -> Comparison:
    """`compare` for two pictures already decoded (the archive search compares its copies)."""
    return _compare_pictures(original, suspect, {"load": 0.0}, time.perf_counter())


def _compare_pictures(
    orig: Picture, susp: Picture, timings: dict[str, float], start: float
) -> Comparison:
    notes: list[str] = []
    deterministic_rng()
    step = time.perf_counter()
    facts_o, facts_s = file_facts(orig), file_facts(susp)
    so, ss = working(orig), working(susp)
    arrays: dict[str, npt.NDArray[Any]] = {"original": so.rgb, "suspect": ss.rgb}
    timings["prepare"] = _ms(step)
    step = time.perf_counter()

    same_pixels = orig.sha256 == susp.sha256 or (
        orig.pixels.shape == susp.pixels.shape
        and np.array_equal(orig.pixels[::61, ::67], susp.pixels[::61, ::67])  # cheap first
        and np.array_equal(orig.pixels, susp.pixels)
    )
    if same_pixels:
        h, w = orig.height, orig.width
        transform = Transform(
            crop_box=[0.0, 0.0, float(w), float(h)],
            scale=1.0,
            rotation_degrees=0.0,
            flipped=False,
            homography=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            inliers=0,
            matches=0,
            coverage=1.0,
        )
        blank = np.zeros(ss.rgb.shape[:2], bool)
        arrays.update(aligned=ss.rgb, changed=blank, covered=~blank)
        return _result(
            facts_o, facts_s, "identical", 1.0, transform, 0.0, [], [], timings, start,
            arrays, notes, closer=closer_to_source(None, facts_o, facts_s, orig, susp, None, None),
        )  # fmt: skip

    sift = cv2.SIFT_create(nfeatures=SIFT_FEATURES, contrastThreshold=0.03)  # type: ignore[attr-defined]
    kp_o, des_o = sift.detectAndCompute(so.gray, None)
    kp_s, des_s = sift.detectAndCompute(ss.gray, None)
    timings["features"] = _ms(step)
    step = time.perf_counter()
    fit = register(kp_o, des_o, kp_s, des_s, so.gray.shape[1], flipped=False)
    mirrored: list[Fit | None] = []

    def mirror_fit() -> Fit | None:
        # SIFT descriptors are not mirror-invariant: match against the mirrored original,
        # whose descriptors are a fixed permutation of the original's (no second detection).
        if not mirrored:
            width = so.gray.shape[1]
            kp_m = [Point((width - 1) - k.pt[0], k.pt[1]) for k in kp_o]
            des_m = None if des_o is None else np.ascontiguousarray(des_o[:, MIRROR])
            mirrored.append(register(kp_m, des_m, kp_s, des_s, width, flipped=True))
        return mirrored[0]

    if not convincing(fit, so, ss):
        # A symmetric subject can give the direct match some inliers, so a mere fit is not
        # enough to skip the mirror.
        alt = mirror_fit()
        if alt is not None and (
            fit is None
            or (plausible(alt, so, ss), alt.inliers) > (plausible(fit, so, ss), fit.inliers)
        ):
            fit = alt
    timings["register"] = _ms(step)
    step = time.perf_counter()

    registered = fit is not None and plausible(fit, so, ss)
    if fit is None or not registered:
        pts_o, dense_o, size_o = scene_features(so)
        pts_s, dense_s, size_s = scene_features(ss)
        pairs = mutual_matches(dense_o, dense_s)
        scene_inliers, spread_o, spread_s = epipolar(
            pts_o[[i for i, _ in pairs]].reshape(-1, 2),
            pts_s[[j for _, j in pairs]].reshape(-1, 2),
            size_o,
            size_s,
        )
        decision = decide(
            RelationEvidence(
                registered=False,
                inliers=fit.inliers if fit is not None else 0,
                matches=fit.matches if fit is not None else 0,
                scene_inliers=scene_inliers,
                scene_spread=min(spread_o, spread_s),
            )
        )
        relation, confidence = decision.relation, decision.confidence
        if decision.note:
            notes.append(decision.note)
        transform = empty_transform(fit)
        timings["changes"] = _ms(step)
        return _result(
            facts_o, facts_s, relation, confidence, transform, None, [], [], timings, start,
            arrays, notes, closer=closer_to_source(None, facts_o, facts_s, orig, susp, None, None),
        )  # fmt: skip

    assert fit is not None
    found = _evaluate(orig, fit, so, ss)
    if found.fraction > 0 and not fit.flipped:
        # Before reporting any change, rule out a mirror image of a near-symmetric subject
        # (a facade, a face): the pixels decide which alignment is right.
        alt = mirror_fit()
        # Only a mirror fit of comparable strength is worth aligning and comparing.
        if alt is not None and alt.inliers >= 0.5 * fit.inliers and plausible(alt, so, ss):
            other = _evaluate(orig, alt, so, ss)
            if other.fraction < found.fraction:
                fit, found = alt, other
    timings["changes"] = _ms(step)
    transform = found.transform
    arrays.update(aligned=found.aligned, changed=found.changed, covered=found.covered)
    covered_px = max(1, int(found.covered.sum()))
    regions = changed_regions(found.changed, found.evidence, found.threshold, ss.factor, covered_px)
    padding = padding_boxes(found.covered, ss.factor, susp.width, susp.height)
    fraction: float | None = found.fraction
    decision = decide(
        RelationEvidence(
            registered=True,
            inliers=fit.inliers,
            matches=fit.matches,
            disagreement=found.disagreement,
            confined=spread(fit, so, ss) < MIN_INLIER_SPREAD,
            parallax=parallax_of(fit, _size(so), _size(ss)),
            region_scores=tuple(r.score for r in regions),
        )
    )
    relation, confidence = decision.relation, decision.confidence
    if decision.note:
        notes.append(decision.note)
    if decision.relation == "unrelated":
        fraction = None  # one shared element: no changed share to speak of
    if not decision.keeps_changes:
        regions = []
        found.changed[:] = False
    closer = closer_to_source(transform, facts_o, facts_s, orig, susp, transform.coverage, padding)
    return _result(
        facts_o, facts_s, relation, confidence, transform,
        None if fraction is None else round(fraction, 5), regions, padding,
        timings, start, arrays, notes, closer=closer,
    )  # fmt: skip


@dataclass
class _Found:
    transform: Transform
    aligned: U8
    covered: Bool
    changed: Bool
    evidence: F32
    threshold: float
    fraction: float  # changed share of the covered area
    disagreement: float  # share of the textured covered area whose fine structure differs


def _evaluate(orig: Picture, fit: Fit, so: Side, ss: Side) -> _Found:
    """Align the original on the suspect with `fit` and measure what differs."""
    h_full = to_stored(fit.homography, so.feature_factor, ss.feature_factor)
    transform = transform_of(h_full, fit, orig, ss.picture)
    aligned, covered = align(orig, h_full, so, ss)
    transform.coverage = round(float(covered.mean()), 4)
    changed, evidence, threshold = changed_map(aligned, ss.rgb, covered)
    covered_px = max(1, int(covered.sum()))
    disagreement = disagreement_share(aligned, ss.rgb, covered)
    return _Found(
        transform, aligned, covered, changed, evidence, threshold,
        float(changed.sum()) / covered_px, disagreement,
    )  # fmt: skip


def _summary(
    relation: str, transform: Transform, regions: list[ChangedRegion], fraction: float | None,
    lang: str,
) -> str:  # fmt: skip
    if relation == "same-image":
        text = t("compare.summary.same_image", lang, scale=f"{transform.scale or 1:.2f}",
                 rotation=f"{transform.rotation_degrees or 0:.1f}")  # fmt: skip
    elif relation == "edited":
        text = t("compare.summary.edited", lang, n=len(regions),
                 percent=f"{100 * (fraction or 0):.1f}")  # fmt: skip
    else:
        text = t(f"compare.summary.{relation.replace('-', '_')}", lang)
    if transform.flipped:
        text += " " + t("compare.summary.flipped", lang)
    if transform.coverage is not None and transform.coverage < 0.99:
        text += " " + t("compare.summary.padding", lang,
                        percent=f"{100 * (1 - transform.coverage):.0f}")  # fmt: skip
    return text


def _result(
    fo: CompareFile,
    fs: CompareFile,
    relation: str,
    confidence: float,
    transform: Transform,
    fraction: float | None,
    regions: list[ChangedRegion],
    padding: list[list[int]],
    timings: dict[str, float],
    start: float,
    arrays: dict[str, npt.NDArray[Any]],
    notes: list[str],
    *,
    closer: CloserToSource,
) -> Comparison:
    timings["total"] = _ms(start)
    result = Comparison(
        tool=ToolInfo(version=__version__),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        original=fo,
        suspect=fs,
        relation=relation,  # type: ignore[arg-type]
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        transform=transform,
        changed_fraction=fraction,
        changed_regions=regions,
        padding=padding,
        closer_to_source=closer,
        summary=_summary(relation, transform, regions, fraction, "en"),
        summary_ar=_summary(relation, transform, regions, fraction, "ar"),
        notes=notes,
        timings_ms=timings,
    )
    result._arrays.update(arrays)
    return result


def _size(side: Side) -> tuple[int, int]:
    return (side.gray.shape[1], side.gray.shape[0])


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000.0, 1)
