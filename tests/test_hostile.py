"""Hostile inputs through the real CLI, in a subprocess with capped memory and a time limit.

Contract for every input: exit 0 with one valid JSON report, or exit 3 with a JSON error that has
a code and a message; nothing else, never a traceback, always within the time limit.

Memory cap: a normal run of `photoloupe check` reserves about 0.5 GiB of address space (numpy,
OpenCV, c2pa and onnxruntime map large libraries; measured as VmPeak with one BLAS thread), and a
100-megapixel picture, just under the default pixel limit, peaks at about 1.5 GiB. A 3 GiB cap
leaves that room, while an unbounded decode of a 65535 x 65535 picture needs 4 GiB for a single
8-bit channel, so it would die under the cap instead of passing. BLAS thread pools are pinned to one
thread because their per-thread buffers make the address space depend on the machine's core count.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from photoloupe.schema.report import ErrorReport, Report

MEMORY_CAP = 3 * 1024**3
TIMEOUT_S = 60
MAX_JSON_LINE = 2 * 1024 * 1024
CLI = [sys.executable, "-m", "photoloupe.cli", "check", "--json"]
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# --- the harness -----------------------------------------------------------------------------


def _cap_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = MEMORY_CAP if hard == resource.RLIM_INFINITY else min(MEMORY_CAP, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PHOTOLOUPE_DEBUG"}
    env.update(dict.fromkeys(ONE_THREAD, "1"))
    return env


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> parsed JSON line


def run_capped(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT_S,
        preexec_fn=_cap_memory,
        env=_env(),
        check=False,
    )


def run_cli(*files: Path) -> Run:
    """Run `photoloupe check --json FILES` under the caps and check the whole-run contract."""
    started = time.perf_counter()
    proc = run_capped([*CLI, *map(str, files)])
    run = Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.returncode in (0, 3), (run.returncode, run.stderr[-3000:], run.stdout[-1000:])
    lines = run.stdout.splitlines()
    assert len(lines) == len(files), run.stdout[-2000:]
    errors = 0
    for line in lines:
        record = json.loads(line)
        if "error" in record:
            body = ErrorReport.model_validate_json(line).error
            assert body.code.strip(), line
            assert body.message.strip(), line
            errors += 1
        else:
            Report.model_validate_json(line)
        record["_json_length"] = len(line)
        run.lines[record["path"]] = record
    assert set(run.lines) == {str(f) for f in files}
    assert run.returncode == (3 if errors else 0)
    return run


# --- builders --------------------------------------------------------------------------------


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def zero_png(width: int, height: int) -> bytes:
    """A *valid* 8-bit greyscale PNG of zeros of any size, in milliseconds.

    One deflate segment holding 64 zero rows is ended with a full flush, so it depends on
    nothing before it and can be repeated; the Adler-32 of n zero bytes is (n mod 65521) << 16 | 1.
    A 20000 x 20000 picture is about 0.4 MB on disk, a 65535 x 65535 one about 4 MB.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    stride = width + 1  # filter byte + samples
    segment = deflate.compress(bytes(stride * 64)) + deflate.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(height, 64)
    tail = deflate.compress(bytes(stride * rest)) + deflate.flush()
    adler = (((stride * height) % 65521) << 16) | 1
    idat = b"\x78\xda" + segment * whole + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_zero_png_builder_is_a_valid_stream() -> None:
    data = zero_png(300, 200)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.size == (300, 200)
        assert not np.asarray(im).any()


