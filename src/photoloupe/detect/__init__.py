"""AI-generation detection from the pixels alone.

`detect_ai` is the analysis registered in the pipeline: features of the picture's
micro-structure (`features.py`), the shipped calibrated model (`model.py`), and a reliability
that drops to "low" when the picture is too small, too compressed, or when the score does not
survive a light re-encoding: then the answer is "inconclusive", not "no evidence".
"""

from __future__ import annotations

import numpy as np

from photoloupe.detect.features import MIN_SIDE, TILE, extract_features
from photoloupe.detect.laundering import jpeg, resize
from photoloupe.detect.model import DetectorModel, load_model
from photoloupe.findings import Finding
from photoloupe.io import Picture

MIN_RELIABLE_SIDE = 128  # below this, reliability is low (issue 3)
LOW_JPEG_QUALITY = 50  # at or below: very compressed, low reliability
MEDIUM_JPEG_QUALITY = 75
UNSTABLE_SPREAD = 0.30  # probabilities of the re-encoded copies this far apart: low
WOBBLY_SPREAD = 0.15  # ... this far apart: medium

GROUP_WORDS = {
    "texture": "fine luminance texture",
    "colour_texture": "fine colour texture",
    "spectrum": "frequency spectrum of the noise",
    "cross_channel": "correlation between colour channels",
    "noise": "noise level and its dependence on brightness",
}


def detect_ai(picture: Picture) -> Finding:
    """Probability that the pixels were made by a generative model, with its reliability.

    `details` holds: probability, threshold, decision ("ai-generated", "no-evidence",
    "inconclusive"), reliability ("high", "medium", "low"), reasons (why reliability is not
    high), stability (probabilities of re-encoded copies), contributions (per feature group,
    positive towards AI) and model (name, version, sha256).
    """
    model = load_model()
    rgb = picture.pixels
    h, w = rgb.shape[:2]
    model_info = {"name": model.name, "version": model.version, "sha256": model.sha256}
    if min(h, w) < MIN_SIDE:
        return Finding(
            score=None,
            notes=(f"The picture ({w}×{h}) is too small for the pixel detector.",),
            codes=("detector_too_small",),
            details={
                "decision": "inconclusive",
                "reliability": "low",
                "model": model_info,
                "threshold": model.threshold,
                "reasons": ["too_small"],
            },
        )
    tiles = extract_features(rgb)
    probability = model.probability(model.logit(tiles))
    stability = _stability(rgb, model)
    reliability, reasons = _reliability(picture, probability, stability, model.threshold)
    if reliability == "low":
        decision = "inconclusive"
    elif probability >= model.threshold:
        decision = "ai-generated"
    else:
        decision = "no-evidence"
    contributions = model.contributions(tiles)
    return Finding(
        score=probability,
        notes=_notes(probability, model.threshold, decision, reliability, contributions),
        codes=(f"detector_{decision.replace('-', '_')}",),
        evidence_of="ai-generation" if decision == "ai-generated" else None,
        details={
            "probability": round(probability, 4),
            "threshold": model.threshold,
            "decision": decision,
            "reliability": reliability,
            "reasons": reasons,
            "stability": [round(p, 4) for p in stability],
            "contributions": {k: round(v, 3) for k, v in contributions.items()},
            "model": model_info,
        },
    )


def _stability(rgb: np.ndarray, model: DetectorModel) -> list[float]:
    """Probabilities of two light reposts: a JPEG re-save at 85 and a 0.75× downscale.

    A small detector can flip with re-encoding; when its copies disagree, the answer is not
    to be trusted.
    """
    # The detector reads at most a 3×2 block of tiles around the centre; re-encoding more of a
    # large picture would only cost time and memory.
    h, w = rgb.shape[:2]
    ch, cw = min(h, 4 * TILE), min(w, 6 * TILE)
    y, x = (h - ch) // 2, (w - cw) // 2
    region = np.ascontiguousarray(rgb[y : y + ch, x : x + cw])
    copies = [jpeg(region, 85)]
    if min(region.shape[:2]) * 0.75 >= MIN_SIDE:
        copies.append(resize(region, 0.75))
    # Two central tiles per copy are enough to see a flip, at a third of the cost.
    return [model.probability(model.logit(extract_features(c, max_tiles=2))) for c in copies]


def _reliability(
    picture: Picture, probability: float, stability: list[float], threshold: float
) -> tuple[str, list[str]]:
    low: list[str] = []
    medium: list[str] = []
    side = min(picture.width, picture.height)
    if side < MIN_RELIABLE_SIDE:
        low.append("too_small")
    elif side < TILE:
        medium.append("small")
    quality = picture.jpeg.estimated_quality if picture.jpeg is not None else None
    if quality is not None and quality <= LOW_JPEG_QUALITY:
        low.append("heavily_compressed")
    elif quality is not None and quality < MEDIUM_JPEG_QUALITY:
        medium.append("compressed")
    scores = [probability, *stability]
    spread = max(scores) - min(scores)
    crosses = min(scores) < threshold <= max(scores)
    if spread >= UNSTABLE_SPREAD or (crosses and spread >= WOBBLY_SPREAD):
        low.append("unstable_under_reencoding")
    elif spread >= WOBBLY_SPREAD or crosses:
        medium.append("sensitive_to_reencoding")
    if low:
        return "low", low + medium
    if medium:
        return "medium", medium
    return "high", []


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
