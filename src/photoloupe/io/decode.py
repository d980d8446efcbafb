"""Decoding with Pillow (and pillow-heif) into a `Picture`: the first frame as 8-bit RGB in
stored orientation, with what the container says about itself."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from photoloupe.errors import (
    DecompressionBomb,
    InputError,
    TooManyPixels,
    TruncatedFile,
)
from photoloupe.io.formats import PILLOW_PLUGINS, SUPPORTED_FORMATS, unidentified
from photoloupe.io.picture import JpegTables, Limits, Picture

pillow_heif.register_heif_opener()

_MAX_TEXT_CHARS = 64 * 1024
_pillow_limit_lock = threading.Lock()


def decode_bytes(
    source: bytes, data: bytes, name: str, path: str | None, limits: Limits
) -> Picture:
    """Decode `source` into a Picture that keeps `data` (the user's bytes) as its bytes."""
    import io

    _raise_pillow_pixel_limit(limits.max_pixels)
    try:
        with warnings.catch_warnings():
            # Our own limit replaces Pillow's DecompressionBombWarning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Pillow warns about odd-but-readable files ("Corrupt EXIF data") on stderr; what
            # matters reaches the report through the metadata reader instead.
            warnings.simplefilter("ignore", UserWarning)
            im = Image.open(io.BytesIO(source), formats=PILLOW_PLUGINS)
            fmt = im.format or "unknown"
            width, height = im.size
            if width <= 0 or height <= 0:
                raise InputError("The image declares no pixels (0 width or height).")
            if width * height > limits.max_pixels:
                raise TooManyPixels(
                    f"The image declares {width}×{height} = {width * height / 1e6:.1f} "
                    f"megapixels; the limit is {limits.max_pixels / 1e6:g}. "
                    "It is either very large or a decompression bomb."
                )
            frames = _count_frames(im, limits)
            # Only GIF, WebP and APNG animate; MPO, TIFF and HEIF hold several stills.
            animated = bool(getattr(im, "is_animated", False)) and fmt in ("GIF", "WEBP", "PNG")
            if frames > 1:
                im.seek(0)
            # Decode before reading EXIF: PNG's getexif() decodes, and _orientation() hides errors.
            # Another library in the same process may have switched Pillow to padding
            # truncated files (WeasyPrint does, on import); photoloupe refuses them.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            im.load()
            width, height = im.size  # the decoder may correct the declared size
            icc = im.info.get("icc_profile") or None
            exif_bytes = im.info.get("exif") or None
            orientation = _orientation(im)
            jpeg = _jpeg_tables(im) if fmt in ("JPEG", "MPO") else None
            original_mode = im.mode
            bit_depth = _bit_depth(im, data)
            text_chunks = _text_chunks(im) if fmt == "PNG" else {}
            has_alpha = "A" in im.mode or "transparency" in im.info
            pixels = _to_rgb8(im)
    except InputError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecompressionBomb(
            f"The image is a decompression bomb or far too large to decode safely ({exc})."
        ) from None
    except MemoryError:
        raise InputError(
            "Decoding needed more memory than is available.", code="out_of_memory"
        ) from None
    except UnidentifiedImageError:
        raise unidentified(data, name) from None
    except (EOFError, OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as exc:
        text = str(exc)
        if isinstance(exc, EOFError) or any(
            k in text.lower() for k in ("truncated", "end of file")
        ):
            raise TruncatedFile(
                "The file is truncated or damaged: its picture data ends early."
            ) from None
        raise InputError(f"The picture data is damaged and cannot be decoded ({text}).") from None
    except Exception as exc:  # a decoder bug must still reach the user as a clean error
        raise InputError(f"The picture cannot be decoded ({type(exc).__name__}: {exc}).") from None

    notes: list[str] = []
    if frames > 1:
        kind = "frames" if animated else "pictures"
        count = f"at least {frames}" if frames >= limits.max_frames_counted else str(frames)
        notes.append(f"The file holds {count} {kind}; only the first was analysed.")
    is_dng = fmt == "TIFF" and _has_dng_tag(im)
    if is_dng:
        notes.append(
            "A raw DNG file: only the picture that Pillow decodes (often a preview) was analysed."
        )
    if original_mode not in ("RGB", "L"):
        notes.append(f"Colour mode {original_mode} was converted to 8-bit RGB for analysis.")
    elif bit_depth > 8:
        notes.append(f"{bit_depth}-bit samples were reduced to 8 bits for analysis.")
    picture = Picture(
        data=data,
        name=name,
        path=path,
        format=fmt,
        mime="image/x-adobe-dng"
        if is_dng
        else SUPPORTED_FORMATS.get(fmt, "application/octet-stream"),
        width=width,
        height=height,
        frames=frames,
        animated=animated,
        color_mode=original_mode,
        bit_depth=bit_depth,
        has_alpha=has_alpha,
        orientation=orientation,
        pixels=pixels,
        icc_profile=icc if isinstance(icc, bytes) else None,
        exif=exif_bytes if isinstance(exif_bytes, bytes) else None,
        jpeg=jpeg,
        text_chunks=text_chunks,
        is_dng=is_dng,
        notes=tuple(notes),
    )
    if picture.extension_matches_content is False:
        notes.append(
            f"The file name ends in {picture.extension} but the bytes are {fmt}; "
            "it was analysed as what the bytes hold."
        )
        object.__setattr__(picture, "notes", tuple(notes))
    return picture


def _raise_pillow_pixel_limit(max_pixels: int) -> None:
    # Pillow refuses images over 2x its own MAX_IMAGE_PIXELS before we can check ours; lift it
    # (never lower it) so that a configured limit above Pillow's default still works.
    with _pillow_limit_lock:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and current < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels


def _count_frames(im: Image.Image, limits: Limits) -> int:
    n = getattr(im, "n_frames", 1)
    if not isinstance(n, int) or n < 1:
        return 1
    return min(n, limits.max_frames_counted)


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block must not stop the decode
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _jpeg_tables(im: Image.Image) -> JpegTables | None:
    tables = getattr(im, "quantization", None)
    if not tables:
        return None
    quant = {int(k): tuple(int(x) for x in v) for k, v in tables.items()}
    return JpegTables(
        quantization=quant,
        subsampling=_subsampling(getattr(im, "layer", None)),
        progressive=bool(im.info.get("progressive") or im.info.get("progression")),
    )


def _subsampling(layers: object) -> str | None:
    if not isinstance(layers, list) or len(layers) < 3:
        return "4:0:0" if isinstance(layers, list) and len(layers) == 1 else None
    (_, hy, vy, _), (_, hc, vc, _) = layers[0], layers[1]
    if hc == 0 or vc == 0:
        return None
    ratio = (hy // hc, vy // vc)
    return {
        (1, 1): "4:4:4",
        (2, 1): "4:2:2",
        (2, 2): "4:2:0",
        (1, 2): "4:4:0",
        (4, 1): "4:1:1",
    }.get(ratio, f"{hy}x{vy}/{hc}x{vc}")


def _bit_depth(im: Image.Image, data: bytes) -> int:
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return 16 if im.mode.startswith("I;16") or im.mode == "I" else 32
    if im.format == "PNG" and len(data) > 24 and data[12:16] == b"IHDR":
        return int(data[24])
    if im.mode == "1":
        return 1
    return 8


def _text_chunks(im: Image.Image) -> dict[str, str]:
    """PNG tEXt/zTXt/iTXt chunks; Pillow caps their decompressed size (MAX_TEXT_CHUNK)."""
    raw = getattr(im, "text", None) or {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        out[str(key)[:200]] = str(value)[:_MAX_TEXT_CHARS]
    return out


def _has_dng_tag(im: Image.Image) -> bool:
    tags = getattr(im, "tag_v2", None)
    return tags is not None and 50706 in tags  # DNGVersion


def _to_rgb8(im: Image.Image) -> npt.NDArray[np.uint8]:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if mode == "F":
            # Float images are usually scaled to 0..1; anything larger is taken as 0..255.
            finite = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
            scale = 255.0 if float(finite.max(initial=0.0)) <= 1.0 else 1.0
            arr8 = np.clip(finite * scale + 0.5, 0, 255).astype(np.uint8)
        else:
            arr8 = (np.clip(arr, 0, 65535) // 257).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr8[:, :, None], 3, axis=2))
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA")
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
