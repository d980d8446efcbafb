"""Does the EXIF thumbnail still show the picture?

Cameras write a small preview (the EXIF thumbnail) next to the picture. Many editors change the
picture but leave the old preview in place, so a preview that shows other content, or a wider
framing, is evidence that the picture was changed after capture. It is among the oldest and
most reliable forensic checks (Kee & Farid 2010 used thumbnails to identify editing software).

Only strong, structural disagreement counts: thumbnails are tiny, heavily compressed and
sometimes made from a slightly different tone curve, so colour and fine detail are ignored.

The thresholds below were chosen by reasoning about previews (160×120 JPEGs) and then looked at
on the corpus during development: the untouched camera originals in ../shared/data/real/full and
the centre-cropped camera files in real/camera. The tests assert on those same files, so they
guard against regressions; they are not an independent measurement of accuracy.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.analysis import Context
from photoloupe.findings import Finding
from photoloupe.io import Picture

MIN_PICTURE_SIDE = 64  # smaller pictures carry too little to compare with a preview

# Agreement thresholds on zero-mean normalised cross-correlation of blurred grey images.
MATCH_NCC = 0.80  # at or above: the thumbnail shows this picture
MISMATCH_NCC = 0.50  # below, with no crop found: the thumbnail shows other content
CROP_NCC = 0.93  # a sub-window of the thumbnail matching this well: the picture was cropped
CROP_GAIN = 0.10  # ... and that much better than the whole-frame comparison
CROP_MAX_FRACTION = 0.90  # a "crop" keeping more than this is within resampling error
# A tile whose residual is this many times the image's typical residual is a local change.
LOCAL_RATIO = 6.0
LOCAL_MIN_DIFF = 0.12  # and at least this much mean absolute difference (grey in [0, 1])
_MAX_THUMB_SIDE = 1024
_GRID = 6
_MIN_TEMPLATE = 20  # smaller windows of a blurred thumbnail match almost anything
_MIN_STD = 0.03  # grey-level spread below which a window has no structure to match


def check_thumbnail(source: Context | Picture) -> Finding:
    """Compare the embedded EXIF thumbnail with the picture.

    score: None without a usable thumbnail, else 0 (the thumbnail shows this picture) to 1
    (it shows something else). The map shows where the two disagree.
    """
    context = Context.of(source)
    picture = context.picture
    raw = context.exiv2.thumbnail
    if raw is None:
        return Finding(
            score=None,
            notes=("The file has no embedded thumbnail to compare.",),
            codes=("thumbnail_absent",),
        )
    thumb = _decode_thumbnail(raw)
    if thumb is None:
        return Finding(
            score=None,
            notes=("The embedded thumbnail cannot be decoded.",),
            codes=("thumbnail_unreadable",),
        )
    if min(picture.width, picture.height) < MIN_PICTURE_SIDE:
        return Finding(
            score=None,
            notes=("The picture is too small to compare with its thumbnail.",),
            codes=("thumbnail_too_small",),
        )
    main = _grey(_shrink_rgb(picture.pixels, 4 * max(thumb.shape)))
    if float(main.std()) < _MIN_STD or float(thumb.std()) < _MIN_STD:
        # A flat picture (or preview) has no structure to compare: agreement and
        # disagreement are both meaningless.
        return Finding(
            score=None,
            notes=("The picture or its thumbnail is nearly uniform; no comparison is possible.",),
            codes=("thumbnail_uncertain",),
        )
    # Some tools rotate the stored pixels and leave the preview as it was: try the four turns.
    turns = [np.ascontiguousarray(np.rot90(main, k)) for k in range(4)]
    best: tuple[float, int, npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None
    for k, candidate in enumerate(turns):
        content = _strip_bars(thumb, candidate.shape[1] / candidate.shape[0])
        if min(content.shape) < 16:
            continue
        small = _blur(_resize(candidate, content.shape))
        ncc = _ncc(small, _blur(content))
        if best is None or ncc > best[0]:
            best = (ncc, k, candidate, content)
    if best is None:
        return Finding(
            score=None,
            notes=("The embedded thumbnail is too small to compare.",),
            codes=("thumbnail_too_small",),
        )
    ncc, turn, main_best, content = best
    residual = _residual(_blur(_resize(main_best, content.shape)), _blur(content))
    details: dict[str, object] = {
        "thumbnail_size": [int(thumb.shape[1]), int(thumb.shape[0])],
        "similarity": round(ncc, 4),
        "quarter_turns": turn,
    }
    rotated_note = (
        (
            "The picture is stored turned by a quarter or half turn relative to its thumbnail "
            "(a lossless rotation, which changes no content).",
        )
        if turn
        else ()
    )

    if ncc >= MATCH_NCC:
        tile, ratio = _worst_tile(residual)
        details["worst_tile_ratio"] = round(ratio, 2)
        if ratio >= LOCAL_RATIO and tile >= LOCAL_MIN_DIFF:
            return Finding(
                score=float(min(1.0, 0.5 + ratio / 40)),
                notes=(
                    "The embedded thumbnail matches the picture overall, but one area differs "
                    "clearly: evidence that this area was changed after the thumbnail was made.",
                    *rotated_note,
                ),
                map=_as_map(np.rot90(residual, -turn)),
                codes=("thumbnail_local_mismatch",),
                evidence_of="editing",
                details=details,
            )
        return Finding(
            score=float(max(0.0, min(1.0, (1.0 - ncc) * 2))),
            notes=("The embedded thumbnail matches the picture.", *rotated_note),
            map=_as_map(np.rot90(residual, -turn)),
            codes=("thumbnail_match",),
            details=details,
        )

    # A crop is searched for as stored and at the best-matching turn; other turns are rare.
    crop_ncc, crop_fraction = max(_find_crop(turns[k], thumb) for k in sorted({0, turn}))
    details["crop_similarity"] = round(crop_ncc, 4)
    details["crop_fraction"] = round(crop_fraction, 3)
    if crop_ncc >= CROP_NCC and crop_ncc - ncc >= CROP_GAIN and crop_fraction <= CROP_MAX_FRACTION:
        return Finding(
            score=0.8,
            notes=(
                "The embedded thumbnail shows a wider view than the picture: evidence that the "
                f"picture was cropped (it keeps about {crop_fraction:.0%} of the thumbnail's "
                "width) after the thumbnail was made.",
                *rotated_note,
            ),
            codes=("thumbnail_cropped",),
            evidence_of="editing",
            details=details,
        )
    if ncc < MISMATCH_NCC and crop_ncc < CROP_NCC:
        return Finding(
            score=float(max(0.7, min(1.0, 1.0 - ncc))),
            notes=(
                "The embedded thumbnail shows different content from the picture: evidence "
                "that the picture was changed or replaced after the thumbnail was made.",
            ),
            map=_as_map(np.rot90(residual, -turn)),
            codes=("thumbnail_mismatch",),
            evidence_of="editing",
            details=details,
        )
    return Finding(
        score=None,
        notes=(
            "The embedded thumbnail resembles the picture but not closely enough to say either "
            "way (small, dark or low-contrast pictures compare poorly); no conclusion is drawn.",
        ),
        map=_as_map(np.rot90(residual, -turn)),
        codes=("thumbnail_uncertain",),
        details=details,
    )


def _decode_thumbnail(raw: bytes) -> npt.NDArray[np.float32] | None:
    try:
        with Image.open(io.BytesIO(raw), formats=("JPEG", "TIFF")) as im:
            if max(im.size) > _MAX_THUMB_SIDE:
                return None
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # a damaged thumbnail is simply not compared
        return None
    return _grey(rgb)


def _grey(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return (grey.astype(np.float32) / 255.0).astype(np.float32)


def _resize(img: npt.NDArray[np.float32], shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    h, w = int(shape[0]), int(shape[1])
    return np.asarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), dtype=np.float32)


def _shrink_rgb(rgb: npt.NDArray[np.uint8], side: int) -> npt.NDArray[np.uint8]:
    """Downscale so the longer side is at most `side`: the comparison never needs more, and
    shrinking the 8-bit picture first keeps a 16-megapixel photo under a few tens of ms."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _blur(img: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 1.5), dtype=np.float32)


