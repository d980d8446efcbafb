"""Composites for learning and measuring edit localisation: every kind of edit, in camera photos.

Each composite takes a camera original from `../shared/data/real/camera` (decoded as stored,
so its JPEG grid stays where the camera put it), changes a feathered ellipse covering 1-25 % of
its area in one of five ways (`EDIT_KINDS`), and saves the result as JPEG at quality 70-95,
once, or twice as a repost. Its *twin* is the same camera photo saved the same way without the
edit, so the two differ only by the edit. The kinds:

- `ai_paste`: an AI-generated picture, resized (Lanczos) into the ellipse;
- `autoencoder`: the area regenerated through TAEF2, the FLUX.2 latent autoencoder of
  `../shared/models` (`training/taef2.py`), and blended back: a stand-in for diffusion
  inpainting, same scene, a decoder's traces instead of the camera's;
- `inpaint`: an object removed with OpenCV's inpainting (Telea or Navier-Stokes);
- `splice`: the same area of a photo from a camera of another make, at its own scale;
- `copy_move`: another area of the same photo, rotated (up to 30 degrees) and scaled (0.8-1.25).

The split follows the detector's folds (`training.dataset`): whole generators and whole camera
makes. `DEV_FOLDS` teach the fusion (`training/train_fusion.py`) and the camera-trace network
(`training/train_camera_trace.py`); `TEST_FOLDS` are what `benchmarks/localize.py` measures on,
with a detector trained without them. Splice donors come from the same folds as the host.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
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
QUALITIES = (70, 75, 80, 85, 90, 95)
EDIT_KINDS = ("ai_paste", "autoencoder", "inpaint", "splice", "copy_move")
REPOST_SHARE = 0.5  # composites (and their twins) saved twice, as a repost
AREA = (0.01, 0.25)  # share of the picture's area an edit covers
MIN_SIDE = 256
FEATHER_SIGMA = 3.0


@dataclass(frozen=True)
class Sample:
    """One picture for the localisation sets: its JPEG bytes and its truth."""

    name: str
    data: bytes
    mask: npt.NDArray[np.bool_]  # True where pixels were replaced; all False for pristine
    kind: str  # "composite", "twin" (re-saved untouched) or "original" (camera bytes)
    quality: int | None  # of the last save
    real_path: str
    ai_path: str | None = None  # the donor: an AI picture, or the spliced camera photo
    edit: str | None = None  # one of EDIT_KINDS (a twin carries its composite's)
    saves: int = 1  # JPEG saves by us: 1, or 2 for a repost (0 for camera originals)

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


def makes(folds: tuple[int, ...]) -> dict[str, str]:
    """Camera photo -> its make, for the photos of `folds` that name one (splice donors)."""
    return {
        item.path: item.group
        for item in dataset.items()
        if item.fold in folds
        and item.label == 0
        and item.group != "unknown"
        and item.path.startswith(("real/camera/", "real/camera2/"))
    }


def _rng(*keys: object) -> np.random.Generator:
    digest = hashlib.sha256(":".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def ellipse(
    shape: tuple[int, int], aspect: float, rng: np.random.Generator
) -> tuple[int, int, int, int, npt.NDArray[np.float32]]:
    """A random ellipse covering `AREA` of a picture of `shape`: its box (y0, x0, bh, bw) and
    the feathered alpha over the whole picture."""
    h, w = shape
    share = rng.uniform(*AREA)
    aspect = float(np.clip(aspect * rng.uniform(0.8, 1.25), 0.5, 2.0))
    # An ellipse covers pi/4 of its box.
    box_area = share * h * w / (np.pi / 4)
    bh = int(min(h * 0.95, np.sqrt(box_area / aspect)))
    bw = int(min(w * 0.95, box_area / max(bh, 1)))
    bh = max(8, int(min(h * 0.95, box_area / max(bw, 1))))
    bw = max(8, bw)
    y0 = int(rng.integers(0, h - bh + 1))
    x0 = int(rng.integers(0, w - bw + 1))
    yy, xx = np.mgrid[0:bh, 0:bw]
    inside = ((yy + 0.5 - bh / 2) / (bh / 2)) ** 2 + ((xx + 0.5 - bw / 2) / (bw / 2)) ** 2 <= 1
    alpha = np.zeros((h, w), dtype=np.float32)
    alpha[y0 : y0 + bh, x0 : x0 + bw] = inside
    return y0, x0, bh, bw, ndimage.gaussian_filter(alpha, FEATHER_SIGMA)


def blend(
    host: npt.NDArray[np.uint8], canvas: npt.NDArray[np.float32], alpha: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    out = alpha[..., None] * canvas + (1 - alpha[..., None]) * host.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), alpha > 0.5


def paste(
    host: npt.NDArray[np.uint8], donor: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """`donor` resized into a feathered ellipse of `host`; (pixels, mask)."""
    y0, x0, bh, bw, alpha = ellipse(host.shape[:2], donor.shape[1] / donor.shape[0], rng)
    patch = np.asarray(Image.fromarray(donor).resize((bw, bh), Image.Resampling.LANCZOS))
    canvas = host.astype(np.float32).copy()
    canvas[y0 : y0 + bh, x0 : x0 + bw] = patch
    return blend(host, canvas, alpha)


def splice(
    host: npt.NDArray[np.uint8], donor: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """An area of another camera's photo, at its own scale where it is large enough."""
    y0, x0, bh, bw, alpha = ellipse(host.shape[:2], 1.0, rng)
    dh, dw = donor.shape[:2]
    if dh < bh or dw < bw:  # a small donor is enlarged as little as needed
        factor = max(bh / dh, bw / dw)
        donor = cv2.resize(donor, (int(np.ceil(dw * factor)), int(np.ceil(dh * factor))))
        dh, dw = donor.shape[:2]
    dy = int(rng.integers(0, dh - bh + 1))
    dx = int(rng.integers(0, dw - bw + 1))
    canvas = host.astype(np.float32).copy()
    canvas[y0 : y0 + bh, x0 : x0 + bw] = donor[dy : dy + bh, dx : dx + bw]
    return blend(host, canvas, alpha)


