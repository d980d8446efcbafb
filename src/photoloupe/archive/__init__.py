"""Corroboration: an offline index of a newsroom's own archive, searched for the other copies
of a picture and for other photos of the same scene.

An index is a folder: a SQLite catalogue (`catalogue.py`) beside its FAISS search structures
(`structures.py`); nothing to install or start. `Archive` is the library's entry point; the
CLI's `index` and `corroborate` commands and the desk are thin layers over it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     archive = Archive(tmp, create=True)
...     summary = archive.add(["examples"])
...     found = archive.search("examples/harbour-edited.jpg")
>>> summary.added >= 4, found.searched == summary.total
(True, True)
>>> [m.relation for m in found.matches if m.path.endswith("harbour.jpg")]
['edited-copy']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from photoloupe.archive.catalogue import INDEX_VERSION, Catalogue
from photoloupe.archive.entry import Entry
from photoloupe.archive.indexer import IndexSummary, index_files, prune_missing
from photoloupe.archive.search import VERIFY, search
from photoloupe.archive.structures import Structures
from photoloupe.archive.vocabulary import Vocabulary
from photoloupe.io import Limits, Picture, load_picture
from photoloupe.schema.corroborate import Corroboration

if TYPE_CHECKING:
    from photoloupe.cluster import RayOptions

__all__ = ["INDEX_VERSION", "Archive", "IndexSummary"]

Source = str | os.PathLike[str] | bytes


class Archive:
    """The index in folder `index_dir`.

    `create=True` makes the folder and an empty index when there is none (indexing);
    otherwise a missing, damaged or newer index raises `IndexFolderError` (exit code 3 on the
    command line).
    """

    def __init__(self, index_dir: str | os.PathLike[str], *, create: bool = False) -> None:
        self.folder = Path(index_dir)
        self.vocabulary = Vocabulary.shipped()
        self.catalogue = Catalogue(self.folder, create=create, vocabulary=self.vocabulary.sha256)
        self._structures: Structures | None = None
        # After `add(..., ray=...)`: per node, what it did (`RayRun.throughput`).
        self.nodes: tuple[dict[str, Any], ...] = ()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.catalogue.close()

    def __len__(self) -> int:
        return self.catalogue.count()

    @property
    def structures(self) -> Structures:
        if self._structures is None:
            self._structures = Structures.for_catalogue(self.catalogue, self.vocabulary.dimension)
        return self._structures

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        workers: int = 1,
        prune: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_file: Callable[[str, str], None] | None = None,
        ray: RayOptions | None = None,
    ) -> IndexSummary:
        """Index the pictures under `paths` (files or folders, walked recursively, symbolic
        links followed). Files already indexed are skipped; with `prune`, entries whose files
        are gone are dropped first. Each picture is committed when done, so an interrupted run
        resumes where it stopped."""
        pruned = self.prune() if prune else 0
        structures = self.structures
        fresh: list[tuple[int, Entry]] = []
        if ray is not None:
            from photoloupe.cluster import RayRun

            engine: Any = RayRun(ray)
        else:
            engine = nullcontext()
        with engine:
            summary = index_files(
                self.catalogue, paths, workers=workers, on_total=on_total, on_file=on_file,
                on_added=lambda pid, entry: fresh.append((pid, entry)),
                run=engine if ray is not None else None,
            )  # fmt: skip
            self.nodes = tuple(engine.throughput()) if ray is not None else ()
        count = self.catalogue.count()
        if len(structures) + len(fresh) == count and structures.fits(count):
            # Only additions (and extra paths of known pictures): extend what is in memory.
            if fresh:
                structures.add(
                    np.array([pid for pid, _ in fresh], np.int64),
                    np.stack([e.descriptor for _, e in fresh]),
                    np.stack([np.frombuffer(e.pdq, np.uint8) for _, e in fresh]),
                )
            structures.save(self.folder, self.catalogue.generation)
        else:
            # A picture was replaced, or the archive outgrew exact search: rebuild.
            self._structures = None
            _ = self.structures
        return IndexSummary(
            summary.added, summary.duplicates, summary.skipped, summary.failed,
            summary.not_pictures, pruned, summary.failures, summary.total,
        )  # fmt: skip

    def prune(self) -> int:
        """Drop the entries whose files are gone; returns how many paths were dropped."""
        dropped = prune_missing(self.catalogue)
        if dropped:
            self._structures = None
            _ = self.structures  # rebuilt, and written back for the next reader
        return dropped

    def search(
        self,
        image: Source | Picture,
        *,
        top: int = 10,
        verify: int = VERIFY,
        limits: Limits | None = None,
    ) -> Corroboration:
        """The archived copies of `image` and other photos of its scene, verified, best first.

        Raises `photoloupe.InputError` when `image` cannot be read.
        """
        if isinstance(image, Picture):
            picture, path = image, image.path
        else:
            picture = load_picture(image, limits=limits)
            path = None if isinstance(image, bytes) else os.fspath(image)
        return search(
            self.catalogue, self.structures, self.vocabulary, picture,
            index_name=os.fspath(self.folder), top=top, verify_top=verify, query_path=path,
        )  # fmt: skip

    def thumbnail(self, sha256: str) -> bytes | None:
        return self.catalogue.thumbnail(sha256)
