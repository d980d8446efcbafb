"""The file's facts: format, size, hashes, JPEG tables."""

from __future__ import annotations

from photoloupe.report.html.base import Builder
from photoloupe.report.html.view import Cell, Row
from photoloupe.report.visible import visible_name


class FileSection(Builder):
    def file_facts(self) -> list[Row]:
        f = self.report.file
        rows = [
            Row(self.ui("ui.file.name"), (Cell(visible_name(f.name), ltr=True),)),
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
