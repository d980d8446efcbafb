"""AI-generation detection from the pixels alone.

`detect_ai` is the analysis registered in the pipeline. Detector 3 (`ensemble.py`) is a
head trained here on a frozen CLIP encoder (`encoder.py`, `heads.py`), stacked with Forensic
Self-Descriptions (`fsd.py`) only where the shipped weights say so (the shipped stack holds
the encoder head alone: FSD lost accuracy on reposts). When the encoder file is not
installed, or is not the one the head was trained on, detector 2 runs instead (hand-crafted
features, `features.py`, and a residual CNN, `cnn.py`, combined by `model.py`) and the
finding says why (`fallback`).

Either way the answer comes with a reliability that drops to "low" when the picture is too
small, too compressed, enlarged, or when the detector's parts disagree: then the answer is
"inconclusive", not "no evidence".
"""

from __future__ import annotations

import numpy as np

from photoloupe._onnx import default_threads
from photoloupe.analysis import Context
from photoloupe.detect.encoder import SIDE, Encoder, EncoderUnavailable, packaged_encoder
from photoloupe.detect.ensemble import Detector3, load_detector3
from photoloupe.detect.features import MIN_SIDE, TILE, extract_features, luma
from photoloupe.detect.laundering import jpeg, resize
from photoloupe.detect.model import DetectorModel, load_model
from photoloupe.findings import Finding
from photoloupe.io import Picture

MIN_RELIABLE_SIDE = 128  # below this, reliability is low (issue 3)
LOW_JPEG_QUALITY = 50  # at or below: very compressed, low reliability
MEDIUM_JPEG_QUALITY = 75
UNSTABLE_SPREAD = 0.30  # probabilities of the re-encoded copies this far apart: low
WOBBLY_SPREAD = 0.15  # ... this far apart: medium
# Compression and resampling read from the pixels themselves, so that a JPEG saved again as PNG
# (a screenshot) or a zoomed-in copy is caught whatever its container. The bounds come from
# 41 corpus pictures re-encoded on purpose: camera originals have a grid ratio around 1.1-1.5
# and a JPEG at quality 35 around 1.4-2.8; 2x up-scaling leaves under about 1-5 % of the
# spectrum's energy above half the Nyquist frequency, against about 10 % for originals.
BLOCKY_LOW = 1.8
BLOCKY_MEDIUM = 1.5
HIGH_FREQUENCY_LOW = 0.01
HIGH_FREQUENCY_MEDIUM = 0.03
LOSSY_CODECS = ("HEIF", "AVIF")  # and lossy WebP: codecs the model never saw in training

GROUP_WORDS = {
    "texture": "fine luminance texture",
    "colour_texture": "fine colour texture",
    "spectrum": "frequency spectrum of the noise",
    "cross_channel": "correlation between colour channels",
    "noise": "noise level and its dependence on brightness",
    "coarse_texture": "coarse luminance texture",
    "cnn": "residual patterns learned by the neural network",
    "encoder": "content and texture as a pretrained image encoder sees them",
    "fsd": "how the picture's pixel residuals predict each other (its self-description)",
}
# Detector 3: crops whose stacked probabilities spread this far, across the threshold, do not
# agree on the picture: low reliability (medium from the smaller spread).
CROPS_SPLIT_LOW = 0.5
CROPS_SPLIT_MEDIUM = 0.25


def detect_ai(source: Context | Picture) -> Finding:
    """Probability that the pixels were made by a generative model, with its reliability.

    `details` holds: probability, threshold, decision ("ai-generated", "no-evidence",
    "inconclusive"), reliability ("high", "medium", "low"), reasons (why reliability is not
    high), detectors (each branch's own probability), attribution (nearest generator family,
    only with evidence of AI generation), contributions (per branch or feature group,
    positive towards AI), model (name, version, sha256) and fallback (null, or why detector
    2 ran instead of detector 3). Detector 3 adds crops (the stacked probability of each
    encoder crop); detector 2 adds stability (probabilities of re-encoded copies).
    """
    context = Context.of(source)
    picture = context.picture
    try:
        encoder = packaged_encoder(threads=default_threads())
    except EncoderUnavailable as exc:
        return _detect_v2(picture, fallback=str(exc))
    return _detect_v3(picture, load_detector3(), encoder)


