"""Adding files to an index: incremental (a file already indexed, by path and modification, or
by SHA-256, is skipped), resumable (each picture is committed as it is done), in worker
processes, with every unreadable picture recorded and the run going on."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from photoloupe._pool import Crashed, imap_unordered
from photoloupe.archive.catalogue import Catalogue, FileState
from photoloupe.archive.entry import Entry, make_entry
from photoloupe.archive.files import looks_like_picture, walk
from photoloupe.archive.vocabulary import Vocabulary
from photoloupe.errors import PhotoloupeError
from photoloupe.io import Limits, display_path, load_picture

if TYPE_CHECKING:
    from photoloupe.cluster import RayRun, Shipped


@dataclass(frozen=True)
class IndexSummary:
    """What one indexing run did.

    added: new pictures; duplicates: files whose picture was already indexed under another
    path; skipped: files unchanged since an earlier run; failed: pictures that could not be
    read (listed in `failures`: path, code, message); not_pictures: other files, ignored.
    """

    added: int
    duplicates: int
    skipped: int
    failed: int
    not_pictures: int
    pruned: int
    failures: tuple[tuple[str, str, str], ...]
    total: int


@dataclass(frozen=True)
class _Todo:
    path: str
    state: FileState


@dataclass(frozen=True)
class _Failure:
    code: str
    message: str


def _prepare_worker() -> None:
    # Worker processes share the machine's cores; OpenCV's own threads would oversubscribe.
    cv2.setNumThreads(1)


def _entry_of(todo: _Todo) -> Entry | _Failure:
    """Runs in worker processes."""
    try:
        return make_entry(load_picture(todo.path), Vocabulary.shipped())
    except PhotoloupeError as exc:
        return _Failure(exc.code, exc.message)
    except Exception as exc:  # one bad file must not stop the run
        return _Failure("internal_error", f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class _Remote:
    """A file for a cluster worker: by absolute path (a node's working folder is not the
    driver's), or by value (`ship_bytes`)."""

    todo: _Todo
    at: str
    shipped: Shipped | None = None


def _entry_of_remote(item: _Remote) -> Entry | _Failure:
    """Runs in Ray worker processes."""
    shipped = item.shipped
    if shipped is not None and shipped.error is not None:
        return _Failure(*shipped.error)
    try:
        if shipped is not None:
            picture = load_picture(shipped.data or b"", name=os.path.basename(item.todo.path))
        else:
            picture = load_picture(item.at)
        return make_entry(picture, Vocabulary.shipped())
    except PhotoloupeError as exc:
        return _Failure(exc.code, exc.message)
    except Exception as exc:  # one bad file must not stop the run
        return _Failure("internal_error", f"{type(exc).__name__}: {exc}")


def index_files(
    catalogue: Catalogue,
    roots: Iterable[str | os.PathLike[str]],
    *,
    workers: int = 1,
    on_total: Callable[[int], None] | None = None,
    on_file: Callable[[str, str], None] | None = None,
    on_added: Callable[[int, Entry], None] | None = None,
    run: RayRun | None = None,
) -> IndexSummary:
    """Index every picture under `roots` into `catalogue`.

    `on_total(n)` gets the number of files to examine, `on_file(path, outcome)` each outcome
    ("added", "duplicate", "failed"), `on_added(id, entry)` each new picture. With `run`, the
    pictures are read on that Ray cluster; the catalogue is written here, by this process.
    """
    known = catalogue.file_states()
    todo: list[_Todo] = []
    skipped = not_pictures = 0
    for path in walk(roots, skip=catalogue.folder):
        try:
            st = os.stat(path)
        except OSError:
            continue  # vanished while walking
        state = FileState(st.st_size, st.st_mtime_ns)
        shown = display_path(path)
        if known.get(shown) == state:
            skipped += 1
        elif not looks_like_picture(path):
            not_pictures += 1
        else:
            todo.append(_Todo(path, state))
    if on_total is not None:
        on_total(len(todo))
    counts = {"added": 0, "duplicate": 0, "failed": 0}

    def record(path: str, outcome: str) -> None:
        counts[outcome] += 1
        if on_file is not None:
            on_file(path, outcome)

    for item, result in _entries(catalogue, todo, record, workers, run):
        shown = display_path(item.path)
        if isinstance(result, Crashed):
            result = _Failure("worker_crashed", "The process reading this file stopped.")
        if isinstance(result, _Failure):
            catalogue.fail(shown, result.code, result.message, item.state)
            record(shown, "failed")
            continue
        existed = catalogue.picture_of(result.sha256)
        picture_id = catalogue.add(result, shown, item.state)
        if existed is not None:
            record(shown, "duplicate")  # two copies of one new file in this run
            continue
        record(shown, "added")
        if on_added is not None:
            on_added(picture_id, result)
    return IndexSummary(
        counts["added"], counts["duplicate"], skipped, counts["failed"], not_pictures, 0,
        tuple(catalogue.failures()), catalogue.count(),
    )  # fmt: skip


def _entries(
    catalogue: Catalogue,
    todo: list[_Todo],
    record: Callable[[str, str], None],
    workers: int,
    run: RayRun | None,
) -> Iterator[tuple[_Todo, Entry | _Failure | Crashed]]:
    new = _new_pictures(catalogue, todo, record)
    if run is None:
        yield from imap_unordered(_entry_of, new, workers=workers, initializer=_prepare_worker)
        return
    from photoloupe.cluster import ship

    limits = Limits()
    remote = (
        _Remote(
            t, os.path.abspath(t.path), ship(t.path, limits) if run.options.ship_bytes else None
        )
        for t in new
    )
    for item, result in run.imap_unordered(_entry_of_remote, remote, initializer=_prepare_worker):
        yield item.todo, result


def _new_pictures(
    catalogue: Catalogue, todo: list[_Todo], record: Callable[[str, str], None]
) -> Iterator[_Todo]:
    """The files whose picture is not in the catalogue yet. A file whose SHA-256 is known is
    recorded as one more path of that picture here, without decoding it."""
    for item in todo:
        try:
            digest = _sha256(item.path)
        except OSError:
            yield item  # the worker reports why it cannot be read
            continue
        picture_id = catalogue.picture_of(digest)
        if picture_id is None:
            yield item
            continue
        shown = display_path(item.path)
        catalogue.add_path(shown, picture_id, item.state)
        record(shown, "duplicate")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prune_missing(catalogue: Catalogue) -> int:
    """Drop the entries whose files are gone; returns how many paths were dropped."""
    return catalogue.prune(lambda p: Path(p).exists())
