"""Safe intake: bytes or a path in, a `Picture` out, or a clear `InputError`.

Everything that reads user files goes through `load_picture`. It enforces the limits (file size,
pixel count, decode time), decodes only the formats photoloupe supports, and normalises the first
frame to 8-bit RGB in *stored* orientation: forensic analyses must see the pixels as the encoder
wrote them, so EXIF orientation is applied only by `Picture.display_pixels()`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from photoloupe.errors import (
    DecodeTimeout,
    DecompressionBomb,
    EmptyFile,
    FileTooLarge,
    InputError,
    NotFound,
    TooManyPixels,
    TruncatedFile,
    UnsupportedFormat,
)

pillow_heif.register_heif_opener()

# Pillow format name -> MIME type. MPO (stereo / multi-picture JPEG) is opened by the JPEG plugin.
SUPPORTED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
_PILLOW_PLUGINS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "GIF", "BMP")

# Extension -> the formats it may honestly hold (DNG is TIFF-based; JPEG may carry MPO data).
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".jpg": ("JPEG", "MPO"),
    ".jpeg": ("JPEG", "MPO"),
    ".jpe": ("JPEG", "MPO"),
    ".jfif": ("JPEG", "MPO"),
    ".mpo": ("MPO", "JPEG"),
    ".png": ("PNG",),
    ".webp": ("WEBP",),
    ".heic": ("HEIF",),
    ".heif": ("HEIF",),
    ".hif": ("HEIF",),
    ".avif": ("AVIF", "HEIF"),
    ".tif": ("TIFF",),
    ".tiff": ("TIFF",),
    ".dng": ("TIFF",),
    ".gif": ("GIF",),
    ".bmp": ("BMP",),
    ".dib": ("BMP",),
}

# Signatures of formats we recognise but do not read, so the error can name them.
_UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"8BPS", 0, "Photoshop (PSD)"),
    (b"%PDF", 0, "PDF"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000"),
    (b"<svg", 0, "SVG"),
    (b"<?xml", 0, "XML/SVG"),
    (b"II*\x00\x10\x00\x00\x00CR", 0, "Canon raw (CR2)"),
    (b"FUJIFILMCCD-RAW", 0, "Fujifilm raw (RAF)"),
    (b"\x00\x00\x00\x18ftypqt", 0, "QuickTime video"),
    (b"PK\x03\x04", 0, "ZIP archive"),
)

_BMFF_BRANDS = (
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
)


# IJG standard luminance table (natural order), used to estimate JPEG quality.
_IJG_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
).ravel()

_MAX_TEXT_CHARS = 64 * 1024
_pillow_limit_lock = threading.Lock()
T = TypeVar("T")
_A = TypeVar("_A", bound=np.generic)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one input. All are configurable; defaults suit a newsroom laptop."""

    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 120_000_000
    max_decode_seconds: float = 30.0
    # Reading Content Credentials is native code too; a pathological file must not hang it.
    max_c2pa_seconds: float = 30.0
    # Frames are counted, not decoded, but counting a GIF walks every frame.
    max_frames_counted: int = 10_000


@dataclass(frozen=True)
class JpegTables:
    """Quantisation tables (natural order) and chroma subsampling, as the encoder stored them."""

    quantization: dict[int, tuple[int, ...]]
    subsampling: str | None
    progressive: bool

    @property
    def estimated_quality(self) -> int | None:
        """The IJG quality whose scaled standard luma table is closest to table 0."""
        luma = self.quantization.get(0)
        if luma is None or len(luma) != 64:
            return None
        table = np.asarray(luma, dtype=np.float64)
        best_q, best_err = 0, float("inf")
        for q in range(1, 101):
            scale = 5000 / q if q < 50 else 200 - 2 * q
            std = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
            err = float(np.abs(std - table).sum())
            if err < best_err:
                best_q, best_err = q, err
        return best_q


@dataclass(frozen=True, eq=False)
class Picture:
    """A decoded input. `pixels` is the first frame, 8-bit RGB, in stored orientation."""

    data: bytes
    name: str
    path: str | None
    format: str
    mime: str
    width: int
    height: int
    frames: int
    animated: bool
    color_mode: str
    bit_depth: int
    has_alpha: bool
    orientation: int
    pixels: npt.NDArray[np.uint8]
    icc_profile: bytes | None = None
    exif: bytes | None = None
    jpeg: JpegTables | None = None
    text_chunks: dict[str, str] = field(default_factory=dict)
    is_dng: bool = False
    notes: tuple[str, ...] = ()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        return Path(self.name).suffix.lower()

    @property
    def extension_matches_content(self) -> bool | None:
        """None when the name has no extension photoloupe knows."""
        allowed = _EXTENSIONS.get(self.extension)
        if allowed is None:
            return None
        return self.format in allowed

    def display_pixels(self) -> npt.NDArray[np.uint8]:
        """The pixels as a person should see them: EXIF orientation applied."""
        return orient_array(self.pixels, self.orientation)


