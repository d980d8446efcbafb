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
from dataclasses import dataclass, field
from typing import Literal

from photoloupe.findings import DetectorResult, Finding, Localization
from photoloupe.i18n import catalogue, t
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


Side = Literal["ai", "edit", "none"]


@dataclass(frozen=True)
class Sentence:
    """One sentence of the summary: a catalogue key, its values, and the judgement it bears on
    ("ai", "edit", or "none" for what the pixel detector found no evidence of)."""

    key: str
    values: dict[str, object] = field(default_factory=dict)
    side: Side = "none"

    def text(self, lang: str) -> str:
        # Values naming a catalogue key ("reliability.high", "ui.analysis.noise") are
        # translated too: no internal name reaches a sentence in another language.
        shown = {
            k: t(str(v), lang) if str(v).startswith(_TRANSLATED_VALUES) else v
            for k, v in self.values.items()
        }
        if "methods" in shown and isinstance(self.values["methods"], tuple):
            sep = "، " if lang == "ar" else ", "
            names = self.values["methods"]
            shown["methods"] = sep.join(_method_name(m, lang) for m in names) or "fusion"
        return t(self.key, lang, **shown)


_TRANSLATED_VALUES = ("reliability.",)


def _method_name(name: str, lang: str) -> str:
    """An analysis's name in a sentence: as named in the report in English (a stable code a
    reader can look up), its title in the catalogue otherwise."""
    if lang == "en":
        return name
    key = f"ui.analysis.{name}"
    return t(key, lang) if key in catalogue(lang) else name


@dataclass
class Found:
    """What one rule found: evidence for a judgement, the sentences that explain it, and the
    stable codes of `verdict.reasons`."""

    ai: list[Evidence] = field(default_factory=list)
    edit: list[Evidence] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, other: Found) -> None:
        self.ai += other.ai
        self.edit += other.edit
        self.sentences += other.sentences
        self.reasons += other.reasons


def _both(key: str, **values: object) -> tuple[str, str]:
    return t(key, "en", **values), t(key, "ar", **values)


def c2pa_ai_claim(c2pa: C2paInfo) -> Found:
    """Content Credentials that declare AI generation (how much they count depends on who
    signed them)."""
    if not c2pa.ai_generated_claim:
        return Found()
    state = "trusted" if c2pa.trusted else "valid" if c2pa.valid else "invalid"
    key = f"verdict.why.c2pa_ai_claim.{state}"
    en, ar = _both(key)
    evidence = Evidence(source="c2pa", code="c2pa_ai_claim", message=en, message_ar=ar)
    return Found(ai=[evidence], sentences=[Sentence(key, side="ai")], reasons=["c2pa_ai_claim"])


def metadata_markers(markers: Sequence[AiMarker]) -> Found:
    """Generator traces in the metadata: one evidence item per marker, one sentence."""
    if not markers:
        return Found()
    found = Found(reasons=["metadata_ai_marker"])
    for marker in markers:
        values = {"generator": marker.generator or marker.kind, "where": marker.where}
        en, ar = _both("evidence.metadata_ai_marker", **values)
        found.ai.append(
            Evidence(source="metadata", code="metadata_ai_marker", message=en, message_ar=ar)
        )
    generators = sorted({m.generator or m.kind for m in markers})
    places = sorted({m.where for m in markers})
    joined: dict[str, object] = {"generators": ", ".join(generators), "where": ", ".join(places)}
    found.sentences.append(Sentence("verdict.why.metadata_ai_marker", joined, "ai"))
    return found


def pixel_detector(detector: DetectorResult | None) -> Found:
    """The AI detector's estimate: evidence only when it decided "ai-generated"; a sentence
    in every case where it gave a probability."""
    if detector is None or detector.probability is None or detector.threshold is None:
        return Found()
    values: dict[str, object] = {
        "probability": f"{detector.probability:.0%}",
        "threshold": f"{detector.threshold:.0%}",
    }
    # Said as the verdict will report it: the detector alone is never "high" (see `judge`).
    reliability_word = "low" if detector.reliability == "low" else "medium"
    key = {
        "ai-generated": "verdict.why.detector_ai",
        "no-evidence": "verdict.why.detector_none",
    }.get(detector.decision, "verdict.why.detector_unreliable")
    found = Found()
    if detector.decision == "ai-generated":
        reliability_ar = t(f"reliability.{reliability_word}", "ar")
        found.ai.append(
            Evidence(
                source="ai_detector",
                code="detector_ai_generated",
                message=" ".join(detector.notes),
                message_ar=t(key, "ar", **values, reliability=reliability_ar),
            )
        )
        found.reasons.append("detector_ai_generated")
    side: Side = "ai" if detector.decision == "ai-generated" else "none"
    found.sentences.append(
        Sentence(key, {**values, "reliability": f"reliability.{reliability_word}"}, side)
    )
    return found


def editing_findings(findings: Mapping[str, Finding]) -> Found:
    """Analyses that are evidence of editing on their own (the thumbnail check)."""
    found = Found()
    for name, finding in findings.items():
        if finding.evidence_of != "editing":
            continue
        for code in finding.codes:
            found.edit.append(
                Evidence(
                    source=name,
                    code=code,
                    message=" ".join(finding.notes),
                    message_ar=translated_notes(finding, "ar")[0],
                )
            )
        if name == "thumbnail":
            found.sentences.append(Sentence("verdict.why.thumbnail_mismatch", side="edit"))
        found.reasons.extend(finding.codes)
    return found


