"""The human-readable report: one self-contained HTML page, in English or Arabic.

Everything the page needs travels inside it: pictures as `data:` URIs, CSS in a `<style>`
block, no script and no address to fetch, so it opens offline and can be mailed or archived
as one file. Every label comes from the `ui.*` keys of the message catalogues; data (numbers,
hashes, file names, metadata tags and values) is shown as it is, isolated left-to-right so that
it keeps its order on an Arabic page.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import numpy.typing as npt
from PIL import Image

from photoloupe.i18n import LANGS, catalogue, t
from photoloupe.report.images import (
    colorize,
    encode_jpeg,
    encode_png,
    map_to_png,
    orient_array,
    orient_box,
    oriented_size,
    shrink,
)
from photoloupe.schema.report import Analysis, Evidence, Region, Report

__all__ = ["encode_png", "map_to_png", "render_html", "render_html_document", "write_html"]

MAX_IMAGE_SIDE = 1024
"""Longest side, in pixels, of a picture or map embedded in the page."""
MAX_RAW_ROWS = 300
"""Rows shown per raw metadata table (EXIF, XMP, IPTC)."""
_SMALL_MAP = 256
"""Maps smaller than this are drawn with hard pixel edges rather than blurred when enlarged."""


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True)
class Cell:
    """One piece of text in the page.

    ltr: data that must keep left-to-right order (numbers, hashes, tags, dates).
    mono: data shown in a fixed-width font (hashes, codes); implies ltr.
    english: free text that exists only in English, on a page in another language.
    glue: in a list of cells, joined to the one before by a space rather than a separator.
    """

    text: str
    ltr: bool = False
    mono: bool = False
    english: bool = False
    glue: bool = False


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    note: str | None = None


@dataclass(frozen=True)
class Box:
    """A region drawn over a picture, in percent of the displayed picture."""

    number: int
    left: float
    top: float
    width: float
    height: float

    @property
    def style(self) -> str:
        return (
            f"left:{self.left:.3f}%;top:{self.top:.3f}%;"
            f"width:{self.width:.3f}%;height:{self.height:.3f}%"
        )


@dataclass(frozen=True)
class Picture:
    uri: str
    width: int
    height: int
    pixelated: bool = False
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class EvidenceItem:
    source: Cell
    code: str
    message: Cell


@dataclass(frozen=True)
class EvidenceBlock:
    title: str
    rows: tuple[Row, ...]
    items: tuple[EvidenceItem, ...]
    regions: tuple[Row, ...] = ()


@dataclass(frozen=True)
class MapView:
    title: Cell
    rows: tuple[Row, ...]
    notes: tuple[Cell, ...]
    picture: Picture | None


@dataclass(frozen=True)
class RawTable:
    name: str
    rows: tuple[tuple[str, str], ...]
    hidden: int


@dataclass
class Page:
    """One report, ready for the template."""

    prefix: str
    label: str
    label_class: str
    summary: Cell
    checked: list[Cell] = field(default_factory=list)
    not_checked: list[Cell] = field(default_factory=list)
    preview: Picture | None = None
    evidence: list[EvidenceBlock] = field(default_factory=list)
    c2pa_present: bool = False
    c2pa_rows: list[Row] = field(default_factory=list)
    c2pa_errors: list[tuple[Cell, Cell, Cell | None]] = field(default_factory=list)
    c2pa_remote: str | None = None
    markers: list[tuple[Cell, Cell, Cell, Cell]] = field(default_factory=list)
    mentions: list[tuple[Cell, Cell, Cell, Cell]] = field(default_factory=list)
    meta_rows: list[Row] = field(default_factory=list)
    raw_tables: list[RawTable] = field(default_factory=list)
    maps: list[MapView] = field(default_factory=list)
    legend: str = ""
    file_rows: list[Row] = field(default_factory=list)
    file_notes: list[Cell] = field(default_factory=list)
    warnings: list[Cell] = field(default_factory=list)
    file_name: str = ""
    created: str = ""
    tool: str = ""
    schema_id: str = ""


@dataclass(frozen=True)
class Document:
    """The whole HTML page: one or more reports in one language."""

    lang: str
    dir: str
    title: str
    tool: str
    pages: tuple[Page, ...]


# --------------------------------------------------------------------------- helpers


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _text(value: object) -> str:
    """A metadata value as one line of text, whatever type the reader gave it."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 64 else value[:64].hex() + "…"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _fit(rgb: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    """A copy of an image array whose longer side is at most `max_side`."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(img)


