"""The search structures beside the catalogue, held in FAISS: the global descriptors (inner
product of unit vectors) and the PDQ hashes (Hamming distance).

Up to `IVF_FROM` pictures both searches are exact (`IndexFlatIP`, `IndexBinaryFlat`); past
that they are inverted files (`IndexIVFFlat`, `IndexBinaryIVF`: k-means cells, of which the
nearest `*_PROBES` are searched), trained on a sample of the catalogue, so that a search reads
a few thousand entries instead of all of them. An HNSW graph was tried first: as fast to
search, but building it for 1 M pictures took over 15 minutes on 2 cores, against about 2 for
the inverted files. Both structures are written to the index folder with the catalogue
generation they reflect, and rebuilt from the catalogue when they are missing or stale, so a
crash while indexing never leaves them wrong.

Memory per picture: the descriptor (256 float32, 1 KB), the hash (32 bytes) and two ids
(16 bytes): about 1.1 KB.
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

IVF_FROM = 100_000
VECTOR_PROBES = 32
HASH_PROBES = 16
TRAINING_PER_CELL = 40
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
    def empty(cls, dimension: int) -> Structures:
        """Exact structures, for archives under IVF_FROM pictures."""
        vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        hashes = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(256))
        return cls(vectors, hashes)

    @classmethod
    def inverted(cls, descriptors: F32, pdq: npt.NDArray[np.uint8], expected: int) -> Structures:
        """Inverted-file structures for about `expected` pictures, trained on the sample
        `descriptors`, `pdq` (empty: nothing is added here)."""
        dimension = descriptors.shape[1]
        cells = _cells(expected, len(descriptors))
        vectors = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(dimension), dimension, cells, faiss.METRIC_INNER_PRODUCT
        )
        vectors.train(np.ascontiguousarray(descriptors, np.float32))
        vectors.nprobe = VECTOR_PROBES
        hash_cells = max(16, int(np.sqrt(expected)))
        hashes = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, hash_cells)
        hashes.train(np.ascontiguousarray(pdq, np.uint8))
        hashes.nprobe = HASH_PROBES
        return cls(vectors, hashes)

    @property
    def exact(self) -> bool:
        return not isinstance(self.vectors, faiss.IndexIVF)

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
        built = cls.build(catalogue, dimension)
        built.save(folder, generation)
        return built

    @classmethod
    def build(cls, catalogue: Catalogue, dimension: int) -> Structures:
        """The structures of everything in `catalogue`, exact or inverted by its size."""
        count = catalogue.count()
        if count < IVF_FROM:
            built = cls.empty(dimension)
        else:
            _, sample_vectors, sample_pdq = catalogue.sample_vectors(
                TRAINING_PER_CELL * _cells(count, count)
            )
            built = cls.inverted(sample_vectors, sample_pdq, count)
        for ids, descriptors, pdq in catalogue.iter_vectors():
            built.add(ids, descriptors, pdq)
        return built

    def fits(self, count: int) -> bool:
        """Whether these structures suit an archive of `count` pictures."""
        return self.exact == (count < IVF_FROM)

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


def _cells(expected: int, samples: int) -> int:
    """Inverted-file cells: about 4 sqrt(n), and at least TRAINING_PER_CELL samples each."""
    return int(max(16, min(4 * np.sqrt(expected), samples // TRAINING_PER_CELL, 16384)))
