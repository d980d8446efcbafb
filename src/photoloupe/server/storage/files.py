"""The desk's files: uploads by sha256, report pages and PDFs by case id."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from contextlib import suppress
from pathlib import Path

from photoloupe.server.storage.records import LANGS, SHA256_PATTERN, valid_id


class Files:
    """The desk's files under `data_dir`: uploads by sha256, rendered report pages and their
    PDFs by case id. Nothing else writes into the data folder.

    `uploads_bytes` is the size of the kept uploads (counted once at start, then kept up to
    date), which the store's quota is measured against. `lock` makes "is this upload still
    needed? then delete it" one step against "keep this upload and queue its job".
    """

    def __init__(self, data_dir: Path) -> None:
        self.uploads = data_dir / "uploads"
        self.pages = data_dir / "pages"
        self.pdfs = data_dir / "pdf"
        self.incoming = data_dir / "incoming"
        for folder in (self.uploads, self.pages, self.pdfs, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.uploads_bytes = sum(p.stat().st_size for p in self.uploads.glob("*/*"))

    def clear_incoming(self) -> int:
        """Remove uploads that were still streaming when the desk stopped (no job names
        them: their clients never got an answer). Only at start, with no request running."""
        removed = 0
        for leftover in self.incoming.glob("up-*"):
            with suppress(OSError):
                leftover.unlink()
                removed += 1
        return removed

    def upload_path(self, sha256: str) -> Path:
        if not SHA256_PATTERN.match(sha256):
            raise ValueError("not a sha256")
        return self.uploads / sha256[:2] / sha256

    def temp_file(self) -> tuple[int, str]:
        return tempfile.mkstemp(dir=self.incoming, prefix="up-")

    def keep(self, temp: str, sha256: str) -> Path:
        """Move a finished temp upload to its sha256 name (a no-op when already there)."""
        dest = self.upload_path(sha256)
        dest.parent.mkdir(exist_ok=True)
        with self.lock:
            if dest.exists():
                os.unlink(temp)
            else:
                size = os.path.getsize(temp)
                os.replace(temp, dest)
                self.uploads_bytes += size
        return dest

    def forget(self, sha256: str) -> None:
        path = self.upload_path(sha256)
        with self.lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return
            self.uploads_bytes -= size

    def page_path(self, case_id: str, lang: str) -> Path:
        if not valid_id(case_id) or lang not in LANGS:
            raise ValueError("bad page key")
        return self.pages / f"{case_id}.{lang}.html.gz"

    def write_page(self, case_id: str, lang: str, html_gz: bytes) -> None:
        dest = self.page_path(case_id, lang)
        fd, tmp = tempfile.mkstemp(dir=self.pages, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(html_gz)
        os.replace(tmp, dest)

    def read_page(self, case_id: str, lang: str) -> str | None:
        try:
            return gzip.decompress(self.page_path(case_id, lang).read_bytes()).decode("utf-8")
        except FileNotFoundError:
            return None

    def pdf_path(self, case_id: str, lang: str) -> Path:
        if not valid_id(case_id) or lang not in LANGS:
            raise ValueError("bad page key")
        return self.pdfs / f"{case_id}.{lang}.pdf"

    def read_pdf(self, case_id: str, lang: str) -> bytes | None:
        """A report's PDF rendered before, or None."""
        try:
            return self.pdf_path(case_id, lang).read_bytes()
        except FileNotFoundError:
            return None

    def write_pdf(self, case_id: str, lang: str, data: bytes) -> None:
        """Keep a rendered PDF (written whole, then renamed: a reader never sees half)."""
        dest = self.pdf_path(case_id, lang)
        fd, tmp = tempfile.mkstemp(dir=self.pdfs, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)

    def remove_case(self, case_id: str) -> None:
        """A deleted case's pages and PDFs, in every language."""
        for lang in LANGS:
            self.page_path(case_id, lang).unlink(missing_ok=True)
            self.pdf_path(case_id, lang).unlink(missing_ok=True)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
