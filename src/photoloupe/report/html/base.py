"""What every section builder shares: the report, the page's language and the words and
pictures helpers (the base class of the section builders)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.i18n import catalogue, t
from photoloupe.report.html.view import Box, Cell, Picture
from photoloupe.report.images import (
    colorize,
    encode_jpeg,
    encode_png,
    orient_array,
    orient_box,
    oriented_size,
    shrink,
)
from photoloupe.schema.corroborate import Match
from photoloupe.schema.report import Analysis, Evidence, Region, Report

MAX_IMAGE_SIDE = 1024
"""Longest side, in pixels, of a picture or map embedded in the page."""
MAX_RAW_ROWS = 300
"""Rows shown per raw metadata table (EXIF, XMP, IPTC)."""
_SMALL_MAP = 256
"""Maps smaller than this are drawn with hard pixel edges rather than blurred when enlarged."""


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def text_of(value: object) -> str:
    """A metadata value as one line of text, whatever type the reader gave it."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 64 else value[:64].hex() + "…"
    if isinstance(value, list | tuple):
        return ", ".join(text_of(v) for v in value)
    return str(value)


def fit_within(rgb: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    """A copy of an image array whose longer side is at most `max_side`."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(img)


def gps_time(value: object) -> str:
    """EXIF GPSTimeStamp as HH:MM:SS; exiv2 may give three rationals ("14/1 57/1 4137/100")."""
    text = text_of(value).strip()
    parts = text.split()
    if len(parts) != 3 or not all("/" in p for p in parts):
        return text
    try:
        h, m, sec = (float(Fraction(p)) for p in parts)
    except (ValueError, ZeroDivisionError):
        return text
    seconds = f"{sec:05.2f}".rstrip("0").rstrip(".") if sec % 1 else f"{int(sec):02d}"
    return f"{int(h):02d}:{int(m):02d}:{seconds}"


@cache
def _english_keys() -> dict[str, str]:
    """English catalogue text -> key, to translate items given as English sentences."""
    return {text: key for key, text in catalogue("en").items()}


MatchLink = Callable[[Match], "str | None"]
"""The address of a side-by-side view of an archive match, or None."""


class Builder:
    """The report and the page's language, with the helpers every section uses."""

    def __init__(
        self, report: Report, lang: str, prefix: str = "", match_link: MatchLink | None = None
    ) -> None:
        self.report = report
        self.lang = lang
        self.prefix = prefix
        self.match_link = match_link
        self.cat = catalogue(lang)

    # -- words

    def ui(self, key: str) -> str:
        return t(key, self.lang)

    def opt(self, prefix: str, value: str) -> Cell:
        """The translation of `prefix + value` when one exists, otherwise the value as data."""
        key = prefix + value
        if key in self.cat:
            return Cell(self.cat[key])
        return Cell(value, ltr=True)

    def yesno(self, value: object) -> Cell:
        if value is None:
            return Cell(self.ui("ui.unknown"))
        return Cell(self.ui("ui.yes" if value else "ui.no"))

    def english(self, text: str) -> Cell:
        return Cell(text, english=self.lang != "en")

    def phrase(self, item: str, prefixes: Sequence[str]) -> Cell:
        """An item of `verdict.checked` / `not_checked`: a code, a catalogue key or a sentence."""
        candidates = [p + item for p in prefixes]
        candidates.append(item)
        reverse = _english_keys().get(item)
        if reverse is not None:
            candidates.append(reverse)
        for key in candidates:
            text = self.cat.get(key)
            if text is not None and "{" not in text:
                return Cell(text)
        return self.english(item)

    def evidence_message(self, ev: Evidence) -> Cell:
        """The message of an evidence item, in Arabic when the report carries it."""
        if self.lang == "ar" and ev.message_ar:
            return Cell(ev.message_ar)
        return self.english(ev.message)

    def analysis_notes(self, analysis: Analysis) -> tuple[Cell, ...]:
        if self.lang == "ar" and analysis.notes_ar:
            return tuple(Cell(n) for n in analysis.notes_ar)
        return tuple(self.english(n) for n in analysis.notes)

    def score(self, value: float | None) -> Cell:
        if value is None:
            return Cell(self.ui("ui.not_measured"))
        return Cell(num(value), ltr=True)

    # -- pictures

    def display_size(self) -> tuple[int, int]:
        f = self.report.file
        return oriented_size(f.width, f.height, f.orientation)

    def boxes(self, regions: Iterable[Region]) -> tuple[Box, ...]:
        f = self.report.file
        if f.width <= 0 or f.height <= 0:
            return ()
        dw, dh = self.display_size()
        out = []
        for i, r in enumerate(regions, start=1):
            bx, by, bw, bh = r.box
            x, y, w, h = orient_box((bx, by, bw, bh), f.width, f.height, f.orientation)
            left = min(max(x / dw, 0.0), 1.0)
            top = min(max(y / dh, 0.0), 1.0)
            width = min(max(w / dw, 0.0), 1.0 - left)
            height = min(max(h / dh, 0.0), 1.0 - top)
            out.append(Box(i, left * 100, top * 100, width * 100, height * 100))
        return tuple(out)

    def preview(self) -> Picture | None:
        arr = self.report.preview
        if arr is None or arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            return None
        if max(arr.shape[:2]) > MAX_IMAGE_SIDE:
            arr = fit_within(arr, MAX_IMAGE_SIDE)
        uri = data_uri("image/jpeg", encode_jpeg(arr))
        return Picture(
            uri, int(arr.shape[1]), int(arr.shape[0]), boxes=self.boxes(self.report.edited.regions)
        )

    def map_picture(
        self, array: npt.NDArray[np.floating[Any]], boxes: tuple[Box, ...] = ()
    ) -> Picture | None:
        a = np.asarray(array, dtype=np.float32)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim != 2 or a.size == 0:
            return None
        a = shrink(orient_array(a, self.report.file.orientation), MAX_IMAGE_SIDE)
        uri = data_uri("image/png", encode_png(colorize(a)))
        h, w = a.shape
        return Picture(uri, int(w), int(h), pixelated=max(h, w) < _SMALL_MAP, boxes=boxes)
