"""The intake checks that cost almost nothing: run by the desk before it queues a file.

`probe_file` reads a file's signature and, for the formats whose headers Pillow parses in
Python, its declared size, without decoding a pixel. It refuses what the analysis would refuse
anyway (an empty file, a format photoloupe does not read, a decompression bomb), so that such
a file gets its answer at once instead of a place in the queue. A file it lets through may
still fail in the analysis (a truncated scan, damaged data): that is the worker's to find.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from photoloupe.errors import EmptyFile, InputError, TooManyPixels
from photoloupe.io.formats import supported_signature, unidentified
from photoloupe.io.picture import Limits

# Pillow's header parsers for these formats are Python; HEIF and AVIF headers are parsed by
# libheif (native code), which the desk runs only in its worker processes.
_HEADER_IN_PYTHON = {"JPEG": ("JPEG",), "PNG": ("PNG",), "GIF": ("GIF",), "TIFF": ("TIFF",),
                     "BMP": ("BMP",), "WebP": ("WEBP",)}  # fmt: skip
_HEAD_BYTES = 64 * 1024


def probe_file(path: str | Path, name: str, limits: Limits | None = None) -> str:
    """The format `path` holds by its signature, or the `InputError` its analysis would give.

    >>> import io, tempfile
    >>> from PIL import Image
    >>> with tempfile.NamedTemporaryFile(suffix=".png") as fh:
    ...     Image.new("RGB", (4, 3)).save(fh, "PNG"); _ = fh.flush()
    ...     probe_file(fh.name, "tiny.png")
    'PNG'
    """
    limits = limits or Limits()
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if not head:
            raise EmptyFile("The file is empty (0 bytes).")
        kind = supported_signature(head)
        if kind is None:
            raise unidentified(head, name)
        if kind not in _HEADER_IN_PYTHON:
            return kind
        fh.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(fh, formats=_HEADER_IN_PYTHON[kind])
                width, height = im.size
        except Image.DecompressionBombError:
            width = height = -1  # Pillow's own limit: over ours as well
        except Exception:  # an unreadable header is the analysis's to name
            return kind
    if width < 0 or width * height > limits.max_pixels:
        shown = "" if width < 0 else f"{width}×{height} = {width * height / 1e6:.1f} megapixels; "
        raise TooManyPixels(
            f"The image declares {shown}the limit is {limits.max_pixels / 1e6:g} megapixels. "
            "It is either very large or a decompression bomb."
        )
    if width == 0 or height == 0:
        raise InputError("The image declares no pixels (0 width or height).")
    return kind
