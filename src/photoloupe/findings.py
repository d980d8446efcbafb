"""What the analyses and the fusion return: `Finding` (one analysis), `Localization` (the
fusion of the local analyses' maps), and `DetectorResult`, the typed view of the AI
detector's finding that the verdict reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from photoloupe.schema.report import Region


@dataclass(frozen=True)
class Finding:
    """What one analysis says about one picture.

    score: strength of the evidence this analysis is built to find, in [0, 1], or None when the
        analysis could not judge (too small, wrong format, nothing to compare).
    map: an optional float32 array in [0, 1], at any resolution, brighter = more suspicious.
    notes: plain-language sentences for the report, in English (renderers translate by `codes`).
    codes: stable identifiers of what was found, for translations and for machines.
    evidence_of: "editing", "ai-generation" or None when the finding is informational only.
    reliability: an optional float32 array in [0, 1] beside `map`, for analyses that know where
        they can read the picture at all (1 = the map can be trusted here, 0 = not measurable).
    """

    score: float | None
    notes: tuple[str, ...] = ()
    map: npt.NDArray[np.float32] | None = None
    codes: tuple[str, ...] = ()
    evidence_of: str | None = None
    details: dict[str, object] = field(default_factory=dict)
    reliability: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class Localization:
    """What the fusion concludes about editing."""

    probability: float | None
    threshold: float
    decision: bool  # evidence of editing
    map: npt.NDArray[np.float32] | None  # one value per fusion block, in [0, 1]
    regions: list[Region]
    methods_run: list[str]
    # Local analyses that left a map the fusion has no learned weight for (not counted).
    unweighted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DetectorResult:
    """The AI detector's finding as the verdict reads it, typed.

    decision: "ai-generated", "no-evidence" or "inconclusive" (as the detector wrote it).
    model: name, version and sha256 of the detector that ran, when it says so.
    detectors: each branch's own probability. attribution: the nearest generator family (only
    with evidence of AI generation). fallback: why detector 2 ran instead of detector 3.
    """

    probability: float | None
    threshold: float | None
    decision: str
    reliability: str
    notes: tuple[str, ...]
    model: dict[str, str] | None
    detectors: dict[str, float]
    attribution: dict[str, object] | None
    fallback: str | None

    @property
    def ran(self) -> bool:
        """Whether the detector gave a probability (it was not too small, nor failed)."""
        return self.probability is not None

    @classmethod
    def of(cls, finding: Finding | None) -> DetectorResult | None:
        """The typed view of the detector's `Finding` (None when there is none)."""
        if finding is None:
            return None
        d = finding.details
        threshold, model, raw, attribution = (
            d.get("threshold"),
            d.get("model"),
            d.get("detectors"),
            d.get("attribution"),
        )
        return cls(
            probability=finding.score,
            threshold=float(threshold) if isinstance(threshold, int | float) else None,
            decision=str(d.get("decision")),
            reliability=str(d.get("reliability")),
            notes=finding.notes,
            model={str(k): str(v) for k, v in model.items()} if isinstance(model, dict) else None,
            detectors={str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
            if isinstance(raw, dict)
            else {},
            attribution=dict(attribution) if isinstance(attribution, dict) else None,
            fallback=str(d["fallback"]) if d.get("fallback") else None,
        )
