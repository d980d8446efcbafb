"""The human-readable report: one self-contained HTML page, in English or Arabic.

Everything the page needs travels inside it: pictures as `data:` URIs, CSS in a `<style>`
block, no script and no address to fetch, so it opens offline and can be mailed or archived
as one file. Every label comes from the `ui.*` keys of the message catalogues; data (numbers,
hashes, file names, metadata tags and values) is shown as it is, isolated left-to-right so that
it keeps its order on an Arabic page.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import jinja2
import numpy as np

from photoloupe.i18n import LANGS, t
from photoloupe.report.html.base import MatchLink, data_uri
from photoloupe.report.html.corroboration import corroboration_view
from photoloupe.report.html.evidence import EvidenceSection
from photoloupe.report.html.facts import FileSection
from photoloupe.report.html.maps import MapsSection
from photoloupe.report.html.provenance import ProvenanceSection
from photoloupe.report.html.view import Cell, Document, Page
from photoloupe.report.images import encode_png, map_to_png
from photoloupe.report.visible import visible_name
from photoloupe.schema.report import Report

__all__ = ["encode_png", "map_to_png", "render_html", "render_html_document", "write_html"]


class PageBuilder(EvidenceSection, ProvenanceSection, MapsSection, FileSection):
    """One report's page: each section comes from its own builder."""

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
            page.legend = data_uri("image/png", map_to_png(ramp))
        page.file_rows = self.file_facts()
        page.file_notes = [self.english(n) for n in r.file.notes]
        page.warnings = [self.english(w) for w in r.warnings]
        if r.corroboration is not None:
            page.corroboration = corroboration_view(r.corroboration, self.lang, self.match_link)
        page.file_name = visible_name(r.file.name)
        page.created = r.created
        page.tool = f"{r.tool.name} {r.tool.version}"
        page.schema_id = r.schema_id
        return page


# --------------------------------------------------------------------------- rendering


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("photoloupe.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["visible"] = visible_name  # file names: overrides and controls shown
    return env


def render_html(report: Report, lang: str = "en", *, match_link: MatchLink | None = None) -> str:
    """The report as one self-contained HTML page in `lang` ("en" or "ar"); `match_link(match)`
    gives the address of a side-by-side view of an archive match (the desk), or None."""
    return render_html_document([report], lang, match_link=match_link)


def render_html_document(
    reports: Sequence[Report], lang: str = "en", *, match_link: MatchLink | None = None
) -> str:
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
        PageBuilder(r, lang, f"r{i}-" if many else "", match_link).build()
        for i, r in enumerate(reports, start=1)
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
    template = environment().get_template("report.html.j2")
    return template.render(doc=doc, ui=lambda key: t(key, lang))


def write_html(report: Report, path: str | Path, lang: str = "en") -> Path:
    """Render the report and write it, UTF-8, to `path`; returns the path written."""
    out = Path(path)
    out.write_text(render_html(report, lang), encoding="utf-8")
    return out
