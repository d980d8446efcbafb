"""The corroboration as one self-contained HTML page, in English or Arabic: the thumbnails
travel inside it as `data:` URIs; no script, no address to fetch."""

from __future__ import annotations

from collections.abc import Callable

from photoloupe.i18n import LANGS
from photoloupe.report.html import environment
from photoloupe.report.html.corroboration import corroboration_view
from photoloupe.schema.corroborate import Corroboration, Match

__all__ = ["render_corroboration_html"]


def render_corroboration_html(
    corr: Corroboration, lang: str = "en", link: Callable[[Match], str | None] | None = None
) -> str:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGS)}")
    template = environment().get_template("corroborate.html.j2")
    return template.render(
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        view=corroboration_view(corr, lang, link),
        query_name=corr.query.path or corr.query.sha256,
        created=corr.created,
        tool=f"{corr.tool.name} {corr.tool.version}",
        schema_id=corr.schema_id,
    )