def fused_edits(localization: Localization | None) -> Found:
    """The fused edit map above its threshold (or a verified copy-move pair)."""
    if localization is None or not localization.decision:
        return Found()
    methods = tuple(sorted({m for r in localization.regions for m in r.methods}))
    sentence = Sentence(
        "verdict.why.edited_regions",
        {
            "probability": f"{localization.probability or 0:.0%}",
            "regions": len(localization.regions),
            "methods": methods,
        },
        "edit",
    )
    evidence = Evidence(
        source="edit_localizer",
        code="edited_regions",
        message=sentence.text("en"),
        message_ar=sentence.text("ar"),
    )
    return Found(edit=[evidence], sentences=[sentence], reasons=["edited_regions"])


def c2pa_hash_mismatch(c2pa: C2paInfo) -> Found:
    """Content Credentials whose recorded fingerprints no longer match the file's bytes."""
    hash_codes = [e.code for e in c2pa.errors if e.code in _HASH_MISMATCH_CODES]
    if not (c2pa.present and c2pa.valid is False and hash_codes):
        return Found()
    codes = ", ".join(hash_codes)
    en, ar = _both("verdict.why.c2pa_invalid", codes=codes)
    evidence = Evidence(source="c2pa", code="c2pa_hash_mismatch", message=en, message_ar=ar)
    sentence = Sentence("verdict.why.c2pa_invalid", {"codes": codes}, "edit")
    return Found(edit=[evidence], sentences=[sentence], reasons=["c2pa_hash_mismatch"])


def label_of(found: Found, detector_decision: str | None) -> VerdictLabel:
    """AI evidence outweighs editing evidence; without either, only a detector that ran and
    found nothing gives "no-evidence"."""
    if found.ai:
        return "ai-generated"
    if found.edit:
        return "edited"
    if detector_decision == "no-evidence":
        return "no-evidence"
    return "inconclusive"


def summary(
    label: VerdictLabel,
    found: Found,
    checked: Sequence[str],
    not_checked: Sequence[str],
    detector_ran: bool,
    lang: str,
) -> str:
    """The verdict in sentences: first the evidence that decided the label, then the rest,
    then the detector's caveat and what was not checked."""
    parts: list[str] = []
    if label in ("inconclusive", "no-evidence"):
        if label == "inconclusive":
            parts.append(t("verdict.inconclusive.lead", lang))
        sep = "، " if lang == "ar" else ", "
        places = sep.join(t(f"verdict.checked.{item}", lang) for item in checked)
        parts.append(t("verdict.why.nothing_found", lang, checked=places))
    deciding = {"ai-generated": "ai", "edited": "edit"}.get(label)
    ordered = sorted(found.sentences, key=lambda s: s.side != deciding)  # stable
    parts.extend(s.text(lang) for s in ordered)
    if detector_ran:
        parts.append(t("verdict.detector_caveat", lang))
    parts.extend(t(f"verdict.not_run.{item}", lang) for item in not_checked)
    return " ".join(parts)


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
    detector = DetectorResult.of(findings.get("ai_detector"))
    detector_ran = detector is not None and detector.ran
    (checked if detector_ran else not_checked).append("ai_detector")
    localized = localization is not None and localization.probability is not None
    (checked if localized else not_checked).append("edit_localizer")

    found = Found()
    for part in (
        c2pa_ai_claim(c2pa),
        metadata_markers(markers),
        pixel_detector(detector),
        editing_findings(findings),
        fused_edits(localization),
        c2pa_hash_mismatch(c2pa),
    ):
        found.add(part)
    detector_decision = detector.decision if detector is not None else None
    label = label_of(found, detector_decision)

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
        reliability = "low" if _reliability(detector.reliability) == "low" else "medium"
    else:
        reliability = "low"
    decision: Literal["ai-generated", "no-evidence", "inconclusive"] = "inconclusive"
    if found.ai:
        decision = "ai-generated"
    elif detector_decision == "no-evidence":
        decision = "no-evidence"
    model = None
    if detector is not None and detector.model is not None:
        info = detector.model
        model = ModelInfo(name=info["name"], version=info["version"], sha256=info["sha256"])
    verdict = Verdict(
        label=label,
        summary=summary(label, found, checked, not_checked, detector_ran, "en"),
        summary_ar=summary(label, found, checked, not_checked, detector_ran, "ar"),
        reasons=found.reasons,
        checked=checked,
        not_checked=not_checked,
    )
    ai = AiGenerated(
        probability=round(detector.probability, 4)
        if detector is not None and detector.probability is not None
        else None,
        threshold=detector.threshold if detector is not None else None,
        decision=decision,
        reliability=reliability,
        evidence=found.ai,
        model=model,
        detectors=detector.detectors if detector is not None and detector_ran else {},
        attribution=Attribution.model_validate(detector.attribution)
        if detector is not None and detector_ran and detector.attribution is not None
        else None,
        fallback=detector.fallback if detector is not None else None,
    )
    edited = Edited(
        probability=localization.probability if localization is not None else None,
        threshold=localization.threshold if localized and localization is not None else None,
        map=None,
        regions=localization.regions if localization is not None else [],
        evidence=found.edit,
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
