"""Fusion of evidence into the report's three judgements: AI generation, editing, verdict.

The rules are few and written out so a reader can check them:
- evidence of AI generation: Content Credentials that declare it, or generator traces in the
  metadata;
- evidence of editing: an embedded thumbnail that no longer shows the picture, Content
  Credentials whose hashes no longer match the file, or the fused edit map of the local
  analyses (`localize.py`) above its threshold, or a verified copy-move pair;
- without a pixel-level detector, the absence of evidence is "inconclusive", never
  "no-evidence": photoloupe says what it checked and what it did not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from photoloupe.findings import Finding
from photoloupe.i18n import catalogue, t
from photoloupe.localize import Localization
from photoloupe.schema.report import (
    AiGenerated,
    AiMarker,
    Attribution,
    C2paInfo,
    Edited,
    Evidence,
    ModelInfo,
    Reliability,
    Verdict,
    VerdictLabel,
)

# C2PA failure codes meaning the file's bytes changed after signing.
_HASH_MISMATCH_CODES = (
    "assertion.dataHash.mismatch",
    "assertion.bmffHash.mismatch",
    "assertion.boxesHash.mismatch",
    "assertion.collectionHash.mismatch",
)


def judge(
    c2pa: C2paInfo,
    markers: Sequence[AiMarker],
    findings: Mapping[str, Finding],
    *,
    metadata_readable: bool = True,
    localization: Localization | None = None,
) -> tuple[Verdict, AiGenerated, Edited]:
    """Turn provenance and analysis findings into the verdict, in English and Arabic.

    `metadata_readable` is False when no metadata could be read at all: then the verdict must
    not claim it was checked.
    """
    checked = ["c2pa"]
    not_checked: list[str] = []
    (checked if metadata_readable else not_checked).extend(["metadata", "ai_markers"])
    thumbnail = findings.get("thumbnail")
    compared = thumbnail is not None and thumbnail.score is not None
    (checked if compared else not_checked).append("thumbnail")
    detector = findings.get("ai_detector")
    detector_ran = detector is not None and detector.score is not None
    (checked if detector_ran else not_checked).append("ai_detector")
    localized = localization is not None and localization.probability is not None
    (checked if localized else not_checked).append("edit_localizer")
    ai_evidence: list[Evidence] = []
    why: list[str] = []  # translation keys with their values, in order of weight
    why_values: list[dict[str, object]] = []
    reasons: list[str] = []

    if c2pa.ai_generated_claim:
        state = "trusted" if c2pa.trusted else "valid" if c2pa.valid else "invalid"
        key = f"verdict.why.c2pa_ai_claim.{state}"
        ai_evidence.append(
            Evidence(source="c2pa", code="c2pa_ai_claim", message=t(key), message_ar=t(key, "ar"))
        )
        why.append(key)
        why_values.append({})
        reasons.append("c2pa_ai_claim")
    if markers:
        generators = sorted({m.generator or m.kind for m in markers})
        places = sorted({m.where for m in markers})
        for marker in markers:
            values = {"generator": marker.generator or marker.kind, "where": marker.where}
            ai_evidence.append(
                Evidence(
                    source="metadata",
                    code="metadata_ai_marker",
                    message=t("evidence.metadata_ai_marker", "en", **values),
                    message_ar=t("evidence.metadata_ai_marker", "ar", **values),
                )
            )
        why.append("verdict.why.metadata_ai_marker")
        why_values.append({"generators": ", ".join(generators), "where": ", ".join(places)})
        reasons.append("metadata_ai_marker")

    detector_decision = str(detector.details.get("decision")) if detector is not None else None
    if detector is not None and detector.score is not None:
        values = {
            "probability": f"{detector.score:.0%}",
            "threshold": f"{float(str(detector.details['threshold'])):.0%}",
        }
        # Said as the verdict will report it: the detector alone is never "high" (see below).
        reliability_word = "low" if detector.details["reliability"] == "low" else "medium"
        key = {
            "ai-generated": "verdict.why.detector_ai",
            "no-evidence": "verdict.why.detector_none",
        }.get(detector_decision or "", "verdict.why.detector_unreliable")
        if detector_decision == "ai-generated":
            ai_evidence.append(
                Evidence(
                    source="ai_detector",
                    code="detector_ai_generated",
                    message=" ".join(detector.notes),
                    message_ar=t(
                        key, "ar", **values, reliability=t(f"reliability.{reliability_word}", "ar")
                    ),
                )
            )
            reasons.append("detector_ai_generated")
        why.append(key)
        why_values.append({**values, "reliability": f"reliability.{reliability_word}"})

    edit_evidence: list[Evidence] = []
    for name, finding in findings.items():
        if finding.evidence_of == "editing":
            for code in finding.codes:
                edit_evidence.append(
                    Evidence(
                        source=name,
                        code=code,
                        message=" ".join(finding.notes),
                        message_ar=translated_notes(finding, "ar")[0],
                    )
                )
            if name == "thumbnail":
                why.append("verdict.why.thumbnail_mismatch")
                why_values.append({})
            reasons.extend(finding.codes)
    if localization is not None and localization.decision:
        methods = sorted({m for r in localization.regions for m in r.methods})
        edit_values: dict[str, object] = {
            "probability": f"{localization.probability or 0:.0%}",
            "regions": len(localization.regions),
            "methods": ", ".join(methods) or "fusion",
        }
        edit_evidence.append(
            Evidence(
                source="edit_localizer",
                code="edited_regions",
                message=t("verdict.why.edited_regions", "en", **edit_values),
                message_ar=t("verdict.why.edited_regions", "ar", **edit_values),
            )
        )
        why.append("verdict.why.edited_regions")
        why_values.append(edit_values)
        reasons.append("edited_regions")
    hash_codes = [e.code for e in c2pa.errors if e.code in _HASH_MISMATCH_CODES]
    if c2pa.present and c2pa.valid is False and hash_codes:
        edit_evidence.append(
            Evidence(
                source="c2pa",
                code="c2pa_hash_mismatch",
                message=t("verdict.why.c2pa_invalid", "en", codes=", ".join(hash_codes)),
                message_ar=t("verdict.why.c2pa_invalid", "ar", codes=", ".join(hash_codes)),
            )
        )
        why.append("verdict.why.c2pa_invalid")
        why_values.append({"codes": ", ".join(hash_codes)})
        reasons.append("c2pa_hash_mismatch")

    label: VerdictLabel
    if ai_evidence:
        label = "ai-generated"
    elif edit_evidence:
        label = "edited"
    elif detector_decision == "no-evidence":
        label = "no-evidence"
    else:
        label = "inconclusive"

    def summary(lang: str) -> str:
        parts: list[str] = []
        if label in ("inconclusive", "no-evidence"):
            if label == "inconclusive":
                parts.append(t("verdict.inconclusive.lead", lang))
            sep = "، " if lang == "ar" else ", "
            places = sep.join(t(f"verdict.checked.{item}", lang) for item in checked)
            parts.append(t("verdict.why.nothing_found", lang, checked=places))
        for key, values in zip(why, why_values, strict=True):
            # Values naming a catalogue key ("reliability.high") are translated too.
            shown = {
                k: t(str(v), lang) if str(v).startswith("reliability.") else v
                for k, v in values.items()
            }
            parts.append(t(key, lang, **shown))
        if detector_ran:
            parts.append(t("verdict.detector_caveat", lang))
        parts.extend(t(f"verdict.not_run.{item}", lang) for item in not_checked)
        return " ".join(parts)

    reliability: Reliability
    # Anyone can sign with a certificate of their own making, so only a signer on a trust list
    # the user configured makes a declaration highly reliable.
    declared = bool(markers) or c2pa.ai_generated_claim
    if c2pa.ai_generated_claim and c2pa.trusted:
        reliability = "high"
    elif declared:
        reliability = "medium"
    elif detector_ran and detector is not None:
        # The pixel detector alone never makes an answer highly reliable: its measured error
        # rates on unseen generators (model card) are too high for that, whatever the picture.
        found = _reliability(detector.details.get("reliability"))
        reliability = "low" if found == "low" else "medium"
    else:
        reliability = "low"
    decision: Literal["ai-generated", "no-evidence", "inconclusive"] = "inconclusive"
    if ai_evidence:
        decision = "ai-generated"
    elif detector_decision == "no-evidence":
        decision = "no-evidence"
    model = None
    if detector is not None and isinstance(detector.details.get("model"), dict):
        info = detector.details["model"]
        assert isinstance(info, dict)
        model = ModelInfo(
            name=str(info["name"]), version=str(info["version"]), sha256=str(info["sha256"])
        )
    verdict = Verdict(
        label=label,
        summary=summary("en"),
        summary_ar=summary("ar"),
        reasons=reasons,
        checked=checked,
        not_checked=not_checked,
    )
    threshold = detector.details.get("threshold") if detector is not None else None
    ai = AiGenerated(
        probability=round(detector.score, 4)
        if detector_ran and detector is not None and detector.score is not None
        else None,
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        decision=decision,
        reliability=reliability,
        evidence=ai_evidence,
        model=model,
        detectors=_detector_probabilities(detector) if detector_ran else {},
        attribution=_attribution(detector) if detector_ran else None,
        fallback=_fallback(detector),
    )
    edited = Edited(
        probability=localization.probability if localization is not None else None,
        threshold=localization.threshold if localized and localization is not None else None,
        map=None,
        regions=localization.regions if localization is not None else [],
        evidence=edit_evidence,
    )
    return verdict, ai, edited


def _reliability(value: object) -> Reliability:
    if value == "high":
        return "high"
    if value == "medium":
        return "medium"
    return "low"


def translated_notes(finding: Finding, lang: str) -> list[str]:
    """A finding's notes in `lang`: one sentence per code that the catalogue knows, else the
    English notes (a new analysis without translations still says something)."""
    if lang == "en":
        return list(finding.notes)
    known = [f"finding.{code}" for code in finding.codes if f"finding.{code}" in catalogue(lang)]
    return [t(key, lang) for key in known] or list(finding.notes) or [""]


def _detector_probabilities(detector: Finding | None) -> dict[str, float]:
    """Each pixel model's own probability, as the detector reported them."""
    raw = detector.details.get("detectors") if detector is not None else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}


def _fallback(detector: Finding | None) -> str | None:
    raw = detector.details.get("fallback") if detector is not None else None
    return str(raw) if raw else None


def _attribution(detector: Finding | None) -> Attribution | None:
    raw = detector.details.get("attribution") if detector is not None else None
    return Attribution.model_validate(raw) if isinstance(raw, dict) else None
