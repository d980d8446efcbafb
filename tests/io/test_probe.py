"""`probe_file`: the desk's intake checks before queueing, without decoding a pixel."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoloupe.errors import InputError
from photoloupe.io import Limits
from photoloupe.io.probe import probe_file
from tests.test_hostile import encode, jpeg_cut_at_sos_marker, jpeg_with_sof, picture, zero_png


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.jpg", b"", "empty_file"),
        ("doc.jpg", b"%PDF-1.4\n" + bytes(100), "unsupported_format"),
        ("noise.bin", bytes(range(256)) * 4, "unsupported_format"),
        ("huge.png", zero_png(65535, 65535), "too_many_pixels"),
        ("huge.jpg", jpeg_with_sof(65500, 65500), "too_many_pixels"),
    ],
)
def test_what_the_analysis_would_refuse_is_refused_at_once(
    tmp_path: Path, name: str, data: bytes, code: str
) -> None:
    with pytest.raises(InputError) as caught:
        probe_file(write(tmp_path, name, data), name)
    assert caught.value.code == code and caught.value.message


def test_readable_headers_pass_whatever_follows_them(tmp_path: Path) -> None:
    img = picture(3, (120, 80))
    assert probe_file(write(tmp_path, "a.jpg", encode(img, "JPEG")), "a.jpg") == "JPEG"
    assert probe_file(write(tmp_path, "a.png", encode(img, "PNG")), "a.png") == "PNG"
    assert probe_file(write(tmp_path, "a.webp", encode(img, "WEBP")), "a.webp") == "WebP"
    # A scan cut short is for the analysis to find: the header alone is sound.
    cut = write(tmp_path, "cut.jpg", jpeg_cut_at_sos_marker())
    assert probe_file(cut, "cut.jpg") == "JPEG"


def test_the_pixel_limit_is_the_callers(tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", encode(picture(1, (200, 100)), "PNG"))
    assert probe_file(path, "a.png", Limits(max_pixels=20_000)) == "PNG"
    with pytest.raises(InputError, match="200×100"):
        probe_file(path, "a.png", Limits(max_pixels=19_999))