def picture(seed: int = 0, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A small photo-like RGB picture: smooth gradients plus fixed noise."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).integers(0, 40, (h, w, 3))
    rgb = np.dstack([x * 200 // w, y * 200 // h, (x + y) * 100 // (w + h)]) + noise
    return Image.fromarray(rgb.astype(np.uint8))


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def normal_jpeg() -> bytes:
    return encode(picture(), "JPEG", quality=90)


def jpeg_with_sof(width: int, height: int) -> bytes:
    data = normal_jpeg()
    sof = data.index(b"\xff\xc0")  # SOF0: marker, length(2), precision(1), height(2), width(2)
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def jpeg_cut_after_sos_header() -> bytes:
    data = normal_jpeg()
    sos = data.index(b"\xff\xda")
    (length,) = struct.unpack(">H", data[sos + 2 : sos + 4])
    return data[: sos + 2 + length]  # every header complete, no entropy-coded data


def jpeg_cut_at_sos_marker() -> bytes:
    data = normal_jpeg()
    return data[: data.index(b"\xff\xda") + 2]


def tiff_ifd_with_description(payload: bytes) -> bytes:
    """A little-endian TIFF header and IFD0 with one ASCII ImageDescription of `payload`."""
    entry = struct.pack("<HHII", 0x010E, 2, len(payload), 8 + 2 + 12 + 4)
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + bytes(4) + payload


TEN_MB = 10 * 1024 * 1024


def png_with_10mb_exif() -> bytes:
    png = encode(picture(), "PNG")
    iend = png.rindex(b"IEND") - 4
    exif = tiff_ifd_with_description(b"A" * (TEN_MB - 1) + b"\x00")
    return png[:iend] + chunk(b"eXIf", exif) + png[iend:]


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_160_exif_segments() -> bytes:
    """JPEG segments hold at most 64 KB: 160 full APP1 Exif segments make 10 MB of EXIF."""
    exif = b"Exif\x00\x00" + tiff_ifd_with_description(b"B" * 65000 + b"\x00")
    segment = app1(exif[:65500])
    data = normal_jpeg()
    return data[:2] + segment * 160 + data[2:]


def jpeg_with_160_xmp_segments() -> bytes:
    packet = (
        b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        + b" " * 65000
        + b"</x:xmpmeta>"
    )
    data = normal_jpeg()
    return data[:2] + app1(packet) * 160 + data[2:]


def tiff_with_10mb_tag() -> bytes:
    return encode(picture(), "TIFF", description="C" * TEN_MB)


def png_with_ztxt_bomb() -> bytes:
    """20 MB of text in 20 KB: Pillow refuses chunks that inflate past 1 MB (MAX_TEXT_CHUNK)."""
    png = encode(picture(), "PNG")
    iend = png.rindex(b"IEND") - 4
    body = b"Comment\x00\x00" + zlib.compress(b"E" * (20 * 1024 * 1024), 9)
    return png[:iend] + chunk(b"zTXt", body) + png[iend:]


def png_with_iccp_bomb() -> bytes:
    png = encode(picture(), "PNG")
    after_ihdr = 8 + 25
    body = b"icc\x00\x00" + zlib.compress(bytes(20 * 1024 * 1024), 9)
    return png[:after_ihdr] + chunk(b"iCCP", body) + png[after_ihdr:]


def cmyk_jpeg() -> bytes:
    return encode(picture().convert("CMYK"), "JPEG", quality=90)


def grey16_png() -> bytes:
    ramp = np.linspace(0, 65535, 64 * 96).astype(np.uint16).reshape(64, 96)
    return encode(Image.fromarray(ramp), "PNG")


def rgb16_png() -> bytes:
    rgb16 = np.asarray(picture()).astype(np.uint16) * 257
    ok, buf = cv2.imencode(".png", rgb16[..., ::-1])  # OpenCV writes BGR
    assert ok
    return buf.tobytes()


def animation(fmt: str, **kwargs: Any) -> bytes:
    frames = [picture(seed) for seed in range(4)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80, **kwargs)


def sparse_too_large(path: Path) -> None:
    with path.open("wb") as fh:
        fh.write(encode(picture(), "PNG"))
        fh.truncate(101 * 1024 * 1024)  # over the default 100 MiB limit; sparse, no disk used


# --- the batch of light cases: one CLI run, one test per file --------------------------------

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # file name, with the extension the case is about
    build: Callable[[], bytes] | None  # the file's bytes, or None when `write` makes the file
    expect: str  # "report", "error" or "either"
    codes: tuple[str, ...] = ()  # accepted error codes (any when empty)
    check: Check | None = None
    write: Callable[[Path], None] | None = None


def _first_frame_only(record: dict[str, Any]) -> None:
    assert record["file"]["frames"] > 1
    assert record["file"]["animated"] is True
    assert any("only the first was analysed" in n for n in record["file"]["notes"])


def _wrong_extension(fmt: str) -> Check:
    def check(record: dict[str, Any]) -> None:
        assert record["file"]["format"] == fmt
        assert record["file"]["extension_matches_content"] is False
        assert any("analysed as what the bytes hold" in n for n in record["file"]["notes"])

    return check


def _field(key: str, value: object) -> Check:
    def check(record: dict[str, Any]) -> None:
        assert record["file"][key] == value

    return check


def _small_json(record: dict[str, Any]) -> None:
    assert record["_json_length"] < MAX_JSON_LINE


def _set_aside(chunk_type: str) -> Check:
    """An oversized metadata chunk must not block analysis of the pixels."""

    def check(record: dict[str, Any]) -> None:
        _small_json(record)
        assert any(chunk_type in n and "set aside" in n for n in record["file"]["notes"])

    return check


RANDOM = np.random.default_rng(20240601).bytes(64 * 1024)
PSD = b"8BPS\x00\x01" + bytes(6) + struct.pack(">HIIHH", 3, 64, 96, 8, 3) + bytes(64)
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect/></svg>\n'

BATCH = [
    Case("truncated-jpeg-half", "half.jpg", lambda: normal_jpeg()[: len(normal_jpeg()) // 2],
         "error", ("truncated",)),
    Case("truncated-jpeg-after-sos", "sos.jpg", jpeg_cut_after_sos_header, "error", ("truncated",)),
    # Cut inside the SOS segment: the headers cannot be read, so it is "truncated".
    Case("truncated-jpeg-at-sos-marker", "sos-marker.jpg", jpeg_cut_at_sos_marker, "error",
         ("truncated", "unrecognised")),
    Case("zero-bytes", "empty.jpg", lambda: b"", "error", ("empty_file",)),
    Case("random-named-jpg", "noise.jpg", lambda: RANDOM, "error", ("unrecognised",)),
    Case("random-named-png", "noise.png", lambda: RANDOM, "error", ("unrecognised",)),
    Case("png-named-jpg", "png.jpg", lambda: encode(picture(), "PNG"), "report",
         check=_wrong_extension("PNG")),
    Case("gif-named-webp", "gif.webp", lambda: encode(picture(), "GIF"), "report",
         check=_wrong_extension("GIF")),
    Case("psd-named-jpg", "psd.jpg", lambda: PSD, "error", ("unsupported_format",)),
    Case("pdf-named-jpg", "pdf.jpg", lambda: PDF, "error", ("unsupported_format",)),
    Case("svg-named-jpg", "svg.jpg", lambda: SVG, "error", ("unsupported_format",)),
    Case("png-10mb-exif", "exif.png", png_with_10mb_exif, "either", check=_small_json),
    Case("jpeg-160-app1-exif", "app1.jpg", jpeg_with_160_exif_segments, "either",
         check=_small_json),
    Case("jpeg-160-app1-xmp", "xmp.jpg", jpeg_with_160_xmp_segments, "either", check=_small_json),
    Case("tiff-10mb-tag", "tag.tif", tiff_with_10mb_tag, "either", check=_small_json),
    Case("png-ztxt-bomb", "ztxt.png", png_with_ztxt_bomb, "report", check=_set_aside("zTXt")),
    Case("png-iccp-bomb", "iccp.png", png_with_iccp_bomb, "report", check=_set_aside("iCCP")),
    Case("cmyk-jpeg", "cmyk.jpg", cmyk_jpeg, "report", check=_field("color_mode", "CMYK")),
    Case("png-16bit-grey", "grey16.png", grey16_png, "report", check=_field("bit_depth", 16)),
    Case("png-16bit-rgb", "rgb16.png", rgb16_png, "report", check=_field("bit_depth", 16)),
    Case("animated-gif", "anim.gif", lambda: animation("GIF", loop=0), "report",
         check=_first_frame_only),
    Case("animated-webp", "anim.webp", lambda: animation("WEBP", loop=0, lossless=True), "report",
         check=_first_frame_only),
    Case("sparse-101mib", "big.png", None, "error", ("file_too_large",), write=sparse_too_large),
]  # fmt: skip


def _write(case: Case, folder: Path) -> Path:
    path = folder / case.name
    if case.write is not None:
        case.write(path)
    elif case.build is not None:
        path.write_bytes(case.build())
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {case.id: _write(case, folder) for case in BATCH}
    assert len({p.name for p in paths.values()}) == len(BATCH)
    return run_cli(*paths.values()), paths


def _assert_case(record: dict[str, Any], expect: str, codes: tuple[str, ...]) -> None:
    got = "error" if "error" in record else "report"
    if expect != "either":
        assert got == expect, record.get("error")
    if got == "error" and codes:
        assert record["error"]["code"] in codes, record["error"]


@pytest.mark.parametrize("case", BATCH, ids=[c.id for c in BATCH])
def test_hostile_file(batch: tuple[Run, dict[str, Path]], case: Case) -> None:
    run, paths = batch
    record = run.lines[str(paths[case.id])]
    _assert_case(record, case.expect, case.codes)
    if case.check is not None and "error" not in record:
        case.check(record)


def test_jpeg_cut_at_sos_marker_reported_truncated(batch: tuple[Run, dict[str, Path]]) -> None:
    run, paths = batch
    assert run.lines[str(paths["truncated-jpeg-at-sos-marker"])]["error"]["code"] == "truncated"


# --- cases that get a process of their own: decompression bombs and the harness check ---------

BOMB_CODES = ("decompression_bomb", "too_many_pixels")

ALONE = [
    pytest.param("normal.jpg", normal_jpeg, "report", (), id="normal-jpeg"),
    pytest.param("bomb400.png", lambda: zero_png(20000, 20000), "error", BOMB_CODES,
                 id="png-bomb-20000x20000"),
    pytest.param("bomb150.png", lambda: zero_png(15000, 10000), "error", ("too_many_pixels",),
                 id="png-bomb-150mp-over-own-limit"),
    pytest.param("max.png", lambda: zero_png(65535, 65535), "error", BOMB_CODES,
                 id="png-ihdr-65535x65535"),
    pytest.param("max.jpg", lambda: jpeg_with_sof(65535, 65535), "error", BOMB_CODES,
                 id="jpeg-sof-65535x65535"),
    pytest.param("100mp.png", lambda: zero_png(10000, 10000), "report", (),
                 id="png-100mp-under-limit-decodes"),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("name", "build", "expect", "codes"), ALONE)
def test_alone(
    tmp_path: Path, name: str, build: Callable[[], bytes], expect: str, codes: tuple[str, ...]
) -> None:
    path = tmp_path / name
    path.write_bytes(build())
    run = run_cli(path)
    record = run.lines[str(path)]
    _assert_case(record, expect, codes)
    assert run.returncode == (0 if expect == "report" else 3)
    if expect == "report":
        report = Report.model_validate_json(run.stdout.strip())
        with Image.open(path) as im:
            assert (report.file.width, report.file.height) == im.size


def test_memory_cap_stops_an_unbounded_decode() -> None:
    """The cap is meaningful: one 8-bit channel of 65535 x 65535 pixels does not fit under it."""
    proc = run_capped(
        [sys.executable, "-c", "import numpy; numpy.ones((65535, 65535), numpy.uint8)"]
    )
    assert proc.returncode != 0
    assert "MemoryError" in proc.stderr


def test_a_ztxt_bomb_costs_only_itself_not_the_other_chunks() -> None:
    import photoloupe

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 99, 199)).save(buf, "PNG", pnginfo=info)
    png = buf.getvalue()
    iend = png.rindex(b"IEND") - 4
    bomb = chunk(b"zTXt", b"huge\x00\x00" + zlib.compress(bytes(8 * 1024 * 1024), 9))
    report = photoloupe.check(png[:iend] + bomb + png[iend:], name="sd.png")
    assert report.verdict.label == "ai-generated"
    (note,) = [n for n in report.file.notes if "set aside" in n]
    assert "zTXt" in note and "tEXt" not in note
