"""Indexing: incremental and resumable, duplicates, prune, bad and foreign files, symbolic
links, worker processes, and index folders that cannot be read."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photoloupe.archive import Archive
from photoloupe.archive.catalogue import CATALOGUE_NAME
from photoloupe.archive.structures import STAMP_NAME
from photoloupe.errors import IndexFolderError
from tests.archive.conftest import jpeg_file, scene


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    for i in range(3):
        jpeg_file(photos / f"p{i}.jpg", scene(20 + i))
    return photos


def test_a_second_run_skips_what_is_indexed_and_picks_up_changes(
    folder: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    with Archive(index, create=True) as archive:
        first = archive.add([folder])
        again = archive.add([folder])
        assert (first.added, first.skipped) == (3, 0)
        assert (again.added, again.skipped, again.total) == (0, 3, 3)
        jpeg_file(folder / "p0.jpg", scene(30))  # replaced by another picture
        os.utime(folder / "p0.jpg", ns=(1, 1))
        changed = archive.add([folder])
        assert (changed.added, changed.skipped, changed.total) == (1, 2, 3)
        # The old picture of p0.jpg is gone from the catalogue and the search structures.
        assert len(archive) == 3 and len(archive.structures) == 3


def test_a_duplicate_file_is_one_picture_with_two_paths(folder: Path, tmp_path: Path) -> None:
    (folder / "copy-of-p1.jpg").write_bytes((folder / "p1.jpg").read_bytes())
    with Archive(tmp_path / "index", create=True) as archive:
        summary = archive.add([folder])
    assert (summary.added, summary.duplicates, summary.total) == (3, 1, 3)


def test_bad_and_foreign_files_do_not_stop_the_run(folder: Path, tmp_path: Path) -> None:
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("caption of the shoot")
    (folder / "sidecar.xmp").write_text("<x:xmpmeta/>")
    with Archive(tmp_path / "index", create=True) as archive:
        summary = archive.add([folder])
        assert (summary.added, summary.failed, summary.not_pictures) == (3, 2, 2)
        codes = {Path(p).name: code for p, code, _ in summary.failures}
        assert codes == {"broken.jpg": codes["broken.jpg"], "empty.png": "empty_file"}
        # Failures are remembered: the next run does not try the same bytes again.
        assert archive.add([folder]).failed == 0


def test_symbolic_links_are_followed_without_looping(folder: Path, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "linked").symlink_to(folder, target_is_directory=True)
    (folder / "back").symlink_to(outer, target_is_directory=True)
    with Archive(tmp_path / "index", create=True) as archive:
        summary = archive.add([outer])
    assert summary.added == 3


def test_prune_drops_entries_whose_files_are_gone(folder: Path, tmp_path: Path) -> None:
    with Archive(tmp_path / "index", create=True) as archive:
        archive.add([folder])
        (folder / "p2.jpg").unlink()
        assert archive.add([folder], prune=True).pruned == 1
        assert len(archive) == 2 and len(archive.structures) == 2
        found = archive.search(jpeg_file(tmp_path / "q.jpg", scene(22), 80))
        assert found.matches == []


def test_workers_index_the_same_as_one_process(folder: Path, tmp_path: Path) -> None:
    with (
        Archive(tmp_path / "one", create=True) as one,
        Archive(tmp_path / "two", create=True) as two,
    ):
        one.add([folder])
        two.add([folder], workers=2)
        a = sorted(one.catalogue.db.execute("SELECT sha256, pdq, descriptor FROM pictures"))
        b = sorted(two.catalogue.db.execute("SELECT sha256, pdq, descriptor FROM pictures"))
    assert a == b and len(a) == 3


def test_the_search_structures_are_reloaded_or_rebuilt(folder: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    with Archive(index, create=True) as archive:
        archive.add([folder])
    with Archive(index) as archive:
        assert len(archive.structures) == 3
    (index / STAMP_NAME).write_text("{not json")
    with Archive(index) as archive:
        assert len(archive.structures) == 3  # rebuilt from the catalogue


def test_an_empty_index_answers_with_no_match(tmp_path: Path) -> None:
    with Archive(tmp_path / "index", create=True) as archive:
        found = archive.search(jpeg_file(tmp_path / "q.jpg", scene(1)))
    assert found.searched == 0 and found.matches == []
    assert "No copy" in found.summary


def test_a_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexFolderError) as err:
        Archive(tmp_path / "nowhere")
    assert err.value.code == "index_not_found"


def test_an_index_from_a_newer_version_is_refused(folder: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    with Archive(index, create=True) as archive:
        archive.add([folder])
    with sqlite3.connect(index / CATALOGUE_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(IndexFolderError) as err:
        Archive(index)
    assert err.value.code == "index_version" and "newer" in err.value.message


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"this is not a database" * 100),
        lambda p: p.write_bytes(p.read_bytes()[:2048]),
        lambda p: sqlite3.connect(p).execute("DROP TABLE features"),
    ],
    ids=["garbage", "truncated", "table-missing"],
)
def test_a_damaged_index_is_a_clear_error(folder: Path, tmp_path: Path, damage: object) -> None:
    index = tmp_path / "index"
    with Archive(index, create=True) as archive:
        archive.add([folder])
    for extra in index.glob(CATALOGUE_NAME + "-*"):
        extra.unlink()
    damage(index / CATALOGUE_NAME)  # type: ignore[operator]
    with pytest.raises(IndexFolderError) as err:
        archive = Archive(index)
        archive.search(jpeg_file(tmp_path / "q.jpg", scene(20)))
    assert err.value.code == "index_damaged"


def test_memory_per_picture_in_the_search_structures_is_small(folder: Path, tmp_path: Path) -> None:
    with Archive(tmp_path / "index", create=True) as archive:
        archive.add([folder])
        ids, vectors, hashes = next(archive.catalogue.iter_vectors())
    per_picture = vectors.nbytes / len(ids) + hashes.nbytes / len(ids) + 8
    assert per_picture <= 2048
    assert vectors.dtype == np.float32


def test_a_large_archive_gets_inverted_files_that_still_find_a_copy(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoloupe.archive import structures

    for i in range(3, 40):
        jpeg_file(folder / f"p{i}.jpg", scene(200 + i), 85)
    monkeypatch.setattr(structures, "IVF_FROM", 20)
    monkeypatch.setattr(structures, "TRAINING_PER_CELL", 1)
    with Archive(tmp_path / "index", create=True) as archive:
        archive.add([folder])
        assert not archive.structures.exact and len(archive.structures) == 40
        found = archive.search(jpeg_file(tmp_path / "q.jpg", scene(21)[:400, :500], 75))
    assert [Path(m.path).name for m in found.matches] == ["p1.jpg"]
