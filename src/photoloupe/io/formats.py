"""The formats photoloupe reads: their MIME types, extensions and signatures, and the
error that names a format it recognises but does not read."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageFile

from photoloupe.errors import (
    InputError,
    TruncatedFile,
    UnsupportedFormat,
)

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
PILLOW_PLUGINS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "GIF", "BMP")

# Extension -> the formats it may honestly hold (DNG is TIFF-based; JPEG may carry MPO data).
EXTENSIONS: dict[str, tuple[str, ...]] = {
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
UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
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

BMFF_BRANDS = (
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


def supported_signature(data: bytes) -> str | None:
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
    if data[4:8] == b"ftyp" and data[8:12] in BMFF_BRANDS:
        return "AVIF" if data[8:12] in (b"avif", b"avis") else "HEIF"
    if data.startswith(b"BM") and len(data) > 14:
        return "BMP"
    return None


def unidentified(data: bytes, name: str) -> InputError:
    kind = supported_signature(data)
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
    for signature, offset, kind in UNSUPPORTED_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return UnsupportedFormat(
                f"{name} holds {kind} data, which photoloupe does not read. "
                f"Supported: {supported_formats_text()}."
            )
    ext = Path(name).suffix.lower()
    if ext in EXTENSIONS:
        return InputError(
            f"{name} is named like a {ext} picture, but its bytes are not a picture in any "
            f"format photoloupe reads ({supported_formats_text()}).",
            code="unrecognised",
        )
    return UnsupportedFormat(
        f"{name} is not a picture in a format photoloupe reads ({supported_formats_text()})."
    )


def supported_formats_text() -> str:
    return "JPEG, PNG, WebP, HEIC/HEIF, AVIF, TIFF, GIF, BMP, MPO"


# Pillow raises on truncated data only while this is False (its default). Set here so that the
# truncation errors above are what a caller gets, as documented.
ImageFile.LOAD_TRUNCATED_IMAGES = False
