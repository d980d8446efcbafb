"""The embedded-thumbnail check: agreement on originals, evidence on edits and crops."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pyexiv2
import pytest
from PIL import Image

from photoloupe.forensics.thumbnail import check_thumbnail
from photoloupe.io import load_picture
from tests.conftest import ROOT, SHARED, manifest, needs_shared, shared_files

EDIT_CODES = {"thumbnail_local_mismatch", "thumbnail_cropped", "thumbnail_mismatch"}


def _scene(seed: int = 3, size: tuple[int, int] = (640, 480)) -> npt.NDArray[np.uint8]:
    """Smooth structure at several scales, like a photo: blobs, gradients, a horizon."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    img += (y / h)[..., None] * np.array([60, 80, 120])
    for _ in range(25):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(15, 90)
        colour = rng.uniform(0, 255, 3)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - blob) + colour * blob
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _with_thumbnail(main: npt.NDArray[np.uint8], thumb_of: npt.NDArray[np.uint8]) -> bytes:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "test"
    Image.fromarray(main).save(buf, "JPEG", quality=92, exif=exif.tobytes())
    small = Image.fromarray(thumb_of)
    small.thumbnail((160, 160))
    tbuf = io.BytesIO()
    small.save(tbuf, "JPEG", quality=80)
    with pyexiv2.ImageData(buf.getvalue()) as img:
        img.modify_thumbnail(tbuf.getvalue())
        return bytes(img.get_bytes())


def test_a_thumbnail_of_the_same_picture_matches() -> None:
    scene = _scene()
    finding = check_thumbnail(load_picture(_with_thumbnail(scene, scene), name="a.jpg"))
    assert finding.codes == ("thumbnail_match",)
    assert finding.evidence_of is None
    assert finding.score is not None and finding.score < 0.2
    assert finding.map is not None and finding.map.dtype == np.float32


def test_a_thumbnail_of_another_picture_is_evidence_of_editing() -> None:
    finding = check_thumbnail(load_picture(_with_thumbnail(_scene(1), _scene(2)), name="a.jpg"))
    assert finding.codes == ("thumbnail_mismatch",)
    assert finding.evidence_of == "editing"
    assert finding.score is not None and finding.score >= 0.7


def test_a_cropped_picture_with_its_old_thumbnail_is_evidence_of_cropping() -> None:
    scene = _scene(size=(960, 720))
    cropped = np.ascontiguousarray(scene[180:540, 240:720])  # the middle half
    finding = check_thumbnail(load_picture(_with_thumbnail(cropped, scene), name="a.jpg"))
    assert finding.codes == ("thumbnail_cropped",)
    assert finding.evidence_of == "editing"
    assert 0.4 < float(finding.details["crop_fraction"]) < 0.6  # type: ignore[arg-type]


def test_a_large_painted_area_is_a_local_mismatch() -> None:
    scene = _scene()
    edited = scene.copy()
    edited[120:330, 200:460] = (250, 250, 245)
    finding = check_thumbnail(load_picture(_with_thumbnail(edited, scene), name="a.jpg"))
    assert finding.evidence_of == "editing"
    assert finding.codes[0] in EDIT_CODES


def test_a_lossless_rotation_is_not_evidence() -> None:
    scene = _scene()
    turned = np.ascontiguousarray(np.rot90(scene))
    finding = check_thumbnail(load_picture(_with_thumbnail(turned, scene), name="a.jpg"))
    assert finding.codes == ("thumbnail_match",)
    assert finding.evidence_of is None
    assert finding.details["quarter_turns"] in (1, 3)


def test_no_thumbnail_means_no_judgement() -> None:
    buf = io.BytesIO()
    Image.fromarray(_scene()).save(buf, "JPEG")
    finding = check_thumbnail(load_picture(buf.getvalue(), name="a.jpg"))
    assert finding.score is None
    assert finding.codes == ("thumbnail_absent",)


def test_demo_files_behave_as_documented() -> None:
    original = check_thumbnail(load_picture(ROOT / "examples" / "harbour.jpg"))
    edited = check_thumbnail(load_picture(ROOT / "examples" / "harbour-edited.jpg"))
    assert original.codes == ("thumbnail_match",)
    assert edited.evidence_of == "editing"


def _camera_originals() -> list:
    entries = manifest() if SHARED.is_dir() else {}
    paths = shared_files("real/full") + shared_files("real/camera")
    return [
        p
        for p in paths
        if entries.get(str(p.relative_to(SHARED)), {}).get("transform") in ("original bytes",)
        or p.parent.name == "full"
    ]


@needs_shared
@pytest.mark.parametrize("path", _camera_originals(), ids=lambda p: p.name)
def test_untouched_camera_originals_are_never_called_edited(path) -> None:
    finding = check_thumbnail(load_picture(path))
    assert finding.evidence_of is None, (finding.codes, finding.details)


@needs_shared
def test_centre_crops_of_camera_files_are_mostly_recognised() -> None:
    """The corpus cut large camera JPEGs to a centre crop (jpegtran) and kept their EXIF:
    those files are cropped pictures carrying their original thumbnails."""
    entries = manifest()
    compared = flagged = 0
    for path in shared_files("real/camera"):
        if not entries[str(path.relative_to(SHARED))]["transform"].startswith("jpegtran-crop"):
            continue
        finding = check_thumbnail(load_picture(path))
        if finding.codes[0] in ("thumbnail_absent", "thumbnail_unreadable", "thumbnail_too_small"):
            continue
        compared += 1
        flagged += finding.evidence_of == "editing"
    assert compared >= 40
    assert flagged / compared >= 0.8, (flagged, compared)


def test_a_flat_or_tiny_picture_is_never_called_edited() -> None:
    scene = _scene()
    flat = np.zeros_like(scene)
    finding = check_thumbnail(load_picture(_with_thumbnail(flat, scene), name="flat.jpg"))
    assert finding.evidence_of is None and finding.score is None
    tiny = np.ascontiguousarray(scene[:8, :8])
    finding = check_thumbnail(load_picture(_with_thumbnail(tiny, scene), name="tiny.jpg"))
    assert finding.codes == ("thumbnail_too_small",)


def test_the_map_is_in_stored_orientation() -> None:
    scene = _scene()
    turned = np.ascontiguousarray(np.rot90(scene))
    finding = check_thumbnail(load_picture(_with_thumbnail(turned, scene), name="a.jpg"))
    assert finding.map is not None
    h, w = turned.shape[:2]
    assert (finding.map.shape[0] > finding.map.shape[1]) == (h > w)
