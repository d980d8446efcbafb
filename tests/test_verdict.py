"""`verdict`: the rules one by one, and a summary that opens with what decided the label."""

from __future__ import annotations

import numpy as np

from photoloupe import verdict
from photoloupe.findings import Finding, Localization
from photoloupe.i18n import catalogue
from photoloupe.schema.report import AiMarker, C2paInfo, C2paStatus, Region


def _detector(decision: str, score: float = 0.2, reliability: str = "low") -> Finding:
    return Finding(
        score=score,
        notes=("The detector says so.",),
        codes=(f"detector_{decision.replace('-', '_')}",),
        details={"decision": decision, "threshold": 0.86, "reliability": reliability},
    )


def _edits() -> Localization:
    region = Region(box=(10, 10, 50, 50), score=0.9, methods=["noise", "jpeg_ghosts"])
    return Localization(0.97, 0.88, True, np.zeros((4, 4), np.float32), [region], ["noise"])


def test_an_edited_verdict_opens_with_the_editing_evidence() -> None:
    findings = {"ai_detector": _detector("inconclusive")}
    v, _, edited = verdict.judge(C2paInfo(present=False), [], findings, localization=_edits())
    assert v.label == "edited" and v.reasons == ["edited_regions"]
    assert v.summary.startswith("The pixel analyses, weighed together")
    assert v.summary_ar.startswith(catalogue("ar")["verdict.why.edited_regions"][:20])
    # The detector's sentence is still there, after the evidence.
    assert "cannot be relied on" in v.summary
    assert edited.evidence[0].code == "edited_regions"


def test_arabic_sentences_name_the_analyses_by_their_titles() -> None:
    findings = {"ai_detector": _detector("no-evidence", reliability="medium")}
    v, _, edited = verdict.judge(C2paInfo(present=False), [], findings, localization=_edits())
    ar = catalogue("ar")
    for text in (v.summary_ar, edited.evidence[0].message_ar or ""):
        assert "jpeg_ghosts" not in text and "noise" not in text
        assert ar["ui.analysis.jpeg_ghosts"] in text and ar["ui.analysis.noise"] in text
    # English keeps the analyses' report keys, which a reader can look up.
    assert "jpeg_ghosts, noise" in v.summary


def test_ai_evidence_outweighs_editing_and_comes_first() -> None:
    marker = AiMarker(kind="software", generator="Midjourney", where="XMP", value="Midjourney")
    c2pa = C2paInfo(
        present=True,
        valid=False,
        errors=[C2paStatus(code="assertion.dataHash.mismatch", explanation="changed")],
    )
    v, ai, edited = verdict.judge(c2pa, [marker], {"ai_detector": _detector("no-evidence")})
    assert v.label == "ai-generated" and ai.decision == "ai-generated"
    assert v.reasons == ["metadata_ai_marker", "c2pa_hash_mismatch"]
    assert [e.code for e in edited.evidence] == ["c2pa_hash_mismatch"]
    assert v.summary.index("Midjourney") < v.summary.index("no evidence of AI generation")


def test_without_evidence_the_label_follows_the_detector() -> None:
    none = verdict.judge(C2paInfo(present=False), [], {"ai_detector": _detector("no-evidence")})
    assert none[0].label == "no-evidence"
    unsure = verdict.judge(C2paInfo(present=False), [], {"ai_detector": _detector("x")})
    assert unsure[0].label == "inconclusive"
    assert unsure[0].summary.startswith(catalogue("en")["verdict.inconclusive.lead"])


def test_each_rule_alone() -> None:
    assert verdict.c2pa_ai_claim(C2paInfo(present=True, ai_generated_claim=False)).ai == []
    claim = verdict.c2pa_ai_claim(C2paInfo(present=True, valid=True, ai_generated_claim=True))
    assert claim.reasons == ["c2pa_ai_claim"] and claim.sentences[0].side == "ai"
    assert verdict.metadata_markers([]).sentences == []
    assert verdict.pixel_detector(None).sentences == []
    assert verdict.fused_edits(None).edit == []
    assert verdict.c2pa_hash_mismatch(C2paInfo(present=False)).edit == []