def _too_small(picture: Picture, model_info: dict[str, str], threshold: float) -> Finding:
    w, h = picture.width, picture.height
    return Finding(
        score=None,
        notes=(f"The picture ({w}×{h}) is too small for the pixel detector.",),
        codes=("detector_too_small",),
        details={
            "decision": "inconclusive",
            "reliability": "low",
            "model": model_info,
            "threshold": threshold,
            "reasons": ["too_small"],
        },
    )


def _detect_v3(picture: Picture, model: Detector3, encoder: Encoder) -> Finding:
    rgb = picture.pixels
    model_info = {"name": model.name, "version": model.version, "sha256": model.sha256}
    if min(rgb.shape[:2]) < MIN_SIDE:
        return _too_small(picture, model_info, model.threshold)
    scores = model.score(rgb, encoder)
    probability = model.probability(scores.logits)
    crops = [model.probability({**scores.logits, "encoder": z}) for z in scores.crop_logits]
    reliability, reasons = _reliability_v3(picture, probability, crops, model.threshold)
    decision = _decision(reliability, probability, model.threshold)
    contributions = {
        b: c * scores.logits[b] for b, c in zip(model.branches, model.coef, strict=True)
    }
    attribution = None
    if decision == "ai-generated":
        v2 = load_model()
        if v2.attributor is not None:
            attribution = v2.attributor.attribute(v2.standardised(extract_features(rgb)))
    detectors = {b: round(model.branch_probability(b, scores.logits[b]), 4) for b in model.branches}
    return _finding(
        probability,
        model.threshold,
        decision,
        reliability,
        reasons,
        contributions,
        detectors,
        attribution,
        model_info,
        {"crops": [round(p, 4) for p in crops], "fallback": None},
    )


def _finding(
    probability: float,
    threshold: float,
    decision: str,
    reliability: str,
    reasons: list[str],
    contributions: dict[str, float],
    detectors: dict[str, float],
    attribution: object,
    model_info: dict[str, str],
    extra: dict[str, object],
) -> Finding:
    """The detector's finding, whichever detector ran; `extra` holds its own details."""
    return Finding(
        score=probability,
        notes=_notes(probability, threshold, decision, reliability, contributions),
        codes=(f"detector_{decision.replace('-', '_')}",),
        evidence_of="ai-generation" if decision == "ai-generated" else None,
        details={
            "probability": round(probability, 4),
            "threshold": threshold,
            "decision": decision,
            "reliability": reliability,
            "reasons": reasons,
            "contributions": {k: round(v, 3) for k, v in contributions.items()},
            "detectors": detectors,
            "attribution": attribution,
            "model": model_info,
            **extra,
        },
    )


def _decision(reliability: str, probability: float, threshold: float) -> str:
    if reliability == "low":
        return "inconclusive"
    return "ai-generated" if probability > threshold else "no-evidence"


def _detect_v2(picture: Picture, fallback: str | None = None) -> Finding:
    """Detector 2 (features and CNN), the fallback when the encoder is unavailable."""
    model = load_model()
    rgb = picture.pixels
    h, w = rgb.shape[:2]
    model_info = {"name": model.name, "version": model.version, "sha256": model.sha256}
    if min(h, w) < MIN_SIDE:
        return _too_small(picture, model_info, model.threshold)
    tiles = extract_features(rgb)
    feature_logit = model.logit(tiles)
    cnn_logit = model.cnn.logit(rgb) if model.cnn is not None else None
    probability = model.combined_probability(feature_logit, cnn_logit)
    stability = _stability(rgb, model)
    reliability, reasons = _reliability(picture, probability, stability, model.threshold)
    decision = _decision(reliability, probability, model.threshold)
    contributions = _contributions(model, tiles, cnn_logit)
    attribution = None
    if decision == "ai-generated" and model.attributor is not None:
        attribution = model.attributor.attribute(model.standardised(tiles))
    detectors = {"features": round(model.probability(feature_logit), 4)}
    if cnn_logit is not None:
        detectors["cnn"] = round(model.cnn_probability(cnn_logit), 4)
    return _finding(
        probability,
        model.threshold,
        decision,
        reliability,
        reasons,
        contributions,
        detectors,
        attribution,
        model_info,
        {"stability": [round(p, 4) for p in stability], "fallback": fallback},
    )


