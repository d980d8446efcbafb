"""One archived picture as the index keeps it: hashes, descriptor, local features, capture
facts and a thumbnail, computed from a decoded `Picture`."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from photoloupe.archive.features import (
    INDEX_FEATURES,
    LocalFeatures,
    local_features,
    pdq_hash,
)
from photoloupe.archive.vocabulary import Vocabulary
from photoloupe.io import Picture
from photoloupe.provenance.metadata import read_metadata

THUMBNAIL_SIDE = 160


@dataclass(frozen=True)
class CaptureFacts:
    """When, with what and where, as the file's own metadata says (None when it does not)."""

    captured: str | None
    camera: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class Entry:
    sha256: str
    width: int
    height: int
    format: str
    pdq: bytes
    pdq_quality: int
    descriptor: np.ndarray[Any, np.dtype[np.float32]]
    features: LocalFeatures
    facts: CaptureFacts
    thumbnail: bytes


def make_entry(picture: Picture, vocabulary: Vocabulary, *, limit: int = INDEX_FEATURES) -> Entry:
    """Everything the index stores about `picture`."""
    feats = local_features(picture.pixels, limit=limit)
    pdq, quality = pdq_hash(picture.pixels)
    return Entry(
        sha256=picture.sha256,
        width=picture.width,
        height=picture.height,
        format=picture.format,
        pdq=pdq,
        pdq_quality=quality,
        descriptor=vocabulary.describe(feats.descriptors),
        features=feats,
        facts=capture_facts(picture),
        thumbnail=thumbnail_jpeg(picture),
    )


def capture_facts(picture: Picture) -> CaptureFacts:
    meta = read_metadata(picture)
    gps = meta.get("gps") or {}
    return CaptureFacts(
        captured=(meta.get("dates") or {}).get("captured"),
        camera=camera_name(meta.get("make"), meta.get("model")),
        latitude=gps.get("latitude"),
        longitude=gps.get("longitude"),
    )


def camera_name(make: str | None, model: str | None) -> str | None:
    """ "Canon" + "Canon EOS 5D" -> "Canon EOS 5D"; either may be missing.

    >>> camera_name("NIKON CORPORATION", "NIKON D70"), camera_name(None, None)
    ('NIKON CORPORATION NIKON D70', None)
    >>> camera_name("Canon", "Canon EOS 5D")
    'Canon EOS 5D'
    """
    make, model = (make or "").strip(), (model or "").strip()
    if model and make and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def thumbnail_jpeg(picture: Picture) -> bytes:
    """A small JPEG of the picture as a person sees it (EXIF orientation applied)."""
    pixels = picture.display_pixels()
    h, w = pixels.shape[:2]
    factor = min(1.0, THUMBNAIL_SIDE / max(h, w))
    if factor < 1:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=80)
    return buf.getvalue()
