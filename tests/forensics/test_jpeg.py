"""Tests of photoloupe.forensics.jpeg on constructed pictures (and the table library)."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from photoloupe.analysis import Context
from photoloupe.forensics import jpeg as J
from photoloupe.forensics.jpeg.common import block_dct
from photoloupe.forensics.jpeg.tables import library
from photoloupe.io import Picture, load_picture
from tests.conftest import SHARED, manifest, needs_shared

U8 = npt.NDArray[np.uint8]
FUNCS = (
    J.analyse_double_compression,
    J.analyse_jpeg_grid,
    J.analyse_ghosts,
    J.estimate_quality_and_identify_tables,
)


def _texture(seed: int = 1, size: int = 512) -> U8:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (size, size, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(base, (0, 0), 1.5) * 60 + cv2.GaussianBlur(base, (0, 0), 8) * 200
    return np.clip(tex + 128, 0, 255).astype(np.uint8)


def _jpeg(a: U8, q: int) -> bytes:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=q)
    return b.getvalue()


def _png(a: U8) -> bytes:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "PNG")
    return b.getvalue()


def _dec(data: bytes) -> U8:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _inside_outside(m: npt.NDArray[np.float32]) -> tuple[float, float]:
    """Mean of the map over the pasted square (192..320 of 512) and over the rest."""
    h, w = m.shape
    mask = np.zeros((h, w), dtype=bool)
    mask[int(h * 192 / 512) : int(h * 320 / 512), int(w * 192 / 512) : int(w * 320 / 512)] = True
    return float(m[mask].mean()), float(m[~mask].mean())


def _paste_raw(q1: int, q2: int) -> tuple[Picture, Picture]:
    """Background saved at q1; a 128x128 never-compressed square pasted in; all saved at q2."""
    img = _texture()
    bg = _dec(_jpeg(img, q1))
    out = bg.copy()
    out[192:320, 192:320] = img[192:320, 192:320]
    return load_picture(_jpeg(out, q2)), load_picture(_jpeg(bg, q2))


def _paste_shifted(q: int) -> tuple[U8, U8]:
    """Background saved at q; a square from a JPEG whose grid is shifted by (3, 5) pasted in."""
    img = _texture()
    bg = _dec(_jpeg(img, q))
    other = np.roll(_dec(_jpeg(np.roll(img, (3, 5), axis=(0, 1)), q)), (-3, -5), axis=(0, 1))
    out = bg.copy()
    out[192:320, 192:320] = other[192:320, 192:320]
    return out, bg


def test_luma_plane_is_exact() -> None:
    pic = load_picture(_jpeg(_texture(), 80))
    lum = Context(pic).luma
    assert lum.exact
    coef = block_dct(lum.y)
    q = np.asarray(pic.jpeg.quantization[0], dtype=np.float32).reshape(8, 8)  # type: ignore[union-attr]
    r = coef[:, 1, :, 0] / q[1, 0]
    assert float(np.abs(r - np.rint(r)).mean()) < 0.08


@pytest.mark.parametrize(("q1", "q2"), [(70, 90), (60, 85)])
def test_double_compression_finds_pasted_square(q1: int, q2: int) -> None:
    tampered, twin = _paste_raw(q1, q2)
    f = J.analyse_double_compression(tampered)
    g = J.analyse_double_compression(twin)
    assert f.map is not None and f.score is not None and g.score is not None
    assert f.map.dtype == np.float32 and f.map.min() >= 0.0 and f.map.max() <= 1.0
    inside, outside = _inside_outside(f.map)
    assert inside > 0.7 and outside < 0.1
    assert f.score > g.score + 0.5
    assert f.codes == ("dq_inconsistent_area",) and g.codes == ("dq_consistent",)
    assert f.evidence_of is None
    assert f.details["primary_quality"] is not None


def test_single_compression_is_not_applicable() -> None:
    f = J.analyse_double_compression(load_picture(_jpeg(_texture(), 85)))
    assert f.score is None and f.map is None
    assert f.codes == ("dq_none_found",)
    assert "Not applicable" in f.notes[0]


def test_non_jpeg_is_not_applicable() -> None:
    pic = load_picture(_png(_texture(size=128)))
    for fn in (J.analyse_double_compression, J.analyse_ghosts):
        f = fn(pic)
        assert f.score is None and f.map is None
    assert J.estimate_quality_and_identify_tables(pic).codes == ("qtable_not_applicable",)


def test_grid_finds_misaligned_paste_in_png() -> None:
    out, bg = _paste_shifted(70)
    f = J.analyse_jpeg_grid(load_picture(_png(out)))
    g = J.analyse_jpeg_grid(load_picture(_png(bg)))
    assert f.map is not None and f.score is not None and g.score is not None
    inside, outside = _inside_outside(f.map)
    assert inside > outside + 0.3
    assert f.score > g.score + 0.5
    assert f.codes == ("jpeg_grid_misaligned_area",)
    assert f.details["phase_x"] == 0 and f.details["phase_y"] == 0


def test_grid_absent_in_never_compressed_picture() -> None:
    f = J.analyse_jpeg_grid(load_picture(_png(_texture())))
    assert f.score is None and f.map is None and f.codes == ("jpeg_grid_none",)


def test_ghost_marks_square_saved_differently() -> None:
    tampered, twin = _paste_raw(60, 95)
    f = J.analyse_ghosts(tampered)
    g = J.analyse_ghosts(twin)
    assert f.map is not None and f.score is not None and g.score is not None
    inside, outside = _inside_outside(f.map)
    assert inside > outside + 0.4
    assert f.score > g.score + 0.5
    assert f.codes == ("ghost_area",) and g.codes == ("ghost_none",)
    assert f.details["dominant_quality"] == 60


def test_smooth_untouched_picture_has_no_area() -> None:
    yy, xx = np.mgrid[0:512, 0:512]
    smooth = np.stack([xx / 2, yy / 2, (xx + yy) / 4], -1).astype(np.uint8)
    pic = load_picture(_jpeg(_dec(_jpeg(smooth, 75)), 90))
    for fn in FUNCS[:3]:
        f = fn(pic)
        assert f.score is None or f.score < 0.2, (fn.__name__, f.score, f.codes)


def test_tables_ijg_standard() -> None:
    f = J.estimate_quality_and_identify_tables(load_picture(_jpeg(_texture(size=64), 85)))
    assert f.details["estimated_quality"] == 85
    assert f.details["match"] == "ijg-standard"
    assert f.codes == ("qtable_ijg_standard",)


def test_tables_unknown() -> None:
    b = io.BytesIO()
    table = list(range(1, 65))
    Image.fromarray(_texture(size=64)).save(b, "JPEG", qtables=[table, table])
    f = J.estimate_quality_and_identify_tables(load_picture(b.getvalue()))
    assert f.details["match"] == "unknown-nonstandard" and f.codes == ("qtable_unknown",)


def test_library_entries_have_sources() -> None:
    lib = library()
    assert lib["ijg"]["source"]
    assert lib["cameras"]
    for entry in lib["cameras"]:
        assert entry["source"] and entry["makes"]
        assert len(entry["luma"]) == 64
        assert "/work" not in json.dumps(entry) and "shared/data" not in json.dumps(entry)


@needs_shared
def test_camera_table_identified() -> None:
    entry = library()["cameras"][0]
    sample = entry["samples"][0]
    path = next(
        p
        for p, e in manifest().items()
        if e.get("source_repo") == sample["source_repo"]
        and e.get("source_path") == sample["source_path"]
        and (p.startswith("real/camera/") or p.startswith("metadata/exif-samples/"))
    )
    f = J.estimate_quality_and_identify_tables(load_picture(SHARED / path))
    assert f.codes == ("qtable_camera",)
    assert str(f.details["match"]).startswith("camera:")


def test_grey_cmyk_progressive_444_do_not_raise() -> None:
    img = Image.fromarray(_texture(size=256))
    variants = []
    for kwargs in ({"progressive": True}, {"subsampling": 0}):
        b = io.BytesIO()
        img.save(b, "JPEG", quality=80, **kwargs)
        variants.append(b.getvalue())
    for mode in ("L", "CMYK"):
        b = io.BytesIO()
        img.convert(mode).save(b, "JPEG", quality=80)
        variants.append(b.getvalue())
    for data in variants:
        pic = load_picture(data)
        for fn in FUNCS:
            f = fn(pic)
            assert f.codes and f.evidence_of is None