def _gps_time(value: object) -> str:
    """EXIF GPSTimeStamp as HH:MM:SS; exiv2 may give three rationals ("14/1 57/1 4137/100")."""
    text = _text(value).strip()
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


class _Builder:
    def __init__(self, report: Report, lang: str, prefix: str = "") -> None:
        self.report = report
        self.lang = lang
        self.prefix = prefix
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
        return Cell(_num(value), ltr=True)

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
            arr = _fit(arr, MAX_IMAGE_SIDE)
        uri = _data_uri("image/jpeg", encode_jpeg(arr))
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
        uri = _data_uri("image/png", encode_png(colorize(a)))
        h, w = a.shape
        return Picture(uri, int(w), int(h), pixelated=max(h, w) < _SMALL_MAP, boxes=boxes)

    # -- sections

    def evidence(self) -> list[EvidenceBlock]:
        r = self.report
        ai = r.ai_generated
        ai_rows = [
            Row(self.ui("ui.evidence.assessment"), (self.opt("ui.decision.", ai.decision),)),
            Row(self.ui("ui.evidence.probability"), (self.score(ai.probability),)),
        ]
        if ai.threshold is not None:
            ai_rows.append(Row(self.ui("ui.evidence.threshold"), (self.score(ai.threshold),)))
        ai_rows.append(
            Row(self.ui("ui.evidence.reliability"), (self.opt("ui.reliability.", ai.reliability),))
        )
        if ai.detectors:
            each = ", ".join(
                f"{self.ui('ui.detector.' + name)} {self.score(p).text}"
                for name, p in ai.detectors.items()
            )
            ai_rows.append(Row(self.ui("ui.evidence.detectors"), (Cell(each),)))
        if ai.attribution is not None:
            family = (
                self.ui("ui.attribution.unknown")
                if ai.attribution.family == "unknown"
                else f"{ai.attribution.label} ({self.score(ai.attribution.confidence).text})"
            )
            ai_rows.append(Row(self.ui("ui.evidence.attribution"), (Cell(family),)))
        if ai.model is not None:
            model = f"{ai.model.name} {ai.model.version}".strip()
            ai_rows.append(Row(self.ui("ui.evidence.model"), (Cell(model, ltr=True),)))
        ed = r.edited
        ed_rows = [Row(self.ui("ui.evidence.probability"), (self.score(ed.probability),))]
        regions = tuple(
            Row(
                str(i),
                (
                    Cell(", ".join(str(v) for v in reg.box), ltr=True),
                    Cell(_num(reg.score), ltr=True),
                    Cell(", ".join(reg.methods), ltr=True),
                ),
            )
            for i, reg in enumerate(ed.regions, start=1)
        )
        return [
            EvidenceBlock(self.ui("ui.evidence.ai"), tuple(ai_rows), self.items(ai.evidence)),
            EvidenceBlock(
                self.ui("ui.evidence.edited"), tuple(ed_rows), self.items(ed.evidence), regions
            ),
        ]

    def items(self, evidence: Iterable[Evidence]) -> tuple[EvidenceItem, ...]:
        return tuple(
            EvidenceItem(self.opt("ui.source.", ev.source), ev.code, self.evidence_message(ev))
            for ev in evidence
        )

    def c2pa(self, page: Page) -> None:
        c = self.report.provenance.c2pa
        page.c2pa_present = c.present
        rows: list[Row] = [Row(self.ui("ui.c2pa.present"), (self.yesno(c.present),))]
        if c.present:
            rows.append(Row(self.ui("ui.c2pa.valid"), (self.yesno(c.valid),)))
            if c.state is not None:
                rows.append(Row(self.ui("ui.c2pa.state"), (self.opt("ui.c2pa.state.", c.state),)))

            def data(label: str, value: str | None) -> None:
                if value:
                    rows.append(Row(self.ui(label), (Cell(value, ltr=True),)))

            data("ui.c2pa.signer", c.signer)
            data("ui.c2pa.issuer", c.issuer)
            data("ui.c2pa.signed_at", c.signed_at)
            data("ui.c2pa.claim_generator", c.claim_generator)
            data("ui.c2pa.title_field", c.title)
            rows.append(Row(self.ui("ui.c2pa.ai_claim"), (self.yesno(c.ai_generated_claim),)))
            if c.digital_source_types:
                rows.append(
                    Row(
                        self.ui("ui.c2pa.source_types"),
                        tuple(Cell(s, mono=True) for s in c.digital_source_types),
                    )
                )
            actions = [_text(a.get("action", a.get("label", ""))) for a in c.actions]
            actions = [a for a in actions if a]
            if actions:
                rows.append(
                    Row(self.ui("ui.c2pa.actions"), tuple(Cell(a, mono=True) for a in actions))
                )
            if c.ingredients:
                names = [_text(i.get("title", "")) for i in c.ingredients]
                cells = tuple(Cell(n, ltr=True) for n in names if n) or (
                    Cell(str(len(c.ingredients)), ltr=True),
                )
                rows.append(Row(self.ui("ui.c2pa.ingredients"), cells))
            if c.note:
                rows.append(Row(self.ui("ui.c2pa.note"), (self.english(c.note),)))
        page.c2pa_rows = rows
        page.c2pa_errors = [
            (
                Cell(e.code, mono=True),
                self.english(e.explanation),
                Cell(e.url, mono=True) if e.url else None,
            )
            for e in c.errors
        ]
        page.c2pa_remote = c.remote_manifest_url

    def markers(self, mentions: bool = False) -> list[tuple[Cell, Cell, Cell, Cell]]:
        found = (
            self.report.provenance.ai_mentions if mentions else self.report.provenance.ai_markers
        )
        return [
            (
                Cell(m.kind, mono=True),
                Cell(m.value, ltr=True),
                Cell(m.where, mono=True),
                Cell(m.generator or "", ltr=True),
            )
            for m in found
        ]

    def metadata(self) -> list[Row]:
        md: Mapping[str, Any] = self.report.provenance.metadata or {}
        rows: list[Row] = []
        missing = Cell(self.ui("ui.not_recorded"))

        def value(v: object) -> Cell:
            s = _text(v).strip()
            return Cell(s, ltr=True) if s else missing

        rows.append(Row(self.ui("ui.meta.make"), (value(md.get("make")),)))
        rows.append(Row(self.ui("ui.meta.model"), (value(md.get("model")),)))
        if _text(md.get("lens")).strip():
            rows.append(Row(self.ui("ui.meta.lens"), (value(md.get("lens")),)))
        dates = md.get("dates")
        dates = dates if isinstance(dates, Mapping) else {}
        for key in ("captured", "digitized", "modified"):
            rows.append(Row(self.ui(f"ui.meta.{key}"), (value(dates.get(key)),)))
        software = md.get("software")
        if isinstance(software, str):
            software = [software]
        sw = (
            [_text(s) for s in software or [] if _text(s)]
            if isinstance(software, list | tuple)
            else []
        )
        rows.append(
            Row(self.ui("ui.meta.software"), tuple(Cell(s, ltr=True) for s in sw) or (missing,))
        )
        history = md.get("history_software_agents")
        if isinstance(history, list | tuple) and history:
            rows.append(
                Row(self.ui("ui.meta.history"), tuple(Cell(_text(h), ltr=True) for h in history))
            )
        rows.append(Row(self.ui("ui.meta.gps"), self.gps(md.get("gps"))))
        rows.append(Row(self.ui("ui.meta.icc"), (value(md.get("icc_profile")),)))
        rows.append(Row(self.ui("ui.meta.thumbnail"), self.thumbnail(md.get("thumbnail"))))
        if _text(md.get("comment")).strip():
            rows.append(Row(self.ui("ui.meta.comment"), (value(md.get("comment")),)))
        errors = md.get("errors")
        if isinstance(errors, list | tuple) and errors:
            rows.append(
                Row(self.ui("ui.meta.errors"), tuple(self.english(_text(e)) for e in errors))
            )
        return rows

    def gps(self, gps: object) -> tuple[Cell, ...]:
        if not isinstance(gps, Mapping) or not gps:
            return (Cell(self.ui("ui.meta.gps_none")),)
        lat, lon = gps.get("latitude"), gps.get("longitude")
        cells: list[Cell] = []
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            cells.append(Cell(f"{float(lat):.6f}, {float(lon):.6f}", ltr=True))
        altitude = gps.get("altitude_m")
        if isinstance(altitude, int | float):
            cells.append(Cell(self.ui("ui.meta.altitude")))
            cells.append(Cell(f"{float(altitude):g}", ltr=True, glue=True))
        stamp = f"{_text(gps.get('date')).strip()} {_gps_time(gps.get('time'))}".strip()
        if stamp:
            cells.append(Cell(self.ui("ui.meta.gps_time")))
            cells.append(Cell(stamp, ltr=True, glue=True))
        for key, v in gps.items():
            if key in ("latitude", "longitude", "altitude_m", "date", "time"):
                continue
            if v is None or v == "":
                continue
            cells.append(Cell(f"{key}: {_text(v)}", ltr=True))
        return tuple(cells) or (Cell(self.ui("ui.meta.gps_none")),)

    def thumbnail(self, thumb: object) -> tuple[Cell, ...]:
        if not isinstance(thumb, Mapping) or not thumb.get("present", bool(thumb)):
            return (Cell(self.ui("ui.thumb.absent")),)
        if thumb.get("readable") is False:
            return (Cell(self.ui("ui.thumb.unreadable")),)
        cells: list[Cell] = []
        w, h = thumb.get("width"), thumb.get("height")
        if isinstance(w, int) and isinstance(h, int):
            cells.append(Cell(f"{w} × {h}", ltr=True))
        matches = thumb.get("matches")
        if matches is None:
            cells.append(Cell(self.ui("ui.thumb.not_compared")))
        else:
            cells.append(Cell(self.ui("ui.thumb.matches" if matches else "ui.thumb.mismatch")))
        sim = thumb.get("similarity")
        if isinstance(sim, int | float) and math.isfinite(sim):
            cells.append(Cell(self.ui("ui.thumb.similarity")))
            cells.append(Cell(_num(float(sim)), ltr=True, glue=True))
        return tuple(cells)

    def raw_tables(self) -> list[RawTable]:
        md: Mapping[str, Any] = self.report.provenance.metadata or {}
        tables = []
        for key, name in (("exif", "EXIF"), ("xmp", "XMP"), ("iptc", "IPTC"), ("png_text", "PNG")):
            block = md.get(key)
            if not isinstance(block, Mapping) or not block:
                continue
            items = [(str(k), _text(v)) for k, v in block.items()]
            tables.append(
                RawTable(name, tuple(items[:MAX_RAW_ROWS]), max(0, len(items) - MAX_RAW_ROWS))
            )
        return tables

    def maps(self) -> list[MapView]:
        r = self.report
        maps = r.maps
        views: list[MapView] = []
        used: set[str] = set()
        for name, analysis in r.analyses.items():
            rows = [Row(self.ui("ui.maps.score"), (self.score(analysis.score),))]
            evidence_of = analysis.evidence_of or "none"
            rows.append(
                Row(self.ui("ui.maps.evidence_of"), (self.opt("ui.evidence_of.", evidence_of),))
            )
            picture = None
            if name in maps:
                used.add(name)
                picture = self.map_picture(maps[name])
            views.append(
                MapView(
                    self.opt("ui.analysis.", name),
                    tuple(rows),
                    self.analysis_notes(analysis),
                    picture,
                )
            )
        edited_keys = [k for k in ("edited", r.edited.map) if k and k in maps and k not in used]
        if edited_keys:
            key = edited_keys[0]
            used.add(key)
            picture = self.map_picture(maps[key], self.boxes(r.edited.regions))
            rows = [Row(self.ui("ui.evidence.probability"), (self.score(r.edited.probability),))]
            views.append(MapView(Cell(self.ui("ui.maps.edited")), tuple(rows), (), picture))
        for name, arr in maps.items():
            if name in used:
                continue
            views.append(MapView(Cell(name, ltr=True), (), (), self.map_picture(arr)))
        return views

    def file_facts(self) -> list[Row]:
        f = self.report.file
        rows = [
            Row(self.ui("ui.file.name"), (Cell(f.name, ltr=True),)),
            Row(self.ui("ui.file.format"), (Cell(f.format, ltr=True),)),
            Row(self.ui("ui.file.mime"), (Cell(f.mime, mono=True),)),
        ]
        if f.extension_matches_content is not None:
            rows.append(
                Row(
                    self.ui("ui.file.extension_matches"), (self.yesno(f.extension_matches_content),)
                )
            )
        rows.append(
            Row(
                self.ui("ui.file.size"),
                (Cell(f"{f.bytes:,}", ltr=True), Cell(self.ui("ui.unit.bytes"), glue=True)),
            )
        )
        rows.append(
            Row(
                self.ui("ui.file.dimensions"),
                (
                    Cell(f"{f.width} × {f.height}", ltr=True),
                    Cell(self.ui("ui.unit.pixels"), glue=True),
                ),
            )
        )
        if f.orientation != 1:
            rows.append(Row(self.ui("ui.file.orientation"), (Cell(str(f.orientation), ltr=True),)))
        frames: tuple[Cell, ...] = (Cell(str(f.frames), ltr=True),)
        if f.frames > 1:
            frames += (Cell(self.ui("ui.file.first_frame")),)
        rows.append(Row(self.ui("ui.file.frames"), frames))
        rows.append(Row(self.ui("ui.file.animated"), (self.yesno(f.animated),)))
        rows.append(Row(self.ui("ui.file.color_mode"), (Cell(f.color_mode, ltr=True),)))
        rows.append(Row(self.ui("ui.file.bit_depth"), (Cell(str(f.bit_depth), ltr=True),)))
        rows.append(Row(self.ui("ui.file.alpha"), (self.yesno(f.has_alpha),)))
        if f.jpeg is not None:
            q = f.jpeg.estimated_quality
            rows.append(
                Row(
                    self.ui("ui.file.jpeg_quality"),
                    (Cell(str(q), ltr=True) if q is not None else Cell(self.ui("ui.unknown")),),
                )
            )
            sub = f.jpeg.subsampling
            rows.append(
                Row(
                    self.ui("ui.file.subsampling"),
                    (Cell(sub, ltr=True) if sub else Cell(self.ui("ui.unknown")),),
                )
            )
            rows.append(Row(self.ui("ui.file.progressive"), (self.yesno(f.jpeg.progressive),)))
        rows.append(Row(self.ui("ui.file.sha256"), (Cell(f.sha256, mono=True),)))
        return rows

    def build(self) -> Page:
        r = self.report
        v = r.verdict
        page = Page(
            prefix=self.prefix,
            label=t(f"verdict.label.{v.label}", self.lang),
            label_class=v.label,
            summary=Cell(v.summary_ar)
            if self.lang == "ar" and v.summary_ar.strip()
            else self.english(v.summary),
        )
        page.checked = [self.phrase(c, ("verdict.checked.",)) for c in v.checked]
        page.not_checked = [
            self.phrase(c, ("verdict.not_run.", "verdict.not_checked.", "verdict.checked."))
            for c in v.not_checked
        ]
        page.preview = self.preview()
        page.evidence = self.evidence()
        self.c2pa(page)
        page.markers = self.markers()
        page.mentions = self.markers(mentions=True)
        page.meta_rows = self.metadata()
        page.raw_tables = self.raw_tables()
        page.maps = self.maps()
        if any(m.picture is not None for m in page.maps):
            ramp = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (8, 1))
            page.legend = _data_uri("image/png", map_to_png(ramp))
        page.file_rows = self.file_facts()
        page.file_notes = [self.english(n) for n in r.file.notes]
        page.warnings = [self.english(w) for w in r.warnings]
        page.file_name = r.file.name
        page.created = r.created
        page.tool = f"{r.tool.name} {r.tool.version}"
        page.schema_id = r.schema_id
        return page