def _stability(rgb: np.ndarray, model: DetectorModel) -> list[float]:
    """Probabilities of two light reposts: a JPEG re-save at 85 and a 0.75× downscale.

    A small detector can flip with re-encoding; when its copies disagree, the answer is not
    to be trusted.
    """
    # The detector reads at most a 3×2 block of tiles around the centre; re-encoding more of a
    # large picture would only cost time and memory.
    region = _central(rgb, 4 * TILE, 6 * TILE)
    copies = [jpeg(region, 85)]
    if min(region.shape[:2]) * 0.75 >= MIN_SIDE:
        copies.append(resize(region, 0.75))
    # Two central tiles (and 2x2 CNN crops) per copy are enough to see a flip, at a third of
    # the cost.
    return [
        model.combined_probability(
            model.logit(extract_features(c, max_tiles=2)),
            model.cnn.logit(c, grid=2) if model.cnn is not None else None,
        )
        for c in copies
    ]


def _contributions(
    model: DetectorModel, tiles: np.ndarray, cnn_logit: float | None
) -> dict[str, float]:
    """How much each feature group, and the CNN, pushed the combined logit (positive: AI)."""
    groups = model.contributions(tiles)
    if model.combination is None or cnn_logit is None:
        return groups
    w_features, w_cnn, _ = model.combination
    out = {name: w_features * value for name, value in groups.items()}
    out["cnn"] = w_cnn * cnn_logit
    return out


def _picture_reasons(picture: Picture, small_side: int) -> tuple[list[str], list[str]]:
    """Why any pixel detector's answer is less reliable for this picture: (low, medium)."""
    low, medium = pixel_reasons(picture.pixels, small_side)
    quality = picture.jpeg.estimated_quality if picture.jpeg is not None else None
    if quality is not None and quality <= LOW_JPEG_QUALITY:
        low.append("heavily_compressed")
    elif quality is not None and quality < MEDIUM_JPEG_QUALITY:
        medium.append("compressed")
    if picture.format in LOSSY_CODECS or _lossy_webp(picture):
        medium.append("lossy_codec")
    return low, medium


def pixel_reasons(rgb: np.ndarray, small_side: int = SIDE) -> tuple[list[str], list[str]]:
    """The reasons read off the pixels alone (size, a compression grid, missing fine detail),
    as (low, medium); the benchmark uses these on its views, which have no file."""
    low: list[str] = []
    medium: list[str] = []
    side = min(rgb.shape[:2])
    if side < MIN_RELIABLE_SIDE:
        low.append("too_small")
    elif side < small_side:
        medium.append("small")
    region = _central(rgb, 1024)
    blockiness = _blockiness(region)
    if blockiness >= BLOCKY_LOW:
        low.append("blocky")
    elif blockiness >= BLOCKY_MEDIUM:
        medium.append("somewhat_blocky")
    share = _high_frequency_share(region)
    if share < HIGH_FREQUENCY_LOW:
        low.append("upscaled_or_smooth")
    elif share < HIGH_FREQUENCY_MEDIUM:
        medium.append("little_fine_detail")
    return low, medium


def _graded(low: list[str], medium: list[str]) -> tuple[str, list[str]]:
    if low:
        return "low", low + medium
    if medium:
        return "medium", medium
    return "high", []


