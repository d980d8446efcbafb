"""The archive's keys: PDQ hashes, local features and the global descriptor."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from photoloupe.archive.features import local_features, pdq_dihedral, pdq_hash
from photoloupe.archive.vocabulary import SHIPPED, Vocabulary
from tests.archive.conftest import scene


def _hamming(a: bytes, b: bytes) -> int:
    return int(
        np.unpackbits(
            np.frombuffer(bytes(x ^ y for x, y in zip(a, b, strict=True)), np.uint8)
        ).sum()
    )


def test_pdq_survives_resizing_and_tells_pictures_apart() -> None:
    pic = scene(1)
    small = cv2.resize(pic, (320, 240), interpolation=cv2.INTER_AREA)
    h1, quality = pdq_hash(pic)
    h2, _ = pdq_hash(small)
    other, _ = pdq_hash(scene(2))
    assert len(h1) == 32 and 0 <= quality <= 100
    assert _hamming(h1, h2) <= 31
    assert _hamming(h1, other) > 64


def test_pdq_dihedral_variants_cover_a_mirror_and_a_quarter_turn() -> None:
    pic = scene(3)
    variants = pdq_dihedral(pic)
    assert len(variants) == 8
    for turned in (np.ascontiguousarray(pic[:, ::-1]), np.ascontiguousarray(np.rot90(pic))):
        own, _ = pdq_hash(turned)
        assert min(_hamming(own, v) for v in variants) <= 31
        assert _hamming(own, variants[0]) > 31  # the plain hash alone would miss it


def test_mirrored_features_match_a_detection_on_the_mirror_image() -> None:
    pic = scene(4)
    mirrored = local_features(pic).mirrored()
    direct = local_features(np.ascontiguousarray(pic[:, ::-1]))
    matcher = cv2.BFMatcher(cv2.NORM_L2, crossCheck=True)
    matches = matcher.match(
        mirrored.descriptors.astype(np.float32), direct.descriptors.astype(np.float32)
    )
    close = [
        m for m in matches
        if np.linalg.norm(mirrored.points[m.queryIdx] - direct.points[m.trainIdx]) < 2
    ]  # fmt: skip
    assert len(close) > 0.5 * min(len(mirrored), len(direct))


def test_features_are_in_stored_pixels_whatever_the_working_size() -> None:
    big = cv2.resize(scene(5), (1600, 1200), interpolation=cv2.INTER_CUBIC)
    feats = local_features(big)
    assert feats.width == 1600 and feats.height == 1200
    assert feats.points[:, 0].max() > 1000  # not in the 640-pixel working frame
    restored = type(feats).from_bytes(*feats.to_bytes(), feats.width, feats.height)
    assert np.array_equal(restored.points, feats.points)
    assert np.array_equal(restored.descriptors, feats.descriptors)


def test_the_descriptor_of_a_copy_is_nearer_than_that_of_another_picture() -> None:
    vocab = Vocabulary.shipped()
    pic = scene(6)
    crop = np.ascontiguousarray(pic[60:420, 80:560])
    d = [vocab.describe(local_features(x).descriptors) for x in (pic, crop, scene(7))]
    assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in d)
    assert float(d[0] @ d[1]) > float(d[0] @ d[2]) + 0.1


def test_the_shipped_vocabulary_is_the_one_recorded() -> None:
    vocab = Vocabulary.shipped()
    assert vocab.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert vocab.centroids.shape == (64, 128)
    assert vocab.projection.shape == (64 * 128, vocab.dimension)
    assert SHIPPED.stat().st_size < 8 * 1024 * 1024