# --------------------------------------------------------------------------- rendering


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("photoloupe.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Report, lang: str = "en") -> str:
    """The report as one self-contained HTML page in `lang` ("en" or "ar")."""
    return render_html_document([report], lang)


def render_html_document(reports: Sequence[Report], lang: str = "en") -> str:
    """Several reports in one self-contained HTML page, with a list of contents when more than one.

    Each report's element ids are prefixed ("r1-", "r2-", ...) when there are several, so the
    contents can link to them; a single report gets plain ids ("verdict", "provenance", ...).
    """
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGS)}")
    if not reports:
        raise ValueError("no report to render")
    many = len(reports) > 1
    pages = tuple(
        _Builder(r, lang, f"r{i}-" if many else "").build() for i, r in enumerate(reports, start=1)
    )
    names = [p.file_name for p in pages]
    title = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
    tools = sorted({p.tool for p in pages})
    doc = Document(
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        title=title,
        tool=", ".join(tools),
        pages=pages,
    )
    template = _environment().get_template("report.html.j2")
    return template.render(doc=doc, ui=lambda key: t(key, lang))


def write_html(report: Report, path: str | Path, lang: str = "en") -> Path:
    """Render the report and write it, UTF-8, to `path`; returns the path written."""
    out = Path(path)
    out.write_text(render_html(report, lang), encoding="utf-8")
    return out
