"""The analyses' maps, each with its score and notes."""

from __future__ import annotations

from photoloupe.report.html.base import Builder
from photoloupe.report.html.view import Cell, MapView, Row


class MapsSection(Builder):
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
            # Maps beside an analysis's own (its reliability) are named by the catalogue.
            views.append(MapView(self.opt("ui.map.", name), (), (), self.map_picture(arr)))
        return views
