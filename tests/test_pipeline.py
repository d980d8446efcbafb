"""The whole pipeline: reports validate, verdicts follow the evidence, and the corpus passes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import photoloupe
from photoloupe import pipeline
from photoloupe.errors import InputError
from photoloupe.findings import Finding
from photoloupe.i18n import catalogue
from photoloupe.schema.report import SCHEMA_ID, Report
from tests.conftest import ROOT, SHARED, manifest, needs_shared, shared_files

EXAMPLES = ROOT / "examples"
# Words a report must never use about a picture (see the brief: evidence, never verdicts).
FORBIDDEN = re.compile(r"\b(fake|fakes|real|proof|proves|proven|authentic|genuine)\b", re.I)


def _all_text(report: Report) -> list[str]:
    texts = [report.verdict.summary]
    texts += [e.message for e in report.ai_generated.evidence + report.edited.evidence]
    for analysis in report.analyses.values():
        texts += analysis.notes
    return texts


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def test_report_has_the_documented_shape() -> None:
    data = json.loads(photoloupe.check(EXAMPLES / "harbour.jpg").to_json())
    assert data["schema"] == SCHEMA_ID
    assert set(data["file"]) >= {"name", "sha256", "bytes", "format", "width", "height", "frames"}
    assert set(data["verdict"]) >= {"label", "summary", "summary_ar"}
    assert set(data["ai_generated"]) >= {
        "probability",
        "threshold",
        "decision",
        "reliability",
        "evidence",
        "model",
    }
    assert set(data["edited"]) >= {"probability", "map", "regions"}
    assert set(data["provenance"]) >= {"metadata", "c2pa", "ai_markers", "ai_mentions"}
    assert set(data["provenance"]["c2pa"]) >= {
        "present",
        "valid",
        "state",
        "signer",
        "claim_generator",
        "ai_generated_claim",
        "errors",
    }
    assert set(data["analyses"]["thumbnail"]) >= {"score", "map", "notes"}
    assert data["timings_ms"]["total"] > 0
    Report.model_validate(data)  # round trip through the public model


def test_the_verdict_says_what_was_checked_and_what_was_not() -> None:
    report = photoloupe.check(EXAMPLES / "harbour.jpg")
    assert report.ai_generated.probability is not None
    assert report.edited.probability is not None
    assert report.edited.threshold is not None
    assert report.edited.probability <= report.edited.threshold
    assert report.edited.regions == []
    assert report.verdict.label == "no-evidence"
    assert report.verdict.not_checked == []
    assert {"metadata", "c2pa", "ai_markers", "thumbnail", "ai_detector", "edit_localizer"} <= set(
        report.verdict.checked
    )
    assert "not part of this version" not in report.verdict.summary
    assert "pixel-level AI detector" in report.verdict.summary
    assert report.verdict.summary_ar and report.verdict.summary_ar != report.verdict.summary


def test_without_a_usable_detector_the_verdict_is_inconclusive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil
    from importlib import resources

    from photoloupe.detect import ensemble

    # Real tampered files through the real loader; detector 2 stays loadable, so a silent
    # fallback to it would show as a probability here.
    tampered = tmp_path / "weights"
    tampered.mkdir()
    shipped = resources.files("photoloupe.detect").joinpath("weights")
    for name in (ensemble.WEIGHTS_FILE, ensemble.MANIFEST_FILE):
        with resources.as_file(shipped.joinpath(name)) as path:
            shutil.copy(path, tampered / name)
    blob = bytearray((tampered / ensemble.WEIGHTS_FILE).read_bytes())
    blob[-100] ^= 0x01
    (tampered / ensemble.WEIGHTS_FILE).write_bytes(bytes(blob))
    monkeypatch.setattr(ensemble, "_packaged", lambda: ensemble.load_detector3(str(tampered)))
    report = photoloupe.check(EXAMPLES / "harbour.jpg")
    assert report.ai_generated.probability is None
    assert report.verdict.label == "inconclusive"
    assert "ai_detector" in report.verdict.not_checked
    assert report.analyses["ai_detector"].codes == ["analysis_failed"]
    assert any("ai_detector" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("name", "label", "reason"),
    [
        ("harbour.jpg", "no-evidence", None),
        ("harbour-edited.jpg", "edited", "thumbnail_local_mismatch"),
        ("diffusion-parameters.png", "ai-generated", "metadata_ai_marker"),
        ("content-credentials-ai.jpg", "ai-generated", "c2pa_ai_claim"),
    ],
)
def test_demo_verdicts(name: str, label: str, reason: str | None) -> None:
    report = photoloupe.check(EXAMPLES / name)
    assert report.verdict.label == label
    if reason:
        assert reason in report.verdict.reasons


def test_a_signed_but_untrusted_ai_declaration_is_medium_reliability() -> None:
    # Anyone can mint a certificate chain (demo_signing does): intact is not trusted.
    report = photoloupe.check(EXAMPLES / "content-credentials-ai.jpg")
    assert report.provenance.c2pa.valid is True
    assert report.provenance.c2pa.trusted is False
    assert report.ai_generated.reliability == "medium"
    assert report.ai_generated.decision == "ai-generated"
    assert "cannot be confirmed" in report.verdict.summary


def test_a_trusted_ai_declaration_is_high_reliability() -> None:
    from photoloupe.provenance.demo_signing import make_throwaway_chain, sign

    chain = make_throwaway_chain("newsroom test")
    action = {
        "action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/"
        "trainedAlgorithmicMedia",
    }
    manifest = {"assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}]}
    data = sign(_jpeg((96, 64)), "image/jpeg", manifest, chain)
    options = photoloupe.Options(trust_anchors_pem=chain.root_pem)
    report = photoloupe.check(data, name="x.jpg", options=options)
    assert report.provenance.c2pa.trusted is True
    assert report.ai_generated.reliability == "high"
    assert "trust list" in report.verdict.summary


def test_unsigned_metadata_declaration_is_medium_reliability() -> None:
    report = photoloupe.check(EXAMPLES / "diffusion-parameters.png")
    assert report.ai_generated.reliability == "medium"
    assert report.provenance.ai_markers[0].where == "PNG text chunk 'parameters'"


def test_bytes_and_path_give_the_same_findings() -> None:
    path = EXAMPLES / "harbour-edited.jpg"
    from_path = photoloupe.check(path)
    from_bytes = photoloupe.check(path.read_bytes(), name=path.name)
    assert from_bytes.path is None
    assert from_bytes.file == from_path.file
    assert from_bytes.verdict == from_path.verdict


def test_bad_input_raises_input_error_with_a_code() -> None:
    with pytest.raises(InputError) as info:
        photoloupe.check(b"\x00" * 100, name="zeros.jpg")
    assert info.value.code and info.value.message


def test_a_crashing_analysis_costs_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: Any) -> Finding:
        raise RuntimeError("boom")

    spec = pipeline.AnalysisSpec(name="broken", run=broken)
    monkeypatch.setattr(pipeline, "ANALYSES", (*pipeline.ANALYSES, spec))
    report = photoloupe.check(_jpeg(), name="x.jpg")
    assert report.analyses["broken"].codes == ["analysis_failed"]
    assert report.analyses["broken"].score is None
    assert any("broken" in w for w in report.warnings)
    assert "thumbnail" in report.analyses


def test_preview_is_in_display_orientation_and_can_be_turned_off() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    buf = io.BytesIO()
    Image.new("RGB", (80, 40), (10, 200, 10)).save(buf, "JPEG", exif=exif.tobytes())
    report = photoloupe.check(buf.getvalue(), name="x.jpg")
    assert (report.file.width, report.file.height, report.file.orientation) == (80, 40, 6)
    assert report.preview is not None and report.preview.shape[:2] == (80, 40)
    lean = photoloupe.check(buf.getvalue(), name="x.jpg", options=photoloupe.Options(preview=False))
    assert lean.preview is None


def test_no_forbidden_words_in_demo_reports() -> None:
    for path in sorted(EXAMPLES.glob("*.*")):
        if path.suffix in (".jpg", ".png"):
            for text in _all_text(photoloupe.check(path)):
                assert not FORBIDDEN.search(text), text


# --- The corpus ------------------------------------------------------------------------------


def _corpus() -> list[Path]:
    return shared_files("metadata") + shared_files("c2pa")


@needs_shared
@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_every_metadata_and_c2pa_file_gives_a_report_or_a_clean_error(path: Path) -> None:
    try:
        report = photoloupe.check(path)
    except InputError as exc:
        assert exc.code and exc.message
        return
    Report.model_validate_json(report.to_json())
    for text in _all_text(report):
        assert not FORBIDDEN.search(text), text


@needs_shared
def test_signed_fixtures_report_a_manifest_and_bing_declares_ai() -> None:
    entries = manifest()
    signed = [
        p
        for p in shared_files("c2pa/signed")
        # One file in signed/ is c2pa-rs's `no_manifest.jpg`: it has no manifest by design.
        if "no_manifest" not in entries[str(p.relative_to(SHARED))]["source_path"]
    ]
    assert len(signed) >= 14
    for path in signed:
        assert photoloupe.check(path).provenance.c2pa.present is True, path.name
    bing = photoloupe.check(SHARED / "c2pa/signed/c2pa-extension-validator-a0de05cb8b.jpg")
    assert bing.provenance.c2pa.ai_generated_claim is True
    assert bing.verdict.label == "ai-generated"


@needs_shared
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("c2pa-python-20dc072a4c.jpg", "claimSignature.mismatch"),
        ("c2pa-python-81f20702a2.jpg", "assertion.dataHash.mismatch"),
    ],
)
def test_broken_fixtures_are_invalid_with_their_codes(name: str, code: str) -> None:
    c2pa = photoloupe.check(SHARED / "c2pa/signed" / name).provenance.c2pa
    assert c2pa.present is True
    assert c2pa.valid is False
    assert code in {e.code for e in c2pa.errors}


@needs_shared
def test_a_data_hash_mismatch_is_evidence_of_editing() -> None:
    report = photoloupe.check(SHARED / "c2pa/signed/c2pa-python-81f20702a2.jpg")
    assert report.verdict.label == "edited"
    assert "c2pa_hash_mismatch" in report.verdict.reasons


@needs_shared
@pytest.mark.parametrize("path", shared_files("real/full"), ids=lambda p: p.name)
def test_camera_originals_are_never_labelled_edited_or_ai(path: Path) -> None:
    report = photoloupe.check(path)
    assert report.verdict.label in ("no-evidence", "inconclusive")
    assert report.provenance.metadata["thumbnail"]["matches"] is True


def test_findings_and_evidence_carry_arabic_text() -> None:
    from photoloupe.i18n import catalogue

    report = photoloupe.check(EXAMPLES / "harbour-edited.jpg")
    ar = catalogue("ar")
    code = report.analyses["thumbnail"].codes[0]
    assert report.analyses["thumbnail"].notes_ar == [ar[f"finding.{code}"]]
    assert [e.message_ar for e in report.edited.evidence] == [ar[f"finding.{code}"]]
    marker = photoloupe.check(EXAMPLES / "diffusion-parameters.png").ai_generated.evidence[0]
    assert marker.message_ar and "PNG text chunk 'parameters'" in marker.message_ar


@pytest.mark.parametrize("name", ["harbour.jpg", "harbour-edited.jpg", "diffusion-parameters.png"])
def test_every_registered_analysis_appears_in_every_report(name: str) -> None:
    report = photoloupe.check(EXAMPLES / name, options=pipeline.Options(preview=False))
    assert list(report.analyses) == [spec.name for spec in pipeline.ANALYSES]
    assert report.warnings == []  # none of them crashed
    assert "edit_localizer" in report.verdict.checked
    assert report.edited.probability is not None and 0 <= report.edited.probability <= 1
    assert "edited" in report.maps


def test_a_local_analysis_marking_an_area_says_it_is_only_one_input() -> None:
    marked = pipeline._as_reported(
        {"noise": Finding(score=0.9, notes=("An area.",), codes=("noise_inconsistent_area",))},
        None,
    )["noise"]
    assert marked.codes[-1] == pipeline.CAVEAT_CODE and len(marked.notes) == 2
    plain = Finding(score=0.0, notes=("None.",), codes=("noise_consistent",))
    assert pipeline._as_reported({"noise": plain}, None)["noise"] is plain
    # The codes come from the registry: another analysis's area code is not this one's.
    other = Finding(score=0.9, notes=("An area.",), codes=("ela_bright_area",))
    assert pipeline._as_reported({"noise": other}, None)["noise"] is other


def test_a_new_local_analysis_without_fusion_weights_is_reported_and_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def bright_corner(context: Any) -> Finding:
        heat = np.zeros((context.picture.height // 8, context.picture.width // 8), np.float32)
        heat[:10, :10] = 1.0
        return Finding(score=0.9, map=heat, notes=("A corner.",), codes=("corner_area",))

    plain = photoloupe.check(EXAMPLES / "harbour.jpg", options=pipeline.Options(preview=False))
    spec = pipeline.AnalysisSpec("corner", bright_corner, kind="local")
    monkeypatch.setattr(pipeline, "ANALYSES", (*pipeline.ANALYSES, spec))
    report = photoloupe.check(EXAMPLES / "harbour.jpg", options=pipeline.Options(preview=False))
    entry = report.analyses["corner"]
    assert entry.codes == ["corner_area", pipeline.UNWEIGHTED_CODE]
    assert entry.notes[-1] == pipeline.UNWEIGHTED_NOTE
    assert entry.notes_ar == [catalogue("ar")["finding.not_in_fusion"]]
    assert report.warnings == [] and "corner" in report.maps
    # Not counted: the edit map and probability are those of a report without it.
    assert report.edited.probability == plain.edited.probability
    np.testing.assert_array_equal(report.maps["edited"], plain.maps["edited"])


def test_a_crashing_fusion_costs_only_edit_localisation(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "fuse", broken)
    report = photoloupe.check(EXAMPLES / "harbour.jpg", options=pipeline.Options(preview=False))
    assert "edit_localizer" in report.verdict.not_checked
    assert report.edited.probability is None and "edited" not in report.maps
    assert any("Edit localisation failed" in w for w in report.warnings)
    assert report.verdict.label == "no-evidence"
