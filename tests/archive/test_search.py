"""Searching: every relation (copy, edited copy, same scene), look-alikes left out, the order
of the matches, capture facts and the plain-words notes."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from photoloupe.archive import Archive
from photoloupe.schema.corroborate import CORROBORATE_SCHEMA_ID, Corroboration
from tests.archive.conftest import _layered_view, jpeg_bytes, jpeg_file, scene


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    root = tmp_path_factory.mktemp("archive")
    photos = root / "photos"
    jpeg_file(photos / "harbour.jpg", scene(40), 92)
    jpeg_file(photos / "street.jpg", scene(41), 92)
    jpeg_file(
        photos / "agency" / "rally-a.jpg", _layered_view(0, 0), 92,
        captured="2024:08:07 18:02:10", make="Canon", model="Canon EOS R5",
    )  # fmt: skip
    for i in range(6):
        jpeg_file(photos / "other" / f"o{i}.jpg", scene(50 + i), 90)
    archive = Archive(root / "index", create=True)
    archive.add([photos])
    return archive


def _top(found: Corroboration) -> tuple[str, str]:
    assert found.matches, found.summary
    return Path(found.matches[0].path).name, found.matches[0].relation


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p,
        lambda p: cv2.resize(p, (320, 240), interpolation=cv2.INTER_AREA),
        lambda p: p[40:400, 60:520],
        lambda p: p[:, ::-1],
        lambda p: np.rot90(p),
        lambda p: np.clip(255.0 * (p / 255.0) ** 1.4, 0, 255).astype(np.uint8),
    ],
    ids=["reencoded", "resized", "cropped", "mirrored", "quarter-turn", "gamma"],
)
def test_a_copy_is_found_first_as_a_copy(archive: Archive, make: object) -> None:
    query = np.ascontiguousarray(make(scene(40)))  # type: ignore[operator]
    found = archive.search(jpeg_bytes(query, 70))
    assert _top(found) == ("harbour.jpg", "copy")
    assert [m.relation for m in found.matches] == ["copy"]  # no look-alike listed
    assert found.matches[0].transform is not None


def test_an_edited_copy_carries_its_changed_regions(archive: Archive) -> None:
    edited = scene(40).copy()
    edited[150:260, 300:420] = scene(99)[150:260, 300:420]
    found = archive.search(jpeg_bytes(edited, 88))
    assert _top(found) == ("harbour.jpg", "edited-copy")
    regions = found.matches[0].changed_regions
    assert regions
    x, y, w, h = regions[0].box
    assert x < 420 and x + w > 300 and y < 260 and y + h > 150
    assert found.matches[0].closer_to_source is not None


def test_another_shot_of_the_scene_is_same_scene_with_its_capture_facts(archive: Archive) -> None:
    other_shot = jpeg_bytes(
        _layered_view(25, 55), 90, captured="2024:08:07 18:05:40", make="NIKON CORPORATION",
        model="NIKON Z 9",
    )  # fmt: skip
    found = archive.search(other_shot)
    assert _top(found) == ("rally-a.jpg", "same-scene")
    match = found.matches[0]
    assert match.captured == "2024:08:07 18:02:10"
    assert match.camera == "Canon EOS R5"
    assert match.transform is None and match.changed_regions == []
    assert "3.5 minutes apart by another camera" in match.note
    assert "strongest" in match.note and match.note_ar
    assert "close in time" in found.summary


def test_an_unrelated_picture_gets_no_match(archive: Archive) -> None:
    found = archive.search(jpeg_bytes(scene(77), 85))
    assert found.matches == []
    assert found.searched == len(archive)


def test_a_logo_shared_by_two_pictures_is_not_a_match(archive: Archive) -> None:
    # The same small emblem pasted on another picture: only a small element matches.
    query = scene(78).copy()
    query[20:110, 20:140] = scene(40)[200:290, 250:370]
    found = archive.search(jpeg_bytes(query, 90))
    assert all(m.relation == "same-scene" or Path(m.path).name != "harbour.jpg"
               for m in found.matches) or found.matches == []  # fmt: skip
    assert not any(m.relation == "copy" for m in found.matches)


def test_matches_are_sorted_and_the_json_is_the_contract(archive: Archive, tmp_path: Path) -> None:
    query = jpeg_file(tmp_path / "q.jpg", scene(40), 80)
    found = archive.search(query)
    scores = [m.score for m in found.matches]
    assert scores == sorted(scores, reverse=True)
    data = Corroboration.model_validate_json(found.to_json()).to_dict()
    assert data["schema"] == CORROBORATE_SCHEMA_ID
    assert data["query"]["path"] == str(query)
    assert set(data["matches"][0]) >= {
        "path", "sha256", "relation", "score", "inliers", "transform", "captured", "camera",
        "gps", "closer_to_source",
    }  # fmt: skip
    assert found.thumbnails[found.matches[0].sha256][:2] == b"\xff\xd8"


def test_an_unreadable_query_is_an_input_error(archive: Archive) -> None:
    from photoloupe.errors import InputError

    with pytest.raises(InputError):
        archive.search(b"not a picture at all")
    with pytest.raises(InputError):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "PNG")
        archive.search(buf.getvalue()[:20])
