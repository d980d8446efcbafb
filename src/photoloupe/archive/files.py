"""Finding the pictures of an archive folder: a recursive walk that follows symbolic links
(without looping), and a cheap test of whether a file is meant to be a picture at all."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from photoloupe.io.formats import EXTENSIONS

# Leading bytes of the picture formats photoloupe reads (HEIF/AVIF: "ftyp" at offset 4).
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")


def walk(roots: Iterable[str | os.PathLike[str]], skip: Path | None = None) -> Iterator[str]:
    """Every regular file under `roots` (files are yielded as given), in a stable order,
    hidden files and folders excluded, symbolic links followed; `skip` (the index folder
    itself) is not entered.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "a").mkdir(), (Path(tmp) / "a" / "x.jpg").write_bytes(b"1")
    ...     (Path(tmp) / "loop").symlink_to(tmp)
    ...     [os.path.relpath(p, tmp) for p in walk([tmp])]
    ['a/x.jpg']
    """
    skip_real = os.path.realpath(skip) if skip is not None else None
    for root in roots:
        root = os.fspath(root)
        if os.path.isfile(root):
            yield os.path.normpath(root)
            continue
        seen: set[str] = set()
        for folder, dirs, files in os.walk(root, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen or real == skip_real:
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if not name.startswith(".") and os.path.isfile(path):
                    yield os.path.normpath(path)


def looks_like_picture(path: str) -> bool:
    """Whether `path` is meant to be a picture: a picture extension, or a picture signature.
    Other files (text, sidecars, videos) are skipped quietly by the indexer; a file that passes
    this test but cannot be decoded is reported."""
    if Path(path).suffix.lower() in EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    if head.startswith(_SIGNATURES) or head.startswith(b"BM"):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"msf1")