def orient_array(array: npt.NDArray[_A], orientation: int) -> npt.NDArray[_A]:
    """Turn an array stored with EXIF `orientation` (1-8) the way it is meant to be displayed.

    Works for pictures (H, W, C) and maps (H, W) alike.

    >>> orient_array(np.array([[1, 2], [3, 4]]), 6).tolist()  # 90° clockwise
    [[3, 1], [4, 2]]
    """
    a = array
    match orientation:
        case 2:
            a = a[:, ::-1]
        case 3:
            a = a[::-1, ::-1]
        case 4:
            a = a[::-1, :]
        case 5:
            a = np.swapaxes(a, 0, 1)
        case 6:
            a = np.rot90(a, k=-1)
        case 7:
            a = np.swapaxes(a[::-1, ::-1], 0, 1)
        case 8:
            a = np.rot90(a, k=1)
        case _:
            return array
    return np.ascontiguousarray(a)


def load_picture(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    limits: Limits | None = None,
) -> Picture:
    """Read and decode `source` (a path or the file's bytes) within `limits`.

    Raises an `InputError` subclass, never anything else, for input that cannot be analysed.

    >>> load_picture(b"")
    Traceback (most recent call last):
    ...
    photoloupe.errors.EmptyFile: The file is empty (0 bytes).
    """
    limits = limits or Limits()
    path: str | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = name or "upload"
        if len(data) > limits.max_bytes:
            raise _too_large(len(data), limits)
    else:
        path = os.fspath(source)
        name = name or os.path.basename(path)
        data = _read_file(path, limits)
    if not data:
        raise EmptyFile("The file is empty (0 bytes).")
    return run_with_deadline(
        lambda: _decode(data, name, path, limits),
        limits.max_decode_seconds,
    )