def _reliability(
    picture: Picture, probability: float, stability: list[float], threshold: float
) -> tuple[str, list[str]]:
    """Detector 2: the picture's own reasons, and whether two light reposts move the score."""
    low, medium = _picture_reasons(picture, TILE)
    scores = [probability, *stability]
    spread = max(scores) - min(scores)
    crosses = min(scores) < threshold <= max(scores)
    if spread >= UNSTABLE_SPREAD or (crosses and spread >= WOBBLY_SPREAD):
        low.append("unstable_under_reencoding")
    elif spread >= WOBBLY_SPREAD or crosses:
        medium.append("sensitive_to_reencoding")
    return _graded(low, medium)


def _reliability_v3(
    picture: Picture, probability: float, crops: list[float], threshold: float
) -> tuple[str, list[str]]:
    """Detector 3: the picture's own reasons, and whether its crops agree across the
    threshold (a picture whose parts disagree may be partly generated, or simply hard)."""
    low, medium = _picture_reasons(picture, SIDE)
    crop_low, crop_medium = crop_reasons(crops, threshold)
    return _graded(low + crop_low, medium + crop_medium)


def crop_reasons(crops: list[float], threshold: float) -> tuple[list[str], list[str]]:
    """Detector 3's crops, as stacked probabilities, straddling the threshold: (low, medium)."""
    spread = max(crops) - min(crops) if crops else 0.0
    crosses = bool(crops) and min(crops) < threshold <= max(crops)
    if crosses and spread >= CROPS_SPLIT_LOW:
        return ["crops_disagree"], []
    if crosses and spread >= CROPS_SPLIT_MEDIUM:
        return [], ["crops_differ"]
    return [], []


def _central(rgb: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """The centre `height` × `width` (default square) of the picture, or all of it if smaller."""
    h, w = rgb.shape[:2]
    ch, cw = min(h, height), min(w, height if width is None else width)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def _blockiness(rgb: np.ndarray) -> float:
    """How much stronger pixel steps are on one column (row) of every 8 than on the others:
    the 8x8 grid of JPEG compression, wherever it sits and whatever the file is now."""
    grey = luma(rgb)
    ratios = []
    for steps in (np.abs(np.diff(grey, axis=1)).mean(0), np.abs(np.diff(grey, axis=0)).mean(1)):
        n = len(steps) // 8 * 8
        if n < 16:
            continue
        per_phase = steps[:n].reshape(-1, 8).mean(0)
        ratios.append(float(per_phase.max() / (np.median(per_phase) + 1e-6)))
    return max(ratios, default=1.0)


def _high_frequency_share(rgb: np.ndarray) -> float:
    """Share of the spectrum's energy (above a tenth of Nyquist) lying above half of Nyquist:
    tiny for a picture that was enlarged (a zoomed screenshot) or heavily smoothed."""
    grey = luma(_central(rgb, 512))
    h, w = grey.shape
    grey = grey - grey.mean()
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(grey * window)) ** 2
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) / 0.5
    band = (radius > 0.1) & (radius <= 1.0)
    high = (radius > 0.5) & (radius <= 1.0)
    return float(power[high].sum() / (power[band].sum() + 1e-9))


def _lossy_webp(picture: Picture) -> bool:
    # A WebP is lossless when its first chunk is VP8L; VP8 (or VP8X with VP8 inside) is lossy.
    return picture.format == "WEBP" and b"VP8L" not in picture.data[12:64]


def _notes(
    probability: float,
    threshold: float,
    decision: str,
    reliability: str,
    contributions: dict[str, float],
) -> tuple[str, ...]:
    lead = (
        f"The pixel detector estimates a {probability:.0%} probability that the picture was "
        f"generated by AI (threshold {threshold:.0%}; reliability {reliability})."
    )
    strongest = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))[:2]
    cues = "; ".join(
        f"{GROUP_WORDS.get(name, name)} {'towards AI' if value > 0 else 'towards a camera'}"
        for name, value in strongest
    )
    notes = [lead, f"Strongest cues: {cues}."]
    if decision == "inconclusive":
        notes.append("Its reliability is low for this picture, so no conclusion is drawn.")
    return tuple(notes)
