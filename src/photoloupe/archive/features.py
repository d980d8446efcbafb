"""What the archive keeps of each picture: local features, a global descriptor and a PDQ hash.

- **Local features**: SIFT keypoints on a contrast-equalised grey copy whose longer side is at
  most `FEATURE_SIDE` (the same working copy `compare` matches on), stored in the picture's own
  stored pixels. They stay on disk and are read only to verify a candidate.
- **Global descriptor**: VLAD (Jégou et al. 2010) of the RootSIFT descriptors (Arandjelović &
  Zisserman 2012) over a vocabulary trained here (`training/train_vocabulary.py`), with power
  and intra-normalisation, reduced and whitened by PCA: one short vector per picture for the
  shortlist. SIFT is invariant to rotation and scale, so the descriptor of a rotated, resized
  or cropped copy stays close to the original's.
- **PDQ** (Meta's 256-bit perceptual hash, `pdqhash`): survives re-encoding and resizing, and
  its eight dihedral variants cover mirrors and quarter turns. It misses crops, which the
  descriptor and the local features catch.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> grey = (rng.random((300, 400)) * 255).astype(np.uint8)
>>> feats = local_features(np.dstack([grey] * 3), limit=200)
>>> feats.points.shape[1], feats.descriptors.shape[1], feats.descriptors.dtype.name
(2, 128, 'uint8')
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import pdqhash

from photoloupe.compare.params import FEATURE_SIDE, MIN_SIDE
from photoloupe.compare.registration import MIRROR

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

INDEX_FEATURES = 1000
"""Keypoints kept per archived picture (about 136 KB on disk)."""
QUERY_FEATURES = 2000
"""Keypoints found on a query: more than an archived picture keeps, so a crop still matches."""
PDQ_SIDE = 512
"""PDQ shrinks to 64 x 64 itself; an area-averaged copy of this size gives the same hash."""


@dataclass(frozen=True)
class LocalFeatures:
    """SIFT keypoints of one picture: positions in its stored pixels, descriptors as uint8.

    OpenCV's SIFT descriptors are whole numbers from 0 to 255 held as floats, so uint8 loses
    nothing.
    """

    points: F32
    descriptors: U8
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def mirrored(self) -> LocalFeatures:
        """The features of the left-right mirror image, without a second detection: positions
        reflected and each descriptor's cells permuted (see `compare.registration.MIRROR`)."""
        points = self.points.copy()
        points[:, 0] = (self.width - 1) - points[:, 0]
        return LocalFeatures(
            points, np.ascontiguousarray(self.descriptors[:, MIRROR]), self.width, self.height
        )

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.points.astype(np.float32).tobytes(), self.descriptors.tobytes()

    @classmethod
    def from_bytes(
        cls, points: bytes, descriptors: bytes, width: int, height: int
    ) -> LocalFeatures:
        pts = np.frombuffer(points, np.float32).reshape(-1, 2)
        des = np.frombuffer(descriptors, np.uint8).reshape(-1, 128)
        if pts.shape[0] != des.shape[0]:
            raise ValueError("points and descriptors disagree in number")
        return cls(pts, des, width, height)


def feature_grey(pixels: U8) -> tuple[U8, float]:
    """The grey working copy features are found on, and its pixels per stored pixel."""
    grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape[:2]
    side = max(h, w)
    factor = min(1.0, FEATURE_SIDE / side) if side >= MIN_SIDE else MIN_SIDE / side
    if factor != 1.0:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        grey = cv2.resize(grey, size, interpolation=interp)
    # As in compare: local contrast equalisation keeps dim or hazy photos from yielding a
    # handful of features, and cancels most of a tone change.
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(np.ascontiguousarray(grey))
    return np.asarray(grey, np.uint8), factor


def local_features(pixels: U8, *, limit: int = INDEX_FEATURES) -> LocalFeatures:
    """SIFT keypoints and descriptors of an RGB (or grey) picture, at most `limit` of them."""
    grey, factor = feature_grey(pixels)
    sift = cv2.SIFT_create(nfeatures=limit, contrastThreshold=0.03)  # type: ignore[attr-defined]
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    h, w = pixels.shape[:2]
    if descriptors is None or not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), w, h)
    points = np.array([k.pt for k in keypoints], np.float32) / np.float32(factor)
    des = np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)
    return LocalFeatures(points, des, w, h)


def root_sift(descriptors: U8) -> F32:
    """RootSIFT: L1-normalise, then square-root, so that Euclidean distance compares the
    descriptors as the Hellinger kernel does."""
    des = descriptors.astype(np.float32)
    des /= np.maximum(des.sum(axis=1, keepdims=True), 1e-6)
    return np.sqrt(des)


def vlad(descriptors: F32, centroids: F32) -> F32:
    """VLAD of RootSIFT descriptors: residuals to the nearest centroid summed per centroid,
    signed square root, each centroid's block L2-normalised, then the whole vector."""
    k, dim = centroids.shape
    out = np.zeros((k, dim), np.float32)
    if len(descriptors):
        d2 = (
            (descriptors**2).sum(axis=1, keepdims=True)
            - 2 * descriptors @ centroids.T
            + (centroids**2).sum(axis=1)
        )
        nearest = d2.argmin(axis=1)
        np.add.at(out, nearest, descriptors - centroids[nearest])
    out = np.sign(out) * np.sqrt(np.abs(out))
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    flat = out.reshape(-1)
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat


def pdq_hash(pixels: U8) -> tuple[bytes, int]:
    """The 256-bit PDQ hash (32 bytes) of an RGB picture and PDQ's quality score (0-100)."""
    small = _pdq_copy(pixels)
    bits, quality = pdqhash.compute(small)
    return np.packbits(np.asarray(bits, np.uint8)).tobytes(), int(quality)


def pdq_dihedral(pixels: U8) -> list[bytes]:
    """The PDQ hashes of the picture's eight rotations and mirrors (the first is the picture's
    own)."""
    small = _pdq_copy(pixels)
    variants, _ = pdqhash.compute_dihedral(small)
    return [np.packbits(np.asarray(v, np.uint8)).tobytes() for v in variants]


def _pdq_copy(pixels: U8) -> U8:
    rgb = np.dstack([pixels] * 3) if pixels.ndim == 2 else pixels
    h, w = rgb.shape[:2]
    factor = PDQ_SIDE / max(h, w)
    if factor < 1:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(rgb, np.uint8)
