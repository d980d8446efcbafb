"""Composites for learning and measuring edit localisation: AI-made areas in camera photos.

Each composite takes a camera original from `../shared/data/real/camera` (decoded as stored,
so its JPEG grid stays where the camera put it), pastes an AI-generated picture from
`../shared/data/ai` resized to cover 5-25 % of the area inside a feathered ellipse, and saves
the result as JPEG at quality 75-95. Its *twin* is the same camera photo saved the same way
without the paste, so the two differ only by the edit.

The split follows the detector's folds (`training.dataset`): whole generators and whole camera
makes. `DEV_FOLDS` teach the fusion (`training/train_fusion.py`); `TEST_FOLDS` are what
`benchmarks/localize.py` measures, with a detector trained without them.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage

from training import dataset

DEV_FOLDS = (2, 3, 4)
# Whole-size camera and phone originals from outside the benchmark's sets (which are
# real/camera and real/full): the camera crops above are at most 768 pixels, and a fusion
# that never saw a whole wide scene calls too many of them edited.
DEV_WHOLE_ORIGINALS = (
    "metadata/exif-samples/exif-samples-16713b68ed.jpg",  # Canon, 2560 x 1600
    "metadata/exif-samples/exif-samples-d45980d197.jpg",  # Samsung phone, 4032 x 2012
    "metadata/formats/test-assets-02020a8be9.jpg",  # Motorola phone, 4640 x 3472
    "metadata/formats/metadata-extractor-image-f40b97f76a.heic",  # iPhone, HEIC
    "metadata/formats/metadata-extractor-image-c00f914293.heic",
    "metadata/formats/metadata-extractor-image-e77bbb9248.heic",
)
TEST_FOLDS = (0, 1)
QUALITIES = (75, 80, 85, 90, 95)
MIN_SIDE = 256
FEATHER_SIGMA = 3.0


@dataclass(frozen=True)
class Sample:
    """One picture for the localisation sets: its JPEG bytes and its truth."""

    name: str
    data: bytes
    mask: npt.NDArray[np.bool_]  # True where pixels were replaced; all False for pristine
    kind: str  # "composite", "twin" (re-saved untouched) or "original" (camera bytes)
    quality: int | None
    real_path: str
    ai_path: str | None = None

    @property
    def edited(self) -> bool:
        return self.kind == "composite"


def split(folds: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """(camera photos, AI pictures) of the given folds, by path relative to the corpus."""
    real, ai = [], []
    for item in dataset.items():
        if item.fold not in folds:
            continue
        if item.label == 0 and item.path.startswith("real/camera/"):
            with Image.open(dataset.SHARED / item.path) as im:
                if min(im.size) >= MIN_SIDE:
                    real.append(item.path)
        elif item.label == 1:
            ai.append(item.path)
    return real, ai


def _rng(*keys: object) -> np.random.Generator:
    digest = hashlib.sha256(":".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def paste(
    host: npt.NDArray[np.uint8], donor: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """`donor` resized into a feathered ellipse covering 5-25 % of `host`; (pixels, mask)."""
    h, w = host.shape[:2]
    share = rng.uniform(0.05, 0.25)
    aspect = float(np.clip(donor.shape[1] / donor.shape[0] * rng.uniform(0.8, 1.25), 0.5, 2.0))
    # An ellipse covers pi/4 of its box.
    box_area = share * h * w / (np.pi / 4)
    bh = int(min(h * 0.95, np.sqrt(box_area / aspect)))
    bw = int(min(w * 0.95, box_area / max(bh, 1)))
    bh = int(min(h * 0.95, box_area / max(bw, 1)))
    y0 = int(rng.integers(0, h - bh + 1))
    x0 = int(rng.integers(0, w - bw + 1))
    patch = np.asarray(Image.fromarray(donor).resize((bw, bh), Image.Resampling.LANCZOS))
    yy, xx = np.mgrid[0:bh, 0:bw]
    inside = ((yy + 0.5 - bh / 2) / (bh / 2)) ** 2 + ((xx + 0.5 - bw / 2) / (bw / 2)) ** 2 <= 1
    alpha = np.zeros((h, w), dtype=np.float32)
    alpha[y0 : y0 + bh, x0 : x0 + bw] = inside
    alpha = ndimage.gaussian_filter(alpha, FEATHER_SIGMA)
    canvas = host.astype(np.float32).copy()
    canvas[y0 : y0 + bh, x0 : x0 + bw] = patch
    out = alpha[..., None] * canvas + (1 - alpha[..., None]) * host.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), alpha > 0.5


def samples(
    folds: tuple[int, ...],
    per_photo: int,
    originals: bool = True,
    whole_originals: tuple[str, ...] = (),
) -> Iterator[Sample]:
    """Deterministic composites and twins (and the camera originals) of the given folds, then
    the `whole_originals` as they are."""
    real, ai = split(folds)
    for path in real:
        raw = (dataset.SHARED / path).read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            host = np.asarray(im.convert("RGB"))
        empty = np.zeros(host.shape[:2], dtype=bool)
        if originals:
            yield Sample(f"{path}#original", raw, empty, "original", None, path)
        for k in range(per_photo):
            rng = _rng("composite", path, k)
            donor_path = ai[int(rng.integers(0, len(ai)))]
            with Image.open(dataset.SHARED / donor_path) as im:
                donor = np.asarray(im.convert("RGB"))
            quality = int(QUALITIES[int(rng.integers(0, len(QUALITIES)))])
            pixels, mask = paste(host, donor, rng)
            tag = f"{path}#{k}"
            yield Sample(
                f"{tag}:composite",
                _jpeg(pixels, quality),
                mask,
                "composite",
                quality,
                path,
                donor_path,
            )
            yield Sample(f"{tag}:twin", _jpeg(host, quality), empty, "twin", quality, path)
    for path in whole_originals:
        raw = (dataset.SHARED / path).read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            size = (im.size[1], im.size[0])
        yield Sample(f"{path}#original", raw, np.zeros(size, dtype=bool), "original", None, path)
