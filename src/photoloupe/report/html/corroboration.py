"""The corroboration's view: each archived match with its thumbnail, relation, capture time,
camera and position, and the plain-words note, in the page's language. Shared by the check
report's section and the `corroborate --html` page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from photoloupe.i18n import t
from photoloupe.report.html.base import data_uri
from photoloupe.schema.corroborate import Corroboration, Match


@dataclass(frozen=True)
class MatchView:
    relation: str
    relation_class: str
    score: str
    path: str
    thumbnail: str | None
    captured: str | None
    camera: str | None
    gps: str | None
    note: str
    link: str | None


@dataclass(frozen=True)
class CorroborationView:
    title: str
    summary: str
    searched: int
    matches: tuple[MatchView, ...]
    labels: dict[str, str]


def corroboration_view(
    corr: Corroboration, lang: str, link: Callable[[Match], str | None] | None = None
) -> CorroborationView:
    """The view of `corr` in `lang`; `link(match)` gives the address of a side-by-side compare
    view (the desk), or None."""
    thumbs = corr.thumbnails
    matches = tuple(
        MatchView(
            relation=t(f"corroborate.relation.{m.relation}", lang),
            relation_class=m.relation,
            score=f"{m.score:.2f}",
            path=m.path,
            thumbnail=data_uri("image/jpeg", thumbs[m.sha256]) if m.sha256 in thumbs else None,
            captured=m.captured,
            camera=m.camera,
            gps=f"{m.gps.latitude:.5f}, {m.gps.longitude:.5f}" if m.gps else None,
            note=m.note_ar if lang == "ar" else m.note,
            link=link(m) if link is not None else None,
        )
        for m in corr.matches
    )
    labels = {
        key: t(f"corroborate.{key}", lang)
        for key in ("captured", "camera", "gps", "score", "compare_link", "searched")
    }
    return CorroborationView(
        title=t("corroborate.title", lang),
        summary=corr.summary_ar if lang == "ar" else corr.summary,
        searched=corr.searched,
        matches=matches,
        labels=labels,
    )
