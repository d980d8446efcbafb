"""`photoloupe compare`: every relation, the geometry, the changed map, the CLI and the HTML.

Pairs are built from deterministic synthetic scenes (textured layers with shapes) so that each
test knows the truth; one test uses a real photo from ../shared/data when it is present.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import photoloupe
from photoloupe.cli import app
from photoloupe.compare import compare, full_size_changed_map
from photoloupe.report.compare_html import render_compare_html
from photoloupe.schema.compare import COMPARE_SCHEMA_ID, Comparison
from tests.conftest import needs_shared, shared_files

runner = CliRunner()
Array = np.ndarray


@cache
def scene(seed: int, h: int = 480, w: int = 640) -> Array:
    """A textured picture: smooth colour noise at several scales, shapes and lines."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for cell in (64, 16, 4):
        small = rng.uniform(0, 255, size=(h // cell + 2, w // cell + 2, 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w] / 3
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(40):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(5, 40))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(5, 40))), colour, -1)
        cv2.line(img, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))), colour, 2)
    return img


def jpeg(rgb: Array, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(rgb: Array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, "PNG")
    return buf.getvalue()


ORIGINAL = jpeg(scene(1), 95)


def decoded(data: bytes) -> Array:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# --------------------------------------------------------------------------- relations


def test_same_bytes_and_same_pixels_are_identical() -> None:
    assert compare(ORIGINAL, ORIGINAL).relation == "identical"
    # A lossless re-save holds the same pixels in different bytes: still identical.
    result = compare(ORIGINAL, png(decoded(ORIGINAL)))
    assert result.relation == "identical"
    assert result.confidence == 1.0
    assert result.changed_regions == []


def test_a_jpeg_70_resave_is_the_same_image_without_speckle() -> None:
    result = compare(ORIGINAL, jpeg(decoded(ORIGINAL), 70))
    assert result.relation == "same-image", result.summary
    assert result.changed_regions == []
    assert result.changed_fraction is not None and result.changed_fraction < 0.001
    assert full_size_changed_map(result).max() == 0
    assert result.transform.scale == pytest.approx(1.0, abs=0.01)
    assert result.transform.crop_box == pytest.approx([0, 0, 640, 480], abs=3)


def test_crop_and_resize_gives_the_crop_box_within_2_percent() -> None:
    img = decoded(ORIGINAL)
    x, y, cw, ch = 150, 90, 360, 270
    out = cv2.resize(img[y : y + ch, x : x + cw], (252, 189), interpolation=cv2.INTER_AREA)
    result = compare(ORIGINAL, jpeg(out, 85))
    assert result.relation == "same-image", result.summary
    box = result.transform.crop_box
    assert box is not None
    errors = [
        abs(b - t) / s for b, t, s in zip(box, (x, y, cw, ch), (640, 480, 640, 480), strict=True)
    ]
    assert max(errors) < 0.02, box
    assert result.transform.scale == pytest.approx(0.7, abs=0.02)
    assert result.closer_to_source.verdict == "original"
    assert {r.code for r in result.closer_to_source.reasons} >= {"resolution", "crop"}


def test_a_quarter_turn_and_a_small_rotation_are_measured() -> None:
    img = decoded(ORIGINAL)
    turned = compare(ORIGINAL, jpeg(np.rot90(img, 1), 90))  # counter-clockwise
    assert turned.relation == "same-image"
    assert turned.transform.rotation_degrees == pytest.approx(90, abs=1)
    m = cv2.getRotationMatrix2D((320, 240), 7, 1.0)
    tilted = cv2.warpAffine(img, m, (640, 480), borderValue=(255, 255, 255))
    result = compare(ORIGINAL, jpeg(tilted, 90))
    assert result.relation == "same-image", result.summary
    assert result.transform.rotation_degrees == pytest.approx(7, abs=0.5)


def test_a_mirrored_copy_is_the_same_image_and_flagged_flipped() -> None:
    result = compare(ORIGINAL, jpeg(decoded(ORIGINAL)[:, ::-1], 90))
    assert result.relation == "same-image", result.summary
    assert result.transform.flipped is True
    assert result.changed_regions == []


def test_a_mirrored_near_symmetric_subject_is_not_called_edited() -> None:
    # A facade-like picture: symmetric but for one small detail. The unmirrored alignment
    # matches almost everything and leaves the detail "moved"; only the mirror explains it.
    half = scene(21)[:, :320]
    img = np.concatenate([half, half[:, ::-1]], axis=1)
    cv2.circle(img, (120, 150), 30, (250, 30, 30), -1)
    original = jpeg(img, 95)
    result = compare(original, jpeg(img[:, ::-1], 85))
    assert result.relation == "same-image", result.summary
    assert result.transform.flipped is True
    assert result.changed_regions == []


def test_a_shared_logo_alone_does_not_make_pictures_related() -> None:
    logo = scene(30)[:90, :140]
    first, second = scene(2).copy(), scene(3).copy()
    first[370:460, 480:620] = logo
    second[370:460, 480:620] = logo
    result = compare(jpeg(first, 92), jpeg(second, 92))
    assert result.relation == "unrelated", (result.summary, result.notes)
    assert result.changed_regions == []


def test_screenshot_borders_are_padding_not_changes() -> None:
    img = cv2.resize(decoded(ORIGINAL), (480, 360), interpolation=cv2.INTER_AREA)
    canvas = np.full((360 + 200, 480, 3), 250, np.uint8)
    canvas[:50] = 20
    cv2.putText(canvas, "12:45 4G", (10, 35), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    canvas[80 : 80 + 360] = img
    cv2.putText(canvas, "Like Share", (10, 500), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (90, 90, 90), 2)
    result = compare(ORIGINAL, png(canvas))
    assert result.relation == "same-image", result.summary
    assert result.changed_regions == []
    assert result.padding, "the bars should be reported as padding"
    assert result.transform.coverage == pytest.approx(360 / 560, abs=0.03)
    assert "padding" in {r.code for r in result.closer_to_source.reasons}


def test_colour_and_gamma_changes_are_not_edits() -> None:
    img = decoded(ORIGINAL).astype(np.float64)
    graded = 255 * (img / 255) ** 1.4 * np.array([1.1, 1.0, 0.88])
    result = compare(ORIGINAL, jpeg(np.clip(graded, 0, 255).astype(np.uint8), 85))
    assert result.relation == "same-image", result.summary
    assert result.changed_regions == []


def test_a_pasted_region_is_edited_and_located() -> None:
    img = decoded(ORIGINAL).copy()
    img[200:320, 300:460] = scene(7)[50:170, 60:220]
    result = compare(ORIGINAL, jpeg(img, 80))
    assert result.relation == "edited", result.summary
    truth = np.zeros((480, 640), bool)
    truth[200:320, 300:460] = True
    found = full_size_changed_map(result) > 0
    iou = (found & truth).sum() / (found | truth).sum()
    assert iou > 0.6, iou
    x, y, w, h = result.changed_regions[0].box
    assert abs(x - 300) < 20 and abs(y - 200) < 20 and abs(w - 160) < 30 and abs(h - 120) < 30


def test_a_removed_object_is_edited() -> None:
    img = decoded(ORIGINAL)
    mask = np.zeros((480, 640), np.uint8)
    cv2.ellipse(mask, (200, 300), (60, 45), 0, 0, 360, 255, -1)
    inpainted = cv2.inpaint(img, mask, 5, cv2.INPAINT_TELEA)
    result = compare(ORIGINAL, jpeg(inpainted, 85))
    assert result.relation == "edited", result.summary
    cx = [r.box[0] + r.box[2] / 2 for r in result.changed_regions]
    assert any(abs(c - 200) < 40 for c in cx)


def test_different_pictures_are_unrelated() -> None:
    result = compare(ORIGINAL, jpeg(scene(2), 90))
    assert result.relation == "unrelated", result.summary
    assert result.transform.crop_box is None
    assert result.changed_regions == []
    assert result.closer_to_source.verdict in ("undetermined", "original", "suspect")


def _layered_view(shift_mid: int, shift_front: int) -> Array:
    """Three textured layers at different depths; a sideways camera move shifts each by a
    different amount (parallax)."""
    w = 640
    back = scene(11, 480, w + 120)[:, 60 : 60 + w].copy()
    mid = scene(12, 480, w + 120)
    front = scene(13, 480, w + 120)
    view = back
    view[:, 120:330] = mid[:, 120 + 60 + shift_mid : 330 + 60 + shift_mid]
    view[:, 400:600] = front[:, 400 + 60 + shift_front : 600 + 60 + shift_front]
    return view


def test_a_different_shot_of_the_scene_is_same_scene() -> None:
    first = jpeg(_layered_view(0, 0), 92)
    second = jpeg(_layered_view(25, 55), 92)
    result = compare(first, second)
    assert result.relation == "same-scene", (result.summary, result.transform)
    assert result.changed_regions == []


# --------------------------------------------------------------------------- JSON and HTML


def test_the_json_validates_and_carries_the_contract_fields() -> None:
    result = compare(ORIGINAL, jpeg(decoded(ORIGINAL), 80), names=("a.jpg", "b.jpg"))
    data = json.loads(result.to_json())
    assert data["schema"] == COMPARE_SCHEMA_ID
    for key in ("relation", "confidence", "transform", "changed_map", "changed_regions",
                "closer_to_source", "original", "suspect", "summary", "summary_ar",
                "timings_ms"):  # fmt: skip
        assert key in data
    assert data["original"]["name"] == "a.jpg"
    assert len(data["transform"]["homography"]) == 3
    assert Comparison.model_validate(data).relation == "same-image"
    assert photoloupe.compare is compare


def test_html_is_self_contained_and_arabic_is_right_to_left() -> None:
    img = decoded(ORIGINAL).copy()
    img[100:200, 100:220] = 0
    result = compare(ORIGINAL, jpeg(img, 85))
    for lang in ("en", "ar"):
        page = render_compare_html(result, lang)
        assert "<script" not in page.lower()
        assert "<link" not in page.lower()
        assert not re.search(r"(src|href)=\"(?!data:|#)", page)
        assert "http://" not in page and "https://" not in page
        assert "resize: horizontal" in page and 'type="radio"' in page
        assert page.count("data:image/") >= 4
    assert 'dir="rtl"' in render_compare_html(result, "ar")
    assert 'lang="ar"' in render_compare_html(result, "ar")
    unrelated = render_compare_html(compare(ORIGINAL, jpeg(scene(3), 90)), "ar")
    assert 'dir="rtl"' in unrelated and "<script" not in unrelated


# --------------------------------------------------------------------------- command line


def test_cli_json_maps_and_html(tmp_path: Path) -> None:
    orig, susp = tmp_path / "orig.jpg", tmp_path / "copy.jpg"
    orig.write_bytes(ORIGINAL)
    img = decoded(ORIGINAL).copy()
    img[200:320, 300:460] = scene(7)[50:170, 60:220]
    susp.write_bytes(jpeg(img, 80))
    page = tmp_path / "view.html"
    result = runner.invoke(
        app,
        ["compare", str(orig), str(susp), "--json", "--maps", str(tmp_path / "maps"),
         "--html", str(page), "--lang", "ar"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["relation"] == "edited"
    written = Path(data["changed_map"])
    assert written.is_file()
    with Image.open(written) as im:
        assert im.mode == "L" and im.size == (640, 480)
        values = set(np.unique(np.asarray(im)).tolist())
    assert values == {0, 255}
    assert 'dir="rtl"' in page.read_text("utf-8")
    human = runner.invoke(app, ["compare", str(orig), str(susp)])
    assert human.exit_code == 0 and "{" not in human.stdout


@pytest.mark.parametrize("which", ["original", "suspect"])
def test_cli_bad_input_exits_3_with_a_json_error_naming_the_input(
    tmp_path: Path, which: str
) -> None:
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(ORIGINAL)
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    args = [str(bad), str(good)] if which == "original" else [str(good), str(bad)]
    result = runner.invoke(app, ["compare", *args, "--json"])
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == COMPARE_SCHEMA_ID
    assert data["input"] == which
    assert data["error"]["code"] and which in data["error"]["message"]
    assert "Traceback" not in result.output


def test_cli_missing_file_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(tmp_path / "nope.jpg"), str(tmp_path / "x.jpg")])
    assert result.exit_code == 3
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- real photo


@needs_shared
def test_a_real_photo_survives_resave_and_rotation() -> None:
    photos = [p for p in shared_files("real/camera") if p.suffix == ".jpg"]
    photos = [p for p in photos if min(Image.open(p).size) >= 400][:2]
    assert photos
    for path in photos:
        data = path.read_bytes()
        img = decoded(data)
        resaved = compare(data, jpeg(img, 70))
        assert resaved.relation == "same-image", (path.name, resaved.summary)
        assert resaved.changed_regions == []
        turned = compare(data, jpeg(np.rot90(img, 3), 85))
        assert turned.relation == "same-image", (path.name, turned.summary)
        assert turned.transform.rotation_degrees == pytest.approx(-90, abs=1)
