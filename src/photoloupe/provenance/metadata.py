"""EXIF, XMP, IPTC, GPS, ICC and the embedded thumbnail, read with exiv2 (pyexiv2).

The output is a plain dict that goes into the report under `provenance.metadata`. Values are
strings as exiv2 renders them, truncated so that a hostile file (a 10 MB EXIF block) cannot
inflate the report; counts of what was dropped are kept so nothing is silently lost.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pyexiv2
from PIL import ImageCms

from photoloupe.io import Picture
from photoloupe.provenance.xmp import find_packet, properties

# exiv2 prints warnings about odd-but-common files to stderr; the report carries what matters.
pyexiv2.set_log_level(4)

MAX_VALUE_CHARS = 2000
MAX_TAGS_PER_BLOCK = 3000
MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
MAX_PNG_TEXT_CHUNKS = 200

_MAKERNOTE_GROUPS = (
    "Canon",
    "Nikon",
    "Olympus",
    "Panasonic",
    "Pentax",
    "Sony",
    "Fujifilm",
    "Minolta",
    "Samsung",
    "Sigma",
    "Casio",
    "Apple",
    "Google",
    "Leica",
    "Kodak",
    "Ricoh",
    "Sanyo",
    "Nintendo",
)
_BINARY_VALUE = re.compile(r"^(?:\d{1,3} ){64,}")

# Where each kind of date lives, most specific first.
_DATE_KEYS: dict[str, tuple[str, ...]] = {
    "captured": (
        "Exif.Photo.DateTimeOriginal",
        "Xmp.exif.DateTimeOriginal",
        "Xmp.photoshop.DateCreated",
        "Iptc.Application2.DateCreated",
    ),
    "digitized": (
        "Exif.Photo.DateTimeDigitized",
        "Xmp.xmp.CreateDate",
        "Xmp.exif.DateTimeDigitized",
    ),
    "modified": ("Exif.Image.DateTime", "Xmp.xmp.ModifyDate", "Xmp.xmp.MetadataDate"),
}
_SOFTWARE_KEYS = (
    "Exif.Image.Software",
    "Exif.Image.ProcessingSoftware",
    "Xmp.xmp.CreatorTool",
    "Xmp.tiff.Software",
)


@dataclass(frozen=True)
class Exiv2Blocks:
    """What one exiv2 parse of a file gives: its raw blocks and the embedded thumbnail.

    `failure` is exiv2's own reason when it could not open the file at all.
    """

    exif: dict[str, Any] = field(default_factory=dict)
    xmp: dict[str, Any] = field(default_factory=dict)
    iptc: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    thumbnail: bytes | None = None
    errors: tuple[str, ...] = ()
    failure: str | None = None


def parse_exiv2(data: bytes) -> Exiv2Blocks:
    """Parse the file once with exiv2 (metadata and thumbnail share this parse)."""
    errors: list[str] = []
    try:
        with pyexiv2.ImageData(data) as img:
            exif = _read(img.read_exif, errors, "EXIF")
            xmp = _read(img.read_xmp, errors, "XMP")
            iptc = _read(img.read_iptc, errors, "IPTC")
            raw_comment = _read(img.read_comment, errors, "comment")
            thumb = _read_thumbnail(img)
    except Exception as exc:  # exiv2 refuses some containers (GIF, BMP) and damaged blocks
        return Exiv2Blocks(errors=tuple(errors), failure=_short(exc))
    comment = str(raw_comment) if raw_comment else None
    return Exiv2Blocks(exif, xmp, iptc, comment, thumb, tuple(errors))


def read_metadata(picture: Picture, blocks: Exiv2Blocks | None = None) -> dict[str, Any]:
    """Everything the file says about itself, as a JSON-ready dict (`blocks`: the file's
    exiv2 parse, when the caller has it already).

    Keys: exif, xmp, iptc (tag -> text), maker_notes, make, model, lens, dates
    (captured / digitized / modified), software (list), gps (or None), icc_profile (name or
    None), thumbnail (present / width / height / bytes or None), comment, png_text, truncated
    (what was cut), errors, reader ("exiv2", "xmp-packet" when only the XMP text could be
    read, or None when nothing could).
    """
    blocks = blocks if blocks is not None else parse_exiv2(picture.data)
    errors = list(blocks.errors)
    truncated: dict[str, int] = {}
    reader: str | None = "exiv2"
    exif = _clean_block(blocks.exif, "exif", truncated)
    xmp = _clean_block(blocks.xmp, "xmp", truncated)
    iptc = _clean_block(blocks.iptc, "iptc", truncated)
    comment = _clip(blocks.comment) if blocks.comment else None
    thumb = blocks.thumbnail
    if blocks.failure is not None:
        errors.append(f"The metadata could not be read by exiv2: {blocks.failure}")
        # A damaged EXIF block makes exiv2 give up on the whole file, XMP included; the XMP
        # packet is plain text, so its declarations can still be read.
        xmp = _clean_block(_xmp_packet_fields(picture.data), "xmp", truncated)
        reader = "xmp-packet" if xmp else None

    merged: dict[str, str] = {**exif, **xmp, **iptc}
    maker_groups = sorted(
        {k.split(".")[1] for k in exif if k.split(".")[1].startswith(_MAKERNOTE_GROUPS)}
    )
    return {
        "make": _first(merged, "Exif.Image.Make", "Xmp.tiff.Make"),
        "model": _first(merged, "Exif.Image.Model", "Xmp.tiff.Model"),
        "lens": _first(merged, "Exif.Photo.LensModel", "Xmp.aux.Lens", "Xmp.exifEX.LensModel"),
        "serial_number": _first(merged, "Exif.Photo.BodySerialNumber", "Xmp.aux.SerialNumber"),
        "dates": {kind: _first(merged, *keys) for kind, keys in _DATE_KEYS.items()},
        "software": _software(merged),
        "history_software_agents": _history_agents(xmp),
        "gps": _gps(exif),
        "icc_profile": _icc_name(picture.icc_profile),
        "thumbnail": _thumbnail_facts(thumb),
        "comment": comment,
        "maker_notes": {
            "present": bool(maker_groups) or "Exif.Photo.MakerNote" in exif,
            "readable": bool(maker_groups),
            "groups": maker_groups,
        },
        "png_text": _png_text(picture.text_chunks, truncated),
        "exif": exif,
        "xmp": xmp,
        "iptc": iptc,
        "truncated": truncated,
        "errors": errors,
        "reader": reader,
    }


# XMP namespace prefixes as exiv2 names their groups.
_XMP_GROUPS = {"Iptc4xmpExt": "iptcExt", "Iptc4xmpCore": "iptc", "xmpMM": "xmpMM", "stEvt": "xmpMM"}


def _xmp_packet_fields(data: bytes) -> dict[str, str]:
    """Properties of the first XMP packet in `data`, read as XML by `xmp.properties` (DTDs
    and entities refused), keyed like exiv2 ("Xmp.<group>.<name>")."""
    packet = find_packet(data)
    if packet is None:
        return {}
    fields: dict[str, str] = {}
    for prefix, name, value in properties(packet):
        fields.setdefault(f"Xmp.{_XMP_GROUPS.get(prefix, prefix)}.{name}", value)
    return fields


def read_thumbnail(data: bytes) -> bytes | None:
    """The EXIF thumbnail (IFD1 JPEG) of a file, or None."""
    return parse_exiv2(data).thumbnail


def _read_thumbnail(img: Any) -> bytes | None:
    try:
        thumb = img.read_thumbnail()
    except Exception:  # exiv2 raises when there is none
        return None
    if not thumb or len(thumb) > MAX_THUMBNAIL_BYTES:
        return None
    return bytes(thumb)


def _png_text(chunks: dict[str, str], truncated: dict[str, int]) -> dict[str, str]:
    out = {key: _clip(value) for key, value in list(chunks.items())[:MAX_PNG_TEXT_CHUNKS]}
    if len(chunks) > MAX_PNG_TEXT_CHUNKS:
        truncated["png_text"] = len(chunks) - MAX_PNG_TEXT_CHUNKS
    return out


def _read(fn: Any, errors: list[str], what: str) -> Any:
    try:
        return fn()
    except UnicodeDecodeError:
        try:
            return fn(encoding="latin-1")
        except Exception as exc:
            errors.append(f"{what} could not be decoded: {_short(exc)}")
    except Exception as exc:
        errors.append(f"{what} could not be read: {_short(exc)}")
    return {}


def _clean_block(block: Any, name: str, truncated: dict[str, int]) -> dict[str, str]:
    if not isinstance(block, dict):
        return {}
    out: dict[str, str] = {}
    dropped = 0
    for key, value in block.items():
        if len(out) >= MAX_TAGS_PER_BLOCK:
            dropped += 1
            continue
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}={v}" for k, v in value.items())
        text = str(value)
        if _BINARY_VALUE.match(text):
            text = f"<binary, {text.count(' ') + 1} bytes>"
        out[str(key)[:200]] = _clip(text)
    if dropped:
        truncated[name] = dropped
    return out


def _clip(text: str) -> str:
    text = text.replace("\x00", "").strip()
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + f"… [{len(text) - MAX_VALUE_CHARS} more characters]"
    return text


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _first(block: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        value = block.get(key)
        if value and value.strip() and not value.startswith("<binary"):
            return value.strip()
    return None


def _software(block: dict[str, str]) -> list[str]:
    found: list[str] = []
    for key in _SOFTWARE_KEYS:
        value = block.get(key)
        if value and value.strip() and value.strip() not in found:
            found.append(value.strip())
    return found


def _history_agents(xmp: dict[str, str]) -> list[str]:
    agents: list[str] = []
    for key, value in xmp.items():
        is_agent = key.startswith("Xmp.xmpMM.History") and key.endswith("softwareAgent")
        if is_agent and value not in agents:
            agents.append(value)
    return agents


def _rational(text: str) -> float | None:
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        return None


def _dms(text: str | None, ref: str | None) -> float | None:
    if not text:
        return None
    parts = [_rational(p) for p in text.split()]
    if len(parts) != 3 or any(p is None for p in parts):
        return None
    deg, minutes, seconds = (p or 0.0 for p in parts)
    value = deg + minutes / 60 + seconds / 3600
    if ref and ref.strip().upper() in ("S", "W"):
        value = -value
    return round(value, 7)


def _gps(exif: dict[str, str]) -> dict[str, Any] | None:
    lat = _dms(exif.get("Exif.GPSInfo.GPSLatitude"), exif.get("Exif.GPSInfo.GPSLatitudeRef"))
    lon = _dms(exif.get("Exif.GPSInfo.GPSLongitude"), exif.get("Exif.GPSInfo.GPSLongitudeRef"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    alt_text = exif.get("Exif.GPSInfo.GPSAltitude")
    altitude = _rational(alt_text) if alt_text else None
    if altitude is not None and exif.get("Exif.GPSInfo.GPSAltitudeRef", "0").strip() == "1":
        altitude = -altitude
    return {
        "latitude": lat,
        "longitude": lon,
        "altitude_m": round(altitude, 2) if altitude is not None else None,
        "date": exif.get("Exif.GPSInfo.GPSDateStamp"),
        "time": exif.get("Exif.GPSInfo.GPSTimeStamp"),
    }


def _icc_name(icc: bytes | None) -> str | None:
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip()
    except Exception:  # a damaged profile is reported by name only
        return "unreadable ICC profile"
    return _clip(name) or None


def _thumbnail_facts(thumb: bytes | None) -> dict[str, Any] | None:
    if not thumb:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(thumb)) as im:
            width, height = im.size
    except Exception:
        return {"present": True, "readable": False, "bytes": len(thumb)}
    return {
        "present": True,
        "readable": True,
        "width": width,
        "height": height,
        "bytes": len(thumb),
    }
