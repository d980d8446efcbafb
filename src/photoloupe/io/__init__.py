"""Safe intake: bytes or a path in, a `Picture` out, or a clear `InputError`.

Everything that reads user files goes through `load_picture`. It enforces the limits (file size,
pixel count, decode time), decodes only the formats photoloupe supports, and normalises the first
frame to 8-bit RGB in *stored* orientation: forensic analyses must see the pixels as the encoder
wrote them, so EXIF orientation is applied only by `Picture.display_pixels()`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from photoloupe.errors import (
    DecodeTimeout,
    DecompressionBomb,
    EmptyFile,
    FileTooLarge,
    InputError,
    NotFound,
    TooManyPixels,
)
from photoloupe.io.decode import decode_bytes
from photoloupe.io.formats import SUPPORTED_FORMATS, supported_formats_text
from photoloupe.io.picture import JpegTables, Limits, Picture, orient_array
from photoloupe.io.png import png_without_ancillary_chunks

__all__ = [
    "SUPPORTED_FORMATS",
    "JpegTables",
    "Limits",
    "Picture",
    "display_path",
    "load_picture",
    "orient_array",
    "read_file_within",
    "run_with_deadline",
    "supported_formats_text",
]

T = TypeVar("T")


def load_picture(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    limits: Limits | None = None,
) -> Picture:
    """Read and decode `source` (a path or the file's bytes) within `limits`.

    Raises an `InputError` subclass, never anything else, for input that cannot be analysed.

    >>> load_picture(b"")
    Traceback (most recent call last):
    ...
    photoloupe.errors.EmptyFile: The file is empty (0 bytes).
    """
    limits = limits or Limits()
    path: str | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = name or "upload"
        if len(data) > limits.max_bytes:
            raise _too_large(len(data), limits)
    else:
        path = os.fspath(source)
        name = name or os.path.basename(path)
        data = read_file_within(path, limits)
    if not data:
        raise EmptyFile("The file is empty (0 bytes).")
    return run_with_deadline(
        lambda: _decode(data, name, path, limits),
        limits.max_decode_seconds,
    )


def read_file_within(path: str, limits: Limits) -> bytes:
    """The bytes of the file at `path`, or the `InputError` `load_picture` gives for it (not
    found, not a regular file, over the size limit, unreadable). Never reads past the limit.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"No such file: {path}") from None
    except OSError as exc:
        raise InputError(f"The file cannot be opened: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise InputError(f"Not a regular file: {path}", code="not_a_file")
    if st.st_size > limits.max_bytes:
        raise _too_large(st.st_size, limits)
    try:
        with open(path, "rb") as fh:
            # Read one byte past the limit: the file may have grown since stat().
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise InputError(f"The file cannot be read: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise _too_large(len(data), limits)
    return data


def _too_large(size: int, limits: Limits) -> FileTooLarge:
    mib = 1024 * 1024
    return FileTooLarge(
        f"The file is {size / mib:.1f} MiB; the limit is {limits.max_bytes / mib:.1f} MiB."
    )


def run_with_deadline(fn: Callable[[], T], seconds: float, what: str = "Decoding") -> T:
    """Run `fn` on a daemon thread and give up after `seconds` (raising `DecodeTimeout`).

    The decoders (and the C2PA library) are native code that Python cannot interrupt; a daemon
    thread lets the caller return (and a CLI process exit) on time even if a pathological file
    keeps one busy. Pillow releases the GIL while decoding, so this costs nothing measurable.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=target, name="photoloupe-decode", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DecodeTimeout(f"{what} took longer than the {seconds:g} s limit.")
    if error:
        raise error[0]
    return result[0]


def _decode(data: bytes, name: str, path: str | None, limits: Limits) -> Picture:
    try:
        return decode_bytes(data, data, name, path, limits)
    except (TooManyPixels, DecompressionBomb, DecodeTimeout):
        raise
    except InputError:
        # A PNG whose pixels are fine can still be refused over one oversized metadata chunk
        # (zTXt, iCCP). Anyone could add such a chunk to block analysis, so the pixels are
        # decoded again without the chunks that do not describe them; the metadata reader
        # still sees the original bytes.
        stripped, dropped = png_without_ancillary_chunks(data)
        if not dropped:
            raise
        picture = decode_bytes(stripped, data, name, path, limits)
    note = (
        f"Metadata chunks ({', '.join(dropped)}) were set aside so that the pixels could be "
        "decoded."
    )
    object.__setattr__(picture, "notes", (*picture.notes, note))
    return picture


def display_path(path: str) -> str:
    """`path` as text that JSON can carry.

    File names are bytes on POSIX; Python keeps undecodable bytes as lone surrogates, which
    no JSON encoder accepts. They are shown as backslash escapes instead (the file itself is
    still opened by its real name).
    """
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