def _ncc(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    a0 = a - a.mean()
    b0 = b - b.mean()
    denom = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    if denom < 1e-9:
        return 1.0 if float(np.abs(a - b).mean()) < 0.05 else 0.0
    return float((a0 * b0).sum() / denom)


def _residual(
    main: npt.NDArray[np.float32], thumb: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    # Fit thumb ≈ gain·main + offset first: previews often have another tone curve.
    x = main.ravel().astype(np.float64)
    y = thumb.ravel().astype(np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = (design @ coef).reshape(main.shape)
    return np.asarray(np.abs(fitted - thumb.astype(np.float64)), dtype=np.float32)


def _worst_tile(residual: npt.NDArray[np.float32]) -> tuple[float, float]:
    h, w = residual.shape
    means = []
    for i in range(_GRID):
        for j in range(_GRID):
            tile = residual[
                i * h // _GRID : (i + 1) * h // _GRID, j * w // _GRID : (j + 1) * w // _GRID
            ]
            if tile.size:
                means.append(float(tile.mean()))
    worst = max(means)
    typical = float(np.median(means)) + 1e-3
    return worst, worst / typical


def _strip_bars(thumb: npt.NDArray[np.float32], aspect: float) -> npt.NDArray[np.float32]:
    """Remove the black (or white) bands a camera adds to fit a 3:2 picture in a 4:3 preview.

    Bands are removed only if that brings the thumbnail closer to the picture's aspect ratio
    `aspect` (width / height): a dark sky or shadow along one edge is not letterboxing.
    """
    h, w = thumb.shape

    def flat(line: npt.NDArray[np.float32]) -> bool:
        mean = float(line.mean())
        return float(line.std()) < 0.03 and (mean < 0.08 or mean > 0.95)

    top = next((r for r in range(h) if not flat(thumb[r])), h)
    bottom = next((r for r in range(h - 1, -1, -1) if not flat(thumb[r])), -1) + 1
    left = next((c for c in range(w) if not flat(thumb[:, c])), w)
    right = next((c for c in range(w - 1, -1, -1) if not flat(thumb[:, c])), -1) + 1
    if bottom - top < h // 3 or right - left < w // 3:
        return thumb
    stripped = thumb[top:bottom, left:right]

    def aspect_error(img: npt.NDArray[np.float32]) -> float:
        return abs(float(np.log((img.shape[1] / img.shape[0]) / aspect)))

    return stripped if aspect_error(stripped) + 0.02 < aspect_error(thumb) else thumb


def _find_crop(
    main: npt.NDArray[np.float32], thumb: npt.NDArray[np.float32]
) -> tuple[float, float]:
    """Best NCC of the picture, shrunk, slid over the thumbnail; and the width it covers."""
    th, tw = thumb.shape
    mh, mw = main.shape
    blurred_thumb = _blur(thumb)
    best, best_fraction = -1.0, 1.0
    for w in np.unique(np.geomspace(_MIN_TEMPLATE, tw, 28).round().astype(int)):
        w = int(w)
        h = round(w * mh / mw)
        if h > th:
            h = th
            w = round(h * mw / mh)
        if w < _MIN_TEMPLATE or h < _MIN_TEMPLATE or w > tw or h > th:
            continue
        template = _blur(_resize(main, (h, w)))
        if float(template.std()) < _MIN_STD:
            continue  # a flat template correlates with any flat area
        scores = cv2.matchTemplate(blurred_thumb, template, cv2.TM_CCOEFF_NORMED)
        # Windows of the thumbnail without texture give meaningless (often perfect) scores.
        mean = cv2.boxFilter(blurred_thumb, -1, (w, h), normalize=True, anchor=(0, 0))
        mean_sq = cv2.boxFilter(
            blurred_thumb * blurred_thumb, -1, (w, h), normalize=True, anchor=(0, 0)
        )
        var = (mean_sq - mean * mean)[: th - h + 1, : tw - w + 1]
        scores = np.where(var >= _MIN_STD**2, scores, -1.0)
        score = float(scores.max())
        if score > best:
            best, best_fraction = score, w / tw
    return best, best_fraction


def _as_map(residual: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(np.clip(residual / 0.25, 0.0, 1.0), dtype=np.float32)
