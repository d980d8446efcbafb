"""The verdict's evidence blocks: AI generation, editing, and their regions."""

from __future__ import annotations

from collections.abc import Iterable

from photoloupe.report.html.base import Builder, num
from photoloupe.report.html.view import Cell, EvidenceBlock, EvidenceItem, Row
from photoloupe.schema.report import Evidence


class EvidenceSection(Builder):
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
                    Cell(num(reg.score), ltr=True),
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