def copy_move(
    host: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Another area of the same photo, rotated and scaled, into the ellipse."""
    h, w = host.shape[:2]
    y0, x0, bh, bw, alpha = ellipse((h, w), 1.0, rng)
    angle = float(rng.uniform(-30, 30))
    scale = float(rng.uniform(0.8, 1.25))
    # The source centre, away from the target.
    for _ in range(20):
        sy, sx = float(rng.uniform(bh / 2, h - bh / 2)), float(rng.uniform(bw / 2, w - bw / 2))
        if abs(sy - (y0 + bh / 2)) > bh / 2 or abs(sx - (x0 + bw / 2)) > bw / 2:
            break
    matrix = cv2.getRotationMatrix2D((sx, sy), angle, scale)
    matrix[:, 2] += (x0 + bw / 2 - sx, y0 + bh / 2 - sy)  # move the source onto the target
    moved = cv2.warpAffine(
        host, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return blend(host, moved.astype(np.float32), alpha)


def inpaint(
    host: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The ellipse removed and filled from its surroundings (Telea or Navier-Stokes)."""
    _, _, _, _, alpha = ellipse(host.shape[:2], 1.0, rng)
    mask = (alpha > 0.5).astype(np.uint8)
    method = cv2.INPAINT_TELEA if rng.random() < 0.5 else cv2.INPAINT_NS
    filled = cv2.inpaint(host, mask, 5, method)
    return blend(host, filled.astype(np.float32), alpha)


def regenerate(
    host: npt.NDArray[np.uint8], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The ellipse's box (plus a margin) through the latent autoencoder, blended back."""
    from training import taef2

    h, w = host.shape[:2]
    y0, x0, bh, bw, alpha = ellipse((h, w), 1.0, rng)
    margin = 16
    ya, xa = max(0, y0 - margin) // 8 * 8, max(0, x0 - margin) // 8 * 8
    yb = min(h, y0 + bh + margin)
    xb = min(w, x0 + bw + margin)
    yb, xb = ya + (yb - ya) // 8 * 8, xa + (xb - xa) // 8 * 8
    canvas = host.astype(np.float32).copy()
    canvas[ya:yb, xa:xb] = taef2.round_trip(host[ya:yb, xa:xb])
    outside = np.zeros_like(alpha)
    outside[ya:yb, xa:xb] = 1.0
    return blend(host, canvas, alpha * outside)


def save(rgb: npt.NDArray[np.uint8], qualities: tuple[int, ...]) -> bytes:
    """JPEG bytes after saving at each quality in turn."""
    data = _jpeg(rgb, qualities[0])
    for q in qualities[1:]:
        with Image.open(io.BytesIO(data)) as im:
            data = _jpeg(np.asarray(im.convert("RGB")), q)
    return data


def edit(
    kind: str,
    host: npt.NDArray[np.uint8],
    rng: np.random.Generator,
    ai: list[str],
    donors: list[str],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], str | None]:
    """(pixels, mask, donor path) of one edit of `kind`."""
    if kind == "ai_paste":
        donor_path = ai[int(rng.integers(0, len(ai)))]
        with Image.open(dataset.SHARED / donor_path) as im:
            donor = np.asarray(im.convert("RGB"))
        return (*paste(host, donor, rng), donor_path)
    if kind == "splice":
        donor_path = donors[int(rng.integers(0, len(donors)))]
        with Image.open(dataset.SHARED / donor_path) as im:
            donor = np.asarray(im.convert("RGB"))
        return (*splice(host, donor, rng), donor_path)
    if kind == "copy_move":
        return (*copy_move(host, rng), None)
    if kind == "inpaint":
        return (*inpaint(host, rng), None)
    if kind == "autoencoder":
        return (*regenerate(host, rng), None)
    raise ValueError(f"unknown edit kind {kind}")


def samples(
    folds: tuple[int, ...],
    per_photo: int,
    originals: bool = True,
    whole_originals: tuple[str, ...] = (),
    kinds: tuple[str, ...] = EDIT_KINDS,
) -> Iterator[Sample]:
    """Deterministic composites and twins (and the camera originals) of the given folds, then
    the `whole_originals` as they are. Photo i's composite k is of kind `kinds[(i + k) %
    len(kinds)]`, so every kind is made equally often."""
    real, ai = split(folds)
    make_of = makes(folds)
    for i, path in enumerate(real):
        raw = (dataset.SHARED / path).read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            host = np.asarray(im.convert("RGB"))
        empty = np.zeros(host.shape[:2], dtype=bool)
        if originals:
            yield Sample(f"{path}#original", raw, empty, "original", None, path, saves=0)
        donors = sorted(p for p, m in make_of.items() if m != make_of.get(path) and p != path)
        for k in range(per_photo):
            kind = kinds[(i + k) % len(kinds)]
            rng = _rng("composite", path, k, kind)
            qualities = [int(QUALITIES[int(rng.integers(0, len(QUALITIES)))])]
            if rng.random() < REPOST_SHARE:
                qualities.append(int(QUALITIES[int(rng.integers(0, len(QUALITIES)))]))
            pixels, mask, donor_path = edit(kind, host, rng, ai, donors)
            tag = f"{path}#{k}"
            common = {"edit": kind, "saves": len(qualities), "quality": qualities[-1]}
            yield Sample(
                f"{tag}:composite",
                save(pixels, tuple(qualities)),
                mask,
                "composite",
                real_path=path,
                ai_path=donor_path,
                **common,  # type: ignore[arg-type]
            )
            yield Sample(
                f"{tag}:twin",
                save(host, tuple(qualities)),
                empty,
                "twin",
                real_path=path,
                **common,  # type: ignore[arg-type]
            )
    for path in whole_originals:
        raw = (dataset.SHARED / path).read_bytes()
        with Image.open(io.BytesIO(raw)) as im:
            size = (im.size[1], im.size[0])
        yield Sample(
            f"{path}#original", raw, np.zeros(size, dtype=bool), "original", None, path, saves=0
        )
