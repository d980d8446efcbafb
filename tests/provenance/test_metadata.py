"""Metadata extraction: known values from the corpus, and files made here."""

from __future__ import annotations

import io
import json

import pyexiv2
import pytest
from PIL import Image

from photoloupe.io import load_picture
from photoloupe.provenance.metadata import MAX_VALUE_CHARS, read_metadata
from tests.conftest import SHARED, needs_shared


def _jpeg_with(exif: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 100, 50)).save(buf, "JPEG")
    with pyexiv2.ImageData(buf.getvalue()) as img:
        img.modify_exif(exif)
        return bytes(img.get_bytes())


def test_gps_south_west_is_negative_decimal_degrees() -> None:
    data = _jpeg_with(
        {
            "Exif.GPSInfo.GPSLatitude": "33/1 51/1 3540/100",
            "Exif.GPSInfo.GPSLatitudeRef": "S",
            "Exif.GPSInfo.GPSLongitude": "151/1 12/1 3600/100",
            "Exif.GPSInfo.GPSLongitudeRef": "W",
            "Exif.GPSInfo.GPSAltitude": "58/1",
            "Exif.GPSInfo.GPSAltitudeRef": "1",
        }
    )
    gps = read_metadata(load_picture(data, name="x.jpg"))["gps"]
    assert gps["latitude"] == -round(33 + 51 / 60 + 35.4 / 3600, 7)
    assert gps["longitude"] == -151.21
    assert gps["altitude_m"] == -58.0


def test_dates_software_and_camera() -> None:
    data = _jpeg_with(
        {
            "Exif.Image.Make": "Canon",
            "Exif.Image.Model": "Canon EOS R5",
            "Exif.Image.Software": "Adobe Photoshop 25.0 (Windows)",
            "Exif.Photo.DateTimeOriginal": "2024:07:13 18:11:00",
            "Exif.Photo.DateTimeDigitized": "2024:07:13 18:11:00",
            "Exif.Image.DateTime": "2024:07:14 09:00:00",
        }
    )
    meta = read_metadata(load_picture(data, name="x.jpg"))
    assert (meta["make"], meta["model"]) == ("Canon", "Canon EOS R5")
    assert meta["dates"] == {
        "captured": "2024:07:13 18:11:00",
        "digitized": "2024:07:13 18:11:00",
        "modified": "2024:07:14 09:00:00",
    }
    assert meta["software"] == ["Adobe Photoshop 25.0 (Windows)"]
    assert meta["gps"] is None
    assert meta["thumbnail"] is None


def test_long_values_are_truncated_and_the_report_stays_json() -> None:
    huge = "x" * (3 * MAX_VALUE_CHARS)
    meta = read_metadata(load_picture(_jpeg_with({"Exif.Image.ImageDescription": huge}), name="x"))
    value = meta["exif"]["Exif.Image.ImageDescription"]
    assert value.startswith("x" * MAX_VALUE_CHARS)
    assert len(value) < MAX_VALUE_CHARS + 100
    assert "more characters" in value
    json.dumps(meta)


def test_too_many_tags_are_capped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from photoloupe.provenance import metadata

    monkeypatch.setattr(metadata, "MAX_TAGS_PER_BLOCK", 3)
    tags = {
        "Exif.Image.Make": "a",
        "Exif.Image.Model": "b",
        "Exif.Image.Software": "c",
        "Exif.Image.Artist": "d",
        "Exif.Image.Copyright": "e",
    }
    meta = read_metadata(load_picture(_jpeg_with(tags), name="x.jpg"))
    assert len(meta["exif"]) == 3
    assert meta["truncated"]["exif"] >= 2


def test_icc_profile_name() -> None:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG", icc_profile=profile)
    meta = read_metadata(load_picture(buf.getvalue(), name="x.jpg"))
    assert meta["icc_profile"] and "sRGB" in meta["icc_profile"]


def test_a_file_exiv2_cannot_read_still_gives_metadata_keys() -> None:
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    meta = read_metadata(load_picture(buf.getvalue(), name="x.gif"))
    for key in ("exif", "xmp", "iptc", "dates", "software", "gps", "thumbnail", "errors"):
        assert key in meta


@needs_shared
def test_gps_and_maker_notes_of_a_nikon_sample() -> None:
    meta = read_metadata(load_picture(SHARED / "metadata/exif-samples/exif-samples-0a7864e5fa.jpg"))
    assert meta["make"] == "NIKON"
    assert meta["gps"]["latitude"] == 43.4684417
    assert meta["gps"]["longitude"] == 11.881515
    assert meta["maker_notes"]["readable"] is True
    assert "Nikon3" in meta["maker_notes"]["groups"]
    assert any(k.startswith("Exif.Nikon3.") for k in meta["exif"])


@needs_shared
def test_heic_metadata_is_read() -> None:
    path = SHARED / "metadata/formats/metadata-extractor-image-f40b97f76a.heic"
    meta = read_metadata(load_picture(path))
    assert (meta["make"], meta["model"]) == ("Apple", "iPhone 8")
    assert meta["icc_profile"] == "Display P3"
    assert meta["gps"] is not None and abs(meta["gps"]["latitude"] - 23.1779167) < 1e-6


@needs_shared
def test_camera_thumbnail_facts() -> None:
    meta = read_metadata(load_picture(SHARED / "real/full/metadata-extractor-image-017cb13148.jpg"))
    assert meta["thumbnail"]["present"] is True
    assert (meta["thumbnail"]["width"], meta["thumbnail"]["height"]) == (160, 120)
    assert meta["dates"]["captured"] == "2000:12:30 10:18:16"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_a_damaged_exif_block_does_not_hide_an_xmp_ai_declaration() -> None:
    import photoloupe

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 90)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    bad_exif = _segment(0xE1, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(6))
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    )
    xmp_segment = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
    data = jpeg[:2] + bad_exif + xmp_segment + jpeg[2:]
    meta = read_metadata(load_picture(data, name="x.jpg"))
    assert meta["reader"] == "xmp-packet"
    assert meta["errors"]
    report = photoloupe.check(data, name="x.jpg")
    assert report.verdict.label == "ai-generated"
    assert report.provenance.ai_markers[0].where == "XMP iptcExt:DigitalSourceType"
    # The packet is read as XML, without its DTD: an entity (a "billion laughs") is never
    # expanded, and a packet that uses one gives nothing.
    hostile = b'<!DOCTYPE x [<!ENTITY e "eeeeeeee">]>' + xmp.replace(b"trained", b"&e;", 1)
    hostile_segment = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + hostile)
    meta = read_metadata(load_picture(jpeg[:2] + bad_exif + hostile_segment + jpeg[2:]))
    assert meta["reader"] is None and meta["xmp"] == {}


def test_unreadable_metadata_is_not_claimed_as_checked() -> None:
    import photoloupe

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 90)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    data = jpeg[:2] + _segment(0xE1, b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(6)) + jpeg[2:]
    report = photoloupe.check(data, name="x.jpg")
    assert report.provenance.metadata["reader"] is None
    assert "metadata" in report.verdict.not_checked
    assert "thumbnail" in report.verdict.not_checked
    assert "metadata could not be read" in report.verdict.summary


def test_png_text_chunks_are_capped_and_counted() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for n in range(250):
        info.add_text(f"k{n}", "v")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    meta = read_metadata(load_picture(buf.getvalue(), name="x.png"))
    assert len(meta["png_text"]) == 200
    assert meta["truncated"]["png_text"] == 50
