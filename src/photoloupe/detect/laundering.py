"""The social-media laundering that training and benchmarks apply to *both* classes alike.

Re-encoding removes the shortcut the corpus offers (most AI files are PNG, most real ones
camera JPEGs) and teaches the detector what survives a repost: a random crop, a resize by a
factor in [0.5, 1.0] and a JPEG re-save at quality 60-100. Metadata never survives: only
pixels go in, only pixels come out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

RGB = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Laundering:
    """Ranges of the random transforms; the defaults are those of issue 3."""

    min_crop: int = 256
    scale: tuple[float, float] = (0.5, 1.0)
    quality: tuple[int, int] = (60, 100)
    crop_probability: float = 0.7


def jpeg(rgb: RGB, quality: int) -> RGB:
    """Re-encode as baseline JPEG (4:2:0 below quality 90, 4:4:4 above, like most services)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    if quality >= 90:
        params += [int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR), int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)]
    ok, buf = cv2.imencode(".jpg", bgr, params)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if out is None:
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(cv2.cvtColor(out, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def resize(rgb: RGB, factor: float) -> RGB:
    """Downscale by `factor` (area averaging, as most services do)."""
    if factor >= 0.999:
        return rgb
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def random_crop(rgb: RGB, side: int, rng: np.random.Generator) -> RGB:
    h, w = rgb.shape[:2]
    ch, cw = min(side, h), min(side, w)
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def launder(rgb: RGB, rng: np.random.Generator, spec: Laundering | None = None) -> RGB:
    """One random repost of `rgb`: crop (sometimes), resize, JPEG. Deterministic given `rng`.

    >>> rng = np.random.default_rng(0)
    >>> launder(np.zeros((300, 400, 3), np.uint8), rng).dtype
    dtype('uint8')
    """
    spec = spec or Laundering()
    out = rgb
    h, w = rgb.shape[:2]
    if rng.random() < spec.crop_probability and min(h, w) > spec.min_crop:
        side = int(rng.integers(spec.min_crop, min(h, w) + 1))
        out = random_crop(out, side, rng)
    factor = float(rng.uniform(*spec.scale))
    if min(out.shape[:2]) * factor >= 64:
        out = resize(out, factor)
    quality = int(rng.integers(spec.quality[0], spec.quality[1] + 1))
    return jpeg(out, quality)


# --- the wider laundering of detector 3 (issue 11) --------------------------------------------
# Two JPEG encoders (OpenCV's and Pillow's libjpeg, with their own chroma subsampling), two
# resamplers, an occasional light blur: a model that sees only one pipeline learns that
# pipeline's fingerprints instead of the generators'.

RESAMPLERS = ("area", "bicubic")  # training
REPOST_RESAMPLERS = ("lanczos", "bicubic")  # the benchmark's repost condition
ENCODERS = ("opencv", "pillow")


@dataclass(frozen=True)
class WideLaundering:
    """Ranges of the random transforms of detector 3's training copies."""

    min_side: int = 224  # never shrink below what the encoder reads at its own resolution
    scale: tuple[float, float] = (0.5, 1.0)
    quality: tuple[int, int] = (60, 100)
    crop_probability: float = 0.5
    blur_probability: float = 0.15
    blur_sigma: tuple[float, float] = (0.3, 1.5)


def jpeg_pillow(rgb: RGB, quality: int) -> RGB:
    """Re-encode with Pillow's libjpeg (4:2:0 below quality 90, 4:4:4 above)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(
        buf, "JPEG", quality=int(quality), subsampling=0 if quality >= 90 else 2
    )
    with Image.open(io.BytesIO(buf.getvalue())) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB")), dtype=np.uint8)


def jpeg_with(rgb: RGB, quality: int, encoder: str) -> RGB:
    """A JPEG round trip through `encoder` ("opencv" or "pillow")."""
    if encoder == "opencv":
        return jpeg(rgb, quality)
    if encoder == "pillow":
        return jpeg_pillow(rgb, quality)
    raise ValueError(f"unknown JPEG encoder {encoder!r}")


def resize_with(rgb: RGB, factor: float, resampler: str) -> RGB:
    """Downscale by `factor` with `resampler`: "area" (OpenCV), or Pillow's antialiased
    "bicubic", "lanczos" or "bilinear"."""
    if factor >= 0.999:
        return rgb
    if resampler == "area":
        return resize(rgb, factor)
    from PIL import Image

    methods = {
        "bicubic": Image.Resampling.BICUBIC,
        "lanczos": Image.Resampling.LANCZOS,
        "bilinear": Image.Resampling.BILINEAR,
    }
    if resampler not in methods:
        raise ValueError(f"unknown resampler {resampler!r}")
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    out = Image.fromarray(np.ascontiguousarray(rgb)).resize(size, methods[resampler])
    return np.ascontiguousarray(np.asarray(out), dtype=np.uint8)


def _floor_factor(shape: tuple[int, ...], factor: float, min_side: int) -> float:
    return min(1.0, max(factor, min_side / max(1, min(shape[:2]))))


def launder_wide(rgb: RGB, rng: np.random.Generator, spec: WideLaundering | None = None) -> RGB:
    """One random repost from the wider laundering: sometimes a crop, sometimes a light blur,
    a resize by 0.5-1 with one of two resamplers, a JPEG save at 60-100 by one of two encoders.

    >>> out = launder_wide(np.full((300, 400, 3), 128, np.uint8), np.random.default_rng(0))
    >>> out.dtype, min(out.shape[:2]) >= 224
    (dtype('uint8'), True)
    """
    spec = spec or WideLaundering()
    out = rgb
    h, w = rgb.shape[:2]
    if rng.random() < spec.crop_probability and min(h, w) > spec.min_side:
        side = int(rng.integers(spec.min_side, min(h, w) + 1))
        out = random_crop(out, side, rng)
    if rng.random() < spec.blur_probability:
        sigma = float(rng.uniform(*spec.blur_sigma))
        out = np.ascontiguousarray(cv2.GaussianBlur(out, (0, 0), sigma))
    factor = _floor_factor(out.shape, float(rng.uniform(*spec.scale)), spec.min_side)
    out = resize_with(out, factor, RESAMPLERS[int(rng.integers(len(RESAMPLERS)))])
    quality = int(rng.integers(spec.quality[0], spec.quality[1] + 1))
    return jpeg_with(out, quality, ENCODERS[int(rng.integers(len(ENCODERS)))])


def repost_draws(
    shape: tuple[int, ...], rng: np.random.Generator, min_side: int = 224
) -> tuple[float, str, int, str]:
    """The repost's random draws: (factor, resampler, JPEG quality, encoder)."""
    factor = _floor_factor(shape, float(rng.uniform(0.5, 1.0)), min_side)
    resampler = REPOST_RESAMPLERS[int(rng.integers(len(REPOST_RESAMPLERS)))]
    quality = int(rng.integers(70, 96))
    encoder = ENCODERS[int(rng.integers(len(ENCODERS)))]
    return factor, resampler, quality, encoder


def repost(rgb: RGB, rng: np.random.Generator, min_side: int = 224) -> RGB:
    """The benchmark's repost condition: a resize by 0.5-1 with Lanczos or bicubic, then a
    JPEG save at 70-95 by either encoder. Deterministic given `rng`."""
    factor, resampler, quality, encoder = repost_draws(rgb.shape, rng, min_side)
    return jpeg_with(resize_with(rgb, factor, resampler), quality, encoder)
