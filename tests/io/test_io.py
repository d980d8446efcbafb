"""Intake (`photoloupe.io.load_picture`): one test per behaviour.

Every input is generated here (Pillow, pillow_heif, OpenCV, pyexiv2), never read from a corpus.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pyexiv2
import pytest
from PIL import Image

import photoloupe.io as pio
from photoloupe.errors import (
    DecodeTimeout,
    EmptyFile,
    FileTooLarge,
    InputError,
    NotFound,
    TooManyPixels,
    UnsupportedFormat,
)
from photoloupe.io import Limits, Picture, load_picture

Array = npt.NDArray[np.uint8]

H, W, BLOCK = 48, 64, 16  # 3 x 4 flat blocks, aligned to JPEG/HEIF coding blocks

# Twelve clearly different colours: any wrong rotation or flip moves at least one of them.
PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
        (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
        (210, 245, 60), (250, 190, 190), (0, 128, 128), (128, 128, 0),
    ],
    dtype=np.uint8,
)  # fmt: skip

# IJG (libjpeg) standard luminance table, natural order: libjpeg's table at quality 50.
IJG_LUMA_Q50 = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def blocks(shift: int = 0) -> Array:
    """H x W RGB image of 12 flat, distinct 16 x 16 blocks; `shift` permutes the colours."""
    ids = (np.arange(12) + shift) % 12
    grid = PALETTE[ids].reshape(3, 4, 3)
    return np.ascontiguousarray(grid.repeat(BLOCK, axis=0).repeat(BLOCK, axis=1))


def encode(img: Image.Image | Array, fmt: str, **kwargs: Any) -> bytes:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def encode_frames(frames: list[Array], fmt: str, **kwargs: Any) -> bytes:
    # Fresh Image objects each time: Pillow keeps encoder state on an image it has saved.
    images = [Image.fromarray(f) for f in frames]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], **kwargs)


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def zero_png(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG of zeros, built without holding its pixels in memory."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    stride = width + 1  # filter byte + samples
    segment = deflate.compress(bytes(stride * 64)) + deflate.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(height, 64)
    tail = deflate.compress(bytes(stride * rest)) + deflate.flush()
    total = stride * height
    adler = ((total % 65521) << 16) | 1  # Adler-32 of `total` zero bytes
    idat = b"\x78\xda" + segment * whole + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def broken_idat_png() -> bytes:
    """An 8 x 8 greyscale PNG whose IDAT (with valid CRCs) is not a zlib stream."""
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 40)
        + chunk(b"IEND", b"")
    )


def mean_abs_diff(a: Array, b: Array) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def with_orientation_png(pixels: Array, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(pixels, "PNG", exif=exif.tobytes())


# --- formats ---------------------------------------------------------------------------------

FORMATS = [
    # (Pillow save format, save kwargs, file name, expected format, MIME, lossless)
    pytest.param("JPEG", {"quality": 95}, "a.jpg", "JPEG", "image/jpeg", False, id="jpeg"),
    pytest.param("PNG", {}, "a.png", "PNG", "image/png", True, id="png"),
    pytest.param(
        "WEBP", {"lossless": True}, "a.webp", "WEBP", "image/webp", True, id="webp-lossless"
    ),
    pytest.param("WEBP", {"quality": 95}, "a.webp", "WEBP", "image/webp", False, id="webp-lossy"),
    pytest.param("HEIF", {"quality": 95}, "a.heic", "HEIF", "image/heif", False, id="heic"),
    pytest.param("AVIF", {"quality": 95}, "a.avif", "AVIF", "image/avif", False, id="avif"),
    pytest.param("TIFF", {}, "a.tif", "TIFF", "image/tiff", True, id="tiff"),
    pytest.param("GIF", {}, "a.gif", "GIF", "image/gif", True, id="gif"),
    pytest.param("BMP", {}, "a.bmp", "BMP", "image/bmp", True, id="bmp"),
]


@pytest.mark.parametrize(("save_as", "kwargs", "name", "fmt", "mime", "lossless"), FORMATS)
def test_decodes_format(
    save_as: str, kwargs: dict[str, Any], name: str, fmt: str, mime: str, lossless: bool
) -> None:
    src = blocks()
    pic = load_picture(encode(src, save_as, **kwargs), name=name)
    assert (pic.format, pic.mime) == (fmt, mime)
    assert (pic.width, pic.height) == (W, H)
    assert pic.pixels.shape == (H, W, 3)
    assert pic.pixels.dtype == np.uint8
    assert (pic.frames, pic.animated, pic.has_alpha) == (1, False, False)
    assert pic.extension_matches_content is True
    if lossless:
        np.testing.assert_array_equal(pic.pixels, src)
    else:
        assert mean_abs_diff(pic.pixels, src) < 6


def test_pixels_are_c_contiguous() -> None:
    pic = load_picture(encode(blocks(), "PNG"), name="a.png")
    assert pic.pixels.flags["C_CONTIGUOUS"]


def test_mpo_first_picture_analysed_and_not_animated() -> None:
    first, second = blocks(), blocks(shift=5)
    pic = load_picture(encode_frames([first, second], "MPO", quality=95), name="stereo.jpg")
    assert (pic.format, pic.mime) == ("MPO", "image/jpeg")
    assert pic.frames == 2
    assert pic.animated is False
    assert pic.extension_matches_content is True
    assert any("2 pictures" in n and "only the first" in n for n in pic.notes)
    assert mean_abs_diff(pic.pixels, first) < mean_abs_diff(pic.pixels, second)


ANIMATIONS = [
    pytest.param("WEBP", {"lossless": True, "duration": 100, "loop": 0}, "a.webp", id="webp"),
    pytest.param("GIF", {"duration": 100, "loop": 0}, "a.gif", id="gif"),
    pytest.param("PNG", {"duration": 100, "loop": 0}, "a.png", id="apng"),
]


@pytest.mark.parametrize(("save_as", "kwargs", "name"), ANIMATIONS)
def test_animation_first_frame_analysed(save_as: str, kwargs: dict[str, Any], name: str) -> None:
    frames = [blocks(shift=s) for s in (0, 3, 7)]
    pic = load_picture(encode_frames(frames, save_as, **kwargs), name=name)
    assert pic.frames == 3
    assert pic.animated is True
    assert any("3 frames" in n and "only the first was analysed" in n for n in pic.notes)
    np.testing.assert_array_equal(pic.pixels, frames[0])


def test_multipage_tiff_first_page_analysed_not_animated() -> None:
    pages = [blocks(shift=s) for s in (0, 4, 8)]
    pic = load_picture(encode_frames(pages, "TIFF"), name="scan.tiff")
    assert pic.format == "TIFF"
    assert pic.frames == 3
    # docs/report-schema.md: `animated` means an animation (GIF, WebP, APNG), not pages.
    assert pic.animated is False
    assert any("3 pictures" in n for n in pic.notes)
    np.testing.assert_array_equal(pic.pixels, pages[0])


# --- EXIF orientation ------------------------------------------------------------------------

# What a viewer must show for each EXIF orientation, from the TIFF/EXIF specification.
DISPLAY: dict[int, Callable[[Array], Array]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored horizontally
    3: lambda a: np.rot90(a, 2),  # rotated 180
    4: lambda a: a[::-1],  # mirrored vertically
    5: lambda a: a.transpose(1, 0, 2),  # transposed (mirror + 270 CW)
    6: lambda a: np.rot90(a, -1),  # needs 90 degrees clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),  # transversed (mirror + 90 CW)
    8: lambda a: np.rot90(a, 1),  # needs 90 degrees counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(DISPLAY))
def test_orientation_applied_for_display_only(orientation: int) -> None:
    stored = blocks()
    pic = load_picture(with_orientation_png(stored, orientation), name="o.png")
    assert pic.orientation == orientation
    assert (pic.width, pic.height) == (W, H)  # stored size
    np.testing.assert_array_equal(pic.pixels, stored)
    np.testing.assert_array_equal(pic.display_pixels(), DISPLAY[orientation](stored))


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))],
    ids=["3-bottom-right", "6-top-right", "8-bottom-left"],
)
def test_orientation_moves_stored_top_left_corner(
    orientation: int, corner: tuple[int, int]
) -> None:
    stored = blocks()  # stored top-left block is PALETTE[0]
    shown = load_picture(with_orientation_png(stored, orientation), name="o.png").display_pixels()
    assert tuple(shown[corner]) == tuple(PALETTE[0])
    assert tuple(shown[0, 0]) != tuple(PALETTE[0])


def test_orientation_written_by_exiv2_in_jpeg() -> None:
    with pyexiv2.ImageData(encode(blocks(), "JPEG", quality=95)) as meta:
        meta.modify_exif({"Exif.Image.Orientation": "6"})
        data = meta.get_bytes()
    pic = load_picture(data, name="phone.jpg")
    assert pic.orientation == 6
    assert pic.pixels.shape == (H, W, 3)
    assert pic.display_pixels().shape == (W, H, 3)
    np.testing.assert_array_equal(pic.display_pixels(), np.rot90(pic.pixels, -1))


@pytest.mark.parametrize("value", [0, 9, 300])
def test_invalid_orientation_is_ignored(value: int) -> None:
    stored = blocks()
    pic = load_picture(with_orientation_png(stored, value), name="o.png")
    assert pic.orientation == 1
    np.testing.assert_array_equal(pic.display_pixels(), stored)


def test_no_exif_means_orientation_1() -> None:
    pic = load_picture(encode(blocks(), "PNG"), name="a.png")
    assert (pic.orientation, pic.exif) == (1, None)


def test_exif_chunk_after_image_data_is_read() -> None:
    """PNG allows eXIf after IDAT; it is only seen once the image is decoded."""
    stored = blocks()
    exif = Image.Exif()
    exif[0x0112] = 6
    png = encode(stored, "PNG")
    iend = png.rindex(b"IEND") - 4
    pic = load_picture(png[:iend] + chunk(b"eXIf", exif.tobytes()[6:]) + png[iend:], name="o.png")
    assert pic.orientation == 6
    assert pic.exif is not None
    np.testing.assert_array_equal(pic.display_pixels(), np.rot90(stored, -1))


def test_broken_png_data_is_an_error_not_a_black_picture() -> None:
    with pytest.raises(InputError):
        load_picture(broken_idat_png(), name="broken.png")


def test_truncated_data_is_refused_even_if_another_library_flipped_pillow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # WeasyPrint, imported by the desk's PDF export, sets this process-wide on import.
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InputError):
        load_picture(broken_idat_png(), name="broken.png")


def test_size_is_what_the_decoder_produced() -> None:
    """A HEIF clean aperture (clap) larger than the coded image is ignored by the decoder."""
    data = encode(blocks(), "HEIF", quality=95)
    at = data.index(b"clap") + 4  # width N/D, height N/D, offsets: 32-bit each
    bad = data[: at + 8] + struct.pack(">I", 240) + data[at + 12 :]
    pic = load_picture(bad, name="clap.heic")
    assert pic.pixels.shape == (pic.height, pic.width, 3)


# --- normalisation to 8-bit RGB --------------------------------------------------------------


def test_16bit_grey_png_scaled_to_8_bits() -> None:
    grey = np.array([[0, 65535, 32896, 257, 65280]], dtype=np.uint16)
    data = encode(Image.fromarray(grey), "PNG")
    pic = load_picture(data, name="g16.png")
    assert (pic.color_mode, pic.bit_depth) == ("I;16", 16)
    assert pic.pixels.dtype == np.uint8
    np.testing.assert_array_equal(pic.pixels[0, :, 0], [0, 255, 128, 1, 254])
    np.testing.assert_array_equal(pic.pixels[..., 0], pic.pixels[..., 1])
    np.testing.assert_array_equal(pic.pixels[..., 0], pic.pixels[..., 2])


def test_16bit_rgb_png_from_opencv(tmp_path: Path) -> None:
    bgr = np.zeros((4, 6, 3), dtype=np.uint16)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 0, 32896, 65535  # OpenCV order: B, G, R
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), bgr)
    assert path.read_bytes()[24] == 16  # IHDR bit depth: really a 16-bit file
    pic = load_picture(path)
    assert pic.bit_depth == 16
    assert pic.pixels.shape == (4, 6, 3)
    assert (pic.pixels == np.array([255, 128, 0], dtype=np.uint8)).all()
    assert any("16-bit" in n for n in pic.notes)


def test_cmyk_jpeg_converted_to_rgb() -> None:
    cmyk = Image.new("CMYK", (32, 16), (255, 0, 0, 0))  # cyan
    cmyk.paste((0, 255, 0, 0), (16, 0, 32, 16))  # magenta on the right
    pic = load_picture(encode(cmyk, "JPEG", quality=95), name="print.jpg")
    assert pic.color_mode == "CMYK"
    assert pic.pixels.shape == (16, 32, 3)
    np.testing.assert_allclose(pic.pixels[8, 4], (0, 255, 255), atol=4)
    np.testing.assert_allclose(pic.pixels[8, 28], (255, 0, 255), atol=4)
    assert any("CMYK" in n for n in pic.notes)


def test_palette_png_with_transparency() -> None:
    pal = Image.new("P", (8, 4), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255])  # index 0 red (transparent), index 1 blue
    pal.paste(1, (4, 0, 8, 4))
    pic = load_picture(encode(pal, "PNG", transparency=0), name="p.png")
    assert pic.color_mode == "P"
    assert pic.has_alpha is True
    # The transparent colour is kept as stored, not blended onto black or white.
    assert (pic.pixels[:, :4] == (255, 0, 0)).all()
    assert (pic.pixels[:, 4:] == (0, 0, 255)).all()


def test_rgba_alpha_dropped_not_premultiplied() -> None:
    rgb = blocks()
    alpha = np.tile(np.linspace(0, 255, W, dtype=np.uint8), (H, 1))  # includes fully transparent
    pic = load_picture(encode(np.dstack([rgb, alpha]), "PNG"), name="rgba.png")
    assert (pic.color_mode, pic.has_alpha) == ("RGBA", True)
    np.testing.assert_array_equal(pic.pixels, rgb)


def test_grey_alpha_dropped() -> None:
    grey = blocks()[..., 0]
    la = Image.fromarray(np.dstack([grey, np.zeros_like(grey)]), "LA")
    pic = load_picture(encode(la, "PNG"), name="la.png")
    assert pic.has_alpha is True
    np.testing.assert_array_equal(pic.pixels, np.repeat(grey[..., None], 3, axis=2))


def test_greyscale_becomes_three_equal_channels() -> None:
    grey = blocks()[..., 1]
    pic = load_picture(encode(grey, "PNG"), name="l.png")
    assert (pic.color_mode, pic.bit_depth, pic.has_alpha, pic.notes) == ("L", 8, False, ())
    for channel in range(3):
        np.testing.assert_array_equal(pic.pixels[..., channel], grey)


def test_bilevel_mode_1() -> None:
    bits = blocks()[..., 0] > 128
    pic = load_picture(encode(Image.fromarray(bits), "PNG"), name="bw.png")
    assert (pic.color_mode, pic.bit_depth) == ("1", 1)
    np.testing.assert_array_equal(pic.pixels[..., 2], np.where(bits, 255, 0))


def test_float_tiff_in_unit_range_is_not_black() -> None:
    ramp = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    pic = load_picture(encode(Image.fromarray(ramp, "F"), "TIFF"), name="float.tif")
    assert pic.pixels.max() >= 250


# --- JPEG encoder traces ---------------------------------------------------------------------


@pytest.mark.parametrize("quality", [50, 75, 90, 95])
def test_jpeg_quantisation_tables_and_quality(quality: int) -> None:
    data = encode(blocks(), "JPEG", quality=quality)
    pic = load_picture(data, name="q.jpg")
    assert pic.jpeg is not None
    assert set(pic.jpeg.quantization) == {0, 1}
    with Image.open(io.BytesIO(data)) as im:
        assert pic.jpeg.quantization[0] == tuple(im.quantization[0])
    assert pic.jpeg.estimated_quality is not None
    assert abs(pic.jpeg.estimated_quality - quality) <= 1


def test_jpeg_tables_are_in_natural_order() -> None:
    pic = load_picture(encode(blocks(), "JPEG", quality=50), name="q50.jpg")
    assert pic.jpeg is not None
    assert pic.jpeg.quantization[0] == IJG_LUMA_Q50


def test_jpeg_custom_tables_kept() -> None:
    luma, chroma = list(range(1, 65)), [7] * 64
    pic = load_picture(encode(blocks(), "JPEG", qtables=[luma, chroma]), name="c.jpg")
    assert pic.jpeg is not None
    assert pic.jpeg.quantization == {0: tuple(luma), 1: tuple(chroma)}


@pytest.mark.parametrize(("subsampling", "expected"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_jpeg_subsampling(subsampling: int, expected: str) -> None:
    pic = load_picture(encode(blocks(), "JPEG", subsampling=subsampling), name="s.jpg")
    assert pic.jpeg is not None
    assert pic.jpeg.subsampling == expected


def test_greyscale_jpeg_has_one_table_and_no_chroma() -> None:
    pic = load_picture(encode(blocks()[..., 0], "JPEG"), name="g.jpg")
    assert pic.jpeg is not None
    assert (set(pic.jpeg.quantization), pic.jpeg.subsampling) == ({0}, "4:0:0")


@pytest.mark.parametrize("progressive", [True, False])
def test_jpeg_progressive_flag(progressive: bool) -> None:
    pic = load_picture(encode(blocks(), "JPEG", progressive=progressive), name="p.jpg")
    assert pic.jpeg is not None
    assert pic.jpeg.progressive is progressive


def test_non_jpeg_has_no_jpeg_tables() -> None:
    assert load_picture(encode(blocks(), "PNG"), name="a.png").jpeg is None


# --- original bytes, hash, path vs bytes -----------------------------------------------------


def test_original_bytes_kept_and_hashed() -> None:
    data = encode(blocks(), "JPEG")
    pic = load_picture(data, name="a.jpg")
    assert pic.data == data
    assert pic.sha256 == hashlib.sha256(data).hexdigest()


def test_path_and_bytes_agree(tmp_path: Path) -> None:
    data = encode(blocks(), "JPEG", quality=80)
    path = tmp_path / "same.jpg"
    path.write_bytes(data)
    from_path, from_bytes = load_picture(path), load_picture(data, name="same.jpg")
    assert (from_path.path, from_path.name) == (str(path), "same.jpg")
    assert from_bytes.path is None
    assert from_path.data == from_bytes.data == data
    assert from_path.sha256 == from_bytes.sha256
    assert from_path.jpeg == from_bytes.jpeg
    for attr in ("format", "mime", "width", "height", "frames", "color_mode", "notes"):
        assert getattr(from_path, attr) == getattr(from_bytes, attr), attr
    np.testing.assert_array_equal(from_path.pixels, from_bytes.pixels)


def test_bytes_without_name_are_called_upload() -> None:
    pic = load_picture(bytearray(encode(blocks(), "PNG")))
    assert (pic.name, pic.extension, pic.extension_matches_content) == ("upload", "", None)


# --- limits ----------------------------------------------------------------------------------


def test_bytes_over_limit() -> None:
    data = encode(blocks(), "PNG")
    assert load_picture(data, name="a.png", limits=Limits(max_bytes=len(data))).data == data
    with pytest.raises(FileTooLarge):
        load_picture(data, name="a.png", limits=Limits(max_bytes=len(data) - 1))


def test_path_over_limit_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as fh:
        fh.write(encode(blocks(), "PNG"))
        fh.truncate(101 * 1024 * 1024)  # sparse: over the default 100 MiB limit, no disk used

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened although its size is over the limit")

    monkeypatch.setattr(pio, "open", no_open, raising=False)
    with pytest.raises(FileTooLarge) as info:
        load_picture(path)
    assert info.value.code == "file_too_large"


def test_pixels_over_limit() -> None:
    data = encode(blocks(), "PNG")
    assert load_picture(data, name="a.png", limits=Limits(max_pixels=W * H)).width == W
    with pytest.raises(TooManyPixels):
        load_picture(data, name="a.png", limits=Limits(max_pixels=W * H - 1))


def test_decode_timeout() -> None:
    data = zero_png(3000, 3000)
    with pytest.raises(DecodeTimeout):
        load_picture(data, name="big.png", limits=Limits(max_decode_seconds=1e-6))


def test_empty_bytes_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyFile):
        load_picture(b"", name="a.jpg")
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(EmptyFile):
        load_picture(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_picture(tmp_path / "missing.jpg")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_picture(tmp_path)
    assert info.value.code == "not_a_file"


# --- extension versus content ----------------------------------------------------------------


def test_png_named_jpg_analysed_as_png() -> None:
    pic = load_picture(encode(blocks(), "PNG"), name="photo.jpg")
    assert (pic.format, pic.mime) == ("PNG", "image/png")
    assert pic.extension == ".jpg"
    assert pic.extension_matches_content is False
    assert any(".jpg" in n and "PNG" in n for n in pic.notes)


@pytest.mark.parametrize("name", ["a.JPG", "a.jpeg", "a.jfif", "a.mpo"])
def test_jpeg_extensions_match(name: str) -> None:
    pic = load_picture(encode(blocks(), "JPEG"), name=name)
    assert pic.extension_matches_content is True
    assert not any("file name ends" in n for n in pic.notes)


def test_unknown_extension_is_neither_match_nor_mismatch() -> None:
    pic = load_picture(encode(blocks(), "PNG"), name="blob.dat")
    assert pic.extension_matches_content is None
    assert pic.notes == ()


UNSUPPORTED = [
    pytest.param(b"8BPS\x00\x01" + bytes(20), "Photoshop", id="psd"),
    pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF", id="pdf"),
    pytest.param(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "SVG", id="svg"
    ),
    pytest.param(
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG", id="xml"
    ),
]


@pytest.mark.parametrize(("data", "kind"), UNSUPPORTED)
def test_unsupported_format_named_jpg(data: bytes, kind: str) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        load_picture(data, name="fake.jpg")
    assert info.value.code == "unsupported_format"
    assert kind in info.value.message


@pytest.mark.parametrize("name", ["noise.jpg", "noise.png"])
def test_random_bytes_named_like_a_picture(name: str) -> None:
    data = np.random.default_rng(7).bytes(4096)
    with pytest.raises(InputError) as info:
        load_picture(data, name=name)
    assert type(info.value) is InputError
    assert info.value.code == "unrecognised"
    assert name in info.value.message


def test_random_bytes_without_picture_extension() -> None:
    with pytest.raises(UnsupportedFormat):
        load_picture(np.random.default_rng(7).bytes(4096), name="noise.bin")


def test_damaged_webp_is_not_called_unsupported() -> None:
    data = encode(blocks(), "WEBP")
    at = data.index(b"VP8")
    with pytest.raises(InputError) as info:
        load_picture(data[:at] + b"XXXX" + data[at + 4 :], name="broken.webp")
    assert info.value.code != "unsupported_format"


# --- the error contract ----------------------------------------------------------------------


def _cut_png() -> bytes:
    data = encode(blocks(), "PNG")
    return data[: len(data) // 2]


ERROR_CASES = [
    pytest.param(lambda: b"", "empty_file", id="empty"),
    pytest.param(lambda: encode(blocks(), "PNG") * 2, "file_too_large", id="too-large"),
    pytest.param(lambda: zero_png(200, 200), "too_many_pixels", id="too-many-pixels"),
    pytest.param(lambda: zero_png(20000, 20000), "decompression_bomb", id="bomb-400mp"),
    pytest.param(_cut_png, "truncated", id="truncated-png"),
    pytest.param(lambda: encode(blocks(), "PNG")[:20], "truncated", id="png-cut-in-header"),
    pytest.param(lambda: b"8BPS" + bytes(30), "unsupported_format", id="psd"),
    pytest.param(lambda: b"\x00" * 64, "unrecognised", id="zeros"),
    pytest.param(lambda: zero_png(0, 10), "truncated", id="zero-width"),
    pytest.param(lambda: broken_idat_png(), "unreadable", id="broken-idat"),
]


@pytest.mark.parametrize(("make", "code"), ERROR_CASES)
def test_every_input_error_has_code_and_message(make: Callable[[], bytes], code: str) -> None:
    data = make()
    limits = Limits(max_bytes=len(encode(blocks(), "PNG")) + 10, max_pixels=10_000)
    if code == "decompression_bomb":
        limits = Limits()
    with pytest.raises(InputError) as info:
        load_picture(data, name="input.png", limits=limits)
    err = info.value
    assert err.code == code
    assert isinstance(err.message, str)
    assert err.message.strip()
    assert err.to_dict() == {"error": {"code": code, "message": err.message}}


FUZZ_SEEDS = [
    pytest.param("JPEG", "f.jpg", id="jpeg"),
    pytest.param("PNG", "f.png", id="png"),
    pytest.param("WEBP", "f.webp", id="webp"),
    pytest.param("GIF", "f.gif", id="gif"),
    pytest.param("TIFF", "f.tif", id="tiff"),
    pytest.param("BMP", "f.bmp", id="bmp"),
    pytest.param("HEIF", "f.heic", id="heic"),
    pytest.param("AVIF", "f.avif", id="avif"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("save_as", "name"), FUZZ_SEEDS)
def test_damaged_files_give_picture_or_input_error(save_as: str, name: str) -> None:
    """Flipped bytes and cuts: `load_picture` returns a Picture or raises an InputError."""
    seed = encode(blocks(), save_as)
    rng = np.random.default_rng(len(seed))
    outcomes: set[str] = set()
    for i in range(60):
        buf = bytearray(seed)
        for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 8))):
            buf[pos] = int(rng.integers(0, 256))
        if i % 4 == 0:
            buf = buf[: int(rng.integers(1, len(buf)))]
        try:
            pic = load_picture(bytes(buf), name=name)
        except InputError as err:
            assert err.code and err.message.strip()
            outcomes.add(err.code)
        else:
            assert isinstance(pic, Picture)
            assert pic.pixels.shape == (pic.height, pic.width, 3)
            outcomes.add("ok")
    assert len(outcomes) >= 2  # the damage really reached the decoder