def _read_file(path: str, limits: Limits) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"No such file: {path}") from None
    except OSError as exc:
        raise InputError(f"The file cannot be opened: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise InputError(f"Not a regular file: {path}", code="not_a_file")
    if st.st_size > limits.max_bytes:
        raise _too_large(st.st_size, limits)
    try:
        with open(path, "rb") as fh:
            # Read one byte past the limit: the file may have grown since stat().
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise InputError(f"The file cannot be read: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise _too_large(len(data), limits)
    return data


def _too_large(size: int, limits: Limits) -> FileTooLarge:
    mib = 1024 * 1024
    return FileTooLarge(
        f"The file is {size / mib:.1f} MiB; the limit is {limits.max_bytes / mib:.1f} MiB."
    )


def run_with_deadline(fn: Callable[[], T], seconds: float, what: str = "Decoding") -> T:
    """Run `fn` on a daemon thread and give up after `seconds` (raising `DecodeTimeout`).

    The decoders (and the C2PA library) are native code that Python cannot interrupt; a daemon
    thread lets the caller return (and a CLI process exit) on time even if a pathological file
    keeps one busy. Pillow releases the GIL while decoding, so this costs nothing measurable.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=target, name="photoloupe-decode", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DecodeTimeout(f"{what} took longer than the {seconds:g} s limit.")
    if error:
        raise error[0]
    return result[0]


def _decode(data: bytes, name: str, path: str | None, limits: Limits) -> Picture:
    try:
        return _decode_bytes(data, data, name, path, limits)
    except (TooManyPixels, DecompressionBomb, DecodeTimeout):
        raise
    except InputError:
        # A PNG whose pixels are fine can still be refused over one oversized metadata chunk
        # (zTXt, iCCP). Anyone could add such a chunk to block analysis, so the pixels are
        # decoded again without the chunks that do not describe them; the metadata reader
        # still sees the original bytes.
        stripped, dropped = _png_without_ancillary_chunks(data)
        if not dropped:
            raise
        picture = _decode_bytes(stripped, data, name, path, limits)
    note = (
        f"Metadata chunks ({', '.join(dropped)}) were set aside so that the pixels could be "
        "decoded."
    )
    object.__setattr__(picture, "notes", (*picture.notes, note))
    return picture


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary chunks that the pixels depend on (transparency, animation) are kept.
_PNG_PIXEL_CHUNKS = (b"tRNS", b"acTL", b"fcTL", b"fdAT")


def _png_without_ancillary_chunks(data: bytes) -> tuple[bytes, list[str]]:
    """The PNG without the metadata chunks Pillow refuses, and the types removed.

    First only the compressed chunks that inflate past Pillow's limit (or not at all) go; if
    none does, every metadata chunk goes. ([] and the bytes unchanged when there is none.)
    """
    if not data.startswith(_PNG_SIGNATURE):
        return data, []
    for drop in (_refused_chunk, _metadata_chunk):
        out = [_PNG_SIGNATURE]
        dropped: list[str] = []
        pos = len(_PNG_SIGNATURE)
        while pos + 8 <= len(data):
            length = int.from_bytes(data[pos : pos + 4], "big")
            kind = data[pos + 4 : pos + 8]
            end = pos + 12 + length
            if end > len(data):
                out.append(data[pos:])  # let the decoder report the truncation
                break
            if drop(kind, data[pos + 8 : end - 4]):
                name = kind.decode("latin-1")
                if name not in dropped:
                    dropped.append(name)
            else:
                out.append(data[pos:end])
            pos = end
        if dropped:
            return b"".join(out), dropped
    return data, []


def _metadata_chunk(kind: bytes, body: bytes) -> bool:
    return not kind[:1].isupper() and kind not in _PNG_PIXEL_CHUNKS


def _refused_chunk(kind: bytes, body: bytes) -> bool:
    """A zTXt, iTXt or iCCP chunk whose compressed text Pillow would refuse to inflate."""
    import zlib

    from PIL import PngImagePlugin

    if kind in (b"zTXt", b"iCCP"):
        start = body.find(b"\x00") + 2  # keyword, NUL, compression method
    elif kind == b"iTXt":
        start = body.find(b"\x00") + 1
        if start <= 0 or start >= len(body) or body[start] != 1:
            return False  # not compressed
        rest = body.find(b"\x00", start + 2)  # language tag
        rest = body.find(b"\x00", rest + 1) if rest >= 0 else -1  # translated keyword
        start = rest + 1 if rest >= 0 else len(body)
    else:
        return False
    if start < 2:
        return True
    limit = PngImagePlugin.MAX_TEXT_CHUNK
    try:
        inflated = zlib.decompressobj().decompress(body[start:], limit + 1)
    except zlib.error:
        return True
    return len(inflated) > limit


def _decode_bytes(
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
            im = Image.open(io.BytesIO(source), formats=_PILLOW_PLUGINS)
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
        raise _unidentified(data, name) from None
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


def _supported_signature(data: bytes) -> str | None:
    """The supported format whose signature `data` starts with, if any."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith((b"II*\x00", b"MM\x00*")) and data[8:10] != b"CR":
        return "TIFF"
    if data[4:8] == b"ftyp" and data[8:12] in _BMFF_BRANDS:
        return "AVIF" if data[8:12] in (b"avif", b"avis") else "HEIF"
    if data.startswith(b"BM") and len(data) > 14:
        return "BMP"
    return None


def _unidentified(data: bytes, name: str) -> InputError:
    kind = _supported_signature(data)
    if kind is not None:
        # The bytes begin as a picture photoloupe reads, but the decoder cannot even read the
        # header: the file was cut short or damaged, not an unknown format.
        return TruncatedFile(
            f"{name} starts like a {kind} file but is truncated or damaged: its headers cannot "
            "be read."
        )
    head = data[:64].lstrip()
    if head.startswith(b"RIFF"):
        return UnsupportedFormat(f"{name} holds RIFF data that is not WebP (a video or sound?).")
    for signature, offset, kind in _UNSUPPORTED_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return UnsupportedFormat(
                f"{name} holds {kind} data, which photoloupe does not read. "
                f"Supported: {supported_formats_text()}."
            )
    ext = Path(name).suffix.lower()
    if ext in _EXTENSIONS:
        return InputError(
            f"{name} is named like a {ext} picture, but its bytes are not a picture in any "
            f"format photoloupe reads ({supported_formats_text()}).",
            code="unrecognised",
        )
    return UnsupportedFormat(
        f"{name} is not a picture in a format photoloupe reads ({supported_formats_text()})."
    )


def display_path(path: str) -> str:
    """`path` as text that JSON can carry.

    File names are bytes on POSIX; Python keeps undecodable bytes as lone surrogates, which
    no JSON encoder accepts. They are shown as backslash escapes instead (the file itself is
    still opened by its real name).
    """
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def supported_formats_text() -> str:
    return "JPEG, PNG, WebP, HEIC/HEIF, AVIF, TIFF, GIF, BMP, MPO"


# Pillow raises on truncated data only while this is False (its default). Set here so that the
# truncation errors above are what a caller gets, as documented.
ImageFile.LOAD_TRUNCATED_IMAGES = False
