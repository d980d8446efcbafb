"""Provenance: Content Credentials, AI markers and mentions, the metadata summary, and the raw
metadata tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from photoloupe.report.html.base import MAX_RAW_ROWS, Builder, gps_time, num, text_of
from photoloupe.report.html.view import Cell, Page, RawTable, Row


class ProvenanceSection(Builder):
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
            actions = [text_of(a.get("action", a.get("label", ""))) for a in c.actions]
            actions = [a for a in actions if a]
            if actions:
                rows.append(
                    Row(self.ui("ui.c2pa.actions"), tuple(Cell(a, mono=True) for a in actions))
                )
            if c.ingredients:
                names = [text_of(i.get("title", "")) for i in c.ingredients]
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
                Cell(e.explanation_ar)
                if self.lang == "ar" and e.explanation_ar
                else self.english(e.explanation),
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
            s = text_of(v).strip()
            return Cell(s, ltr=True) if s else missing

        rows.append(Row(self.ui("ui.meta.make"), (value(md.get("make")),)))
        rows.append(Row(self.ui("ui.meta.model"), (value(md.get("model")),)))
        if text_of(md.get("lens")).strip():
            rows.append(Row(self.ui("ui.meta.lens"), (value(md.get("lens")),)))
        dates = md.get("dates")
        dates = dates if isinstance(dates, Mapping) else {}
        for key in ("captured", "digitized", "modified"):
            rows.append(Row(self.ui(f"ui.meta.{key}"), (value(dates.get(key)),)))
        software = md.get("software")
        if isinstance(software, str):
            software = [software]
        sw = (
            [text_of(s) for s in software or [] if text_of(s)]
            if isinstance(software, list | tuple)
            else []
        )
        rows.append(
            Row(self.ui("ui.meta.software"), tuple(Cell(s, ltr=True) for s in sw) or (missing,))
        )
        history = md.get("history_software_agents")
        if isinstance(history, list | tuple) and history:
            rows.append(
                Row(self.ui("ui.meta.history"), tuple(Cell(text_of(h), ltr=True) for h in history))
            )
        rows.append(Row(self.ui("ui.meta.gps"), self.gps(md.get("gps"))))
        rows.append(Row(self.ui("ui.meta.icc"), (value(md.get("icc_profile")),)))
        rows.append(Row(self.ui("ui.meta.thumbnail"), self.thumbnail(md.get("thumbnail"))))
        if text_of(md.get("comment")).strip():
            rows.append(Row(self.ui("ui.meta.comment"), (value(md.get("comment")),)))
        errors = md.get("errors")
        if isinstance(errors, list | tuple) and errors:
            rows.append(
                Row(self.ui("ui.meta.errors"), tuple(self.english(text_of(e)) for e in errors))
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
        stamp = f"{text_of(gps.get('date')).strip()} {gps_time(gps.get('time'))}".strip()
        if stamp:
            cells.append(Cell(self.ui("ui.meta.gps_time")))
            cells.append(Cell(stamp, ltr=True, glue=True))
        for key, v in gps.items():
            if key in ("latitude", "longitude", "altitude_m", "date", "time"):
                continue
            if v is None or v == "":
                continue
            cells.append(Cell(f"{key}: {text_of(v)}", ltr=True))
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
            cells.append(Cell(num(float(sim)), ltr=True, glue=True))
        return tuple(cells)

    def raw_tables(self) -> list[RawTable]:
        md: Mapping[str, Any] = self.report.provenance.metadata or {}
        tables = []
        for key, name in (("exif", "EXIF"), ("xmp", "XMP"), ("iptc", "IPTC"), ("png_text", "PNG")):
            block = md.get(key)
            if not isinstance(block, Mapping) or not block:
                continue
            items = [(str(k), text_of(v)) for k, v in block.items()]
            tables.append(
                RawTable(name, tuple(items[:MAX_RAW_ROWS]), max(0, len(items) - MAX_RAW_ROWS))
            )
        return tables
