"""The search structures beside the catalogue, held in FAISS: the global descriptors (inner
product of unit vectors) and the PDQ hashes (Hamming distance).

Up to `HNSW_FROM` pictures the descriptor search is exact (`IndexFlatIP`); past that it is an
HNSW graph, whose search time grows with the logarithm of the archive. Both are written to the
index folder with the catalogue generation they reflect, and rebuilt from the catalogue when
they are missing or stale, so a crash while indexing never leaves them wrong.

Memory per picture: the descriptor (256 float32, 1 KB), the hash (32 bytes), the id (8 bytes),
and with HNSW its links (about 256 bytes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from photoloupe.archive.catalogue import Catalogue

HNSW_FROM = 100_000
HNSW_LINKS = 32
HNSW_SEARCH_DEPTH = 128
VECTORS_NAME = "descriptors.faiss"
HASHES_NAME = "pdq.faiss"
STAMP_NAME = "structures.json"

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class Structures:
    """The descriptor and hash indexes of one catalogue."""

    def __init__(self, vectors: Any, hashes: Any) -> None:
        self.vectors = vectors
        self.hashes = hashes

    @classmethod
    def empty(cls, dimension: int, expected: int = 0) -> Structures:
        if expected >= HNSW_FROM:
            graph = faiss.IndexHNSWFlat(dimension, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = 80
            graph.hnsw.efSearch = HNSW_SEARCH_DEPTH
            vectors = faiss.IndexIDMap2(graph)
        else:
            vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        hashes = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        return cls(vectors, hashes)

    def add(self, ids: I64, descriptors: F32, pdq: npt.NDArray[np.uint8]) -> None:
        self.vectors.add_with_ids(np.ascontiguousarray(descriptors, np.float32), ids)
        self.hashes.add_with_ids(np.ascontiguousarray(pdq, np.uint8), ids)

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    def nearest(self, queries: F32, k: int) -> tuple[F32, I64]:
        """Cosine similarities and ids of the `k` nearest descriptors of each query row."""
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        sims, ids = self.vectors.search(
            np.ascontiguousarray(queries, np.float32), min(k, len(self))
        )
        return sims, ids

    def near_hashes(self, queries: npt.NDArray[np.uint8], k: int) -> tuple[I64, I64]:
        """Hamming distances and ids of the `k` nearest PDQ hashes of each query row."""
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.int64)
        dist, ids = self.hashes.search(np.ascontiguousarray(queries, np.uint8), min(k, len(self)))
        return dist.astype(np.int64), ids

    @classmethod
    def for_catalogue(cls, catalogue: Catalogue, dimension: int) -> Structures:
        """The structures of `catalogue`: read from the folder when they match its generation,
        otherwise rebuilt (and written back when the folder is writable)."""
        folder = catalogue.folder
        generation = catalogue.generation
        try:
            stamp = json.loads((folder / STAMP_NAME).read_text())
            if stamp.get("generation") == generation and stamp.get("dimension") == dimension:
                vectors = faiss.read_index(str(folder / VECTORS_NAME))
                hashes = faiss.read_index_binary(str(folder / HASHES_NAME))
                if vectors.ntotal == hashes.ntotal == stamp.get("count"):
                    return cls(vectors, hashes)
        except (OSError, ValueError, RuntimeError, AttributeError):
            pass  # missing, stale or damaged: rebuild from the catalogue below
        built = cls.empty(dimension, catalogue.count())
        for ids, descriptors, pdq in catalogue.iter_vectors():
            built.add(ids, descriptors, pdq)
        built.save(folder, generation)
        return built

    def save(self, folder: Path, generation: int) -> None:
        try:
            # Write-then-rename, stamp last: a reader sees either the old complete set or the
            # new one, and a stale stamp only costs a rebuild.
            for name, write, index in (
                (VECTORS_NAME, faiss.write_index, self.vectors),
                (HASHES_NAME, faiss.write_index_binary, self.hashes),
            ):
                tmp = folder / (name + ".tmp")
                write(index, str(tmp))
                os.replace(tmp, folder / name)
            stamp = {"generation": generation, "count": len(self), "dimension": self.vectors.d}
            tmp = folder / (STAMP_NAME + ".tmp")
            tmp.write_text(json.dumps(stamp))
            os.replace(tmp, folder / STAMP_NAME)
        except (OSError, RuntimeError):
            pass  # a read-only index folder: the structures live in memory only
