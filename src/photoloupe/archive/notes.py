"""The plain-words sentences of a corroboration, in English and Arabic (from the i18n
catalogues): what each match shows and, for another photo of the scene, how far apart in time
and by which camera it was taken.

>>> minutes_apart("2024:08:07 18:02:10", "2024:08:07 18:05:40")
3.5
>>> minutes_apart("2024:08:07 18:02:10", None) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from photoloupe.archive.entry import CaptureFacts
from photoloupe.i18n import LANGS, t
from photoloupe.schema.compare import Transform
from photoloupe.schema.corroborate import Match

CLOSE_IN_TIME_MINUTES = 60.0
"""Another camera's photo of the scene within this time is called the strongest kind of
corroboration."""


def minutes_apart(a: str | None, b: str | None) -> float | None:
    ta, tb = _parse(a), _parse(b)
    if ta is None or tb is None:
        return None
    return round(abs((ta - tb).total_seconds()) / 60.0, 1)


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip()[:19], fmt)
        except ValueError:
            continue
    return None


def match_note(
    relation: str,
    archived: CaptureFacts,
    query: CaptureFacts,
    transform: Transform | None,
    regions: int,
    *,
    unreadable: bool = False,
    same_file: bool = False,
) -> tuple[str, str]:
    """(English, Arabic) note of one match."""
    if same_file:
        return t("corroborate.note.same_file", "en"), t("corroborate.note.same_file", "ar")
    return tuple(  # type: ignore[return-value]
        _note(lang, relation, archived, query, regions, unreadable) for lang in LANGS
    )


def _note(
    lang: str,
    relation: str,
    archived: CaptureFacts,
    query: CaptureFacts,
    regions: int,
    unreadable: bool,
) -> str:
    parts: list[str] = []
    if relation == "copy":
        parts.append(t("corroborate.note.copy", lang))
    elif relation == "edited-copy":
        parts.append(t("corroborate.note.edited_copy", lang, n=regions))
    else:
        minutes = minutes_apart(archived.captured, query.captured)
        other_camera = _other_camera(archived, query)
        if minutes is not None and is_strong(archived, query):
            parts.append(
                t("corroborate.note.scene_strong", lang, minutes=_num(minutes),
                  camera=archived.camera)
            )  # fmt: skip
        else:
            parts.append(t("corroborate.note.scene", lang))
            if minutes is not None:
                parts.append(_apart(lang, minutes))
            if archived.camera is not None and query.camera is not None:
                key = "other" if other_camera else "same"
                parts.append(t(f"corroborate.note.camera_{key}", lang, camera=archived.camera))
            elif archived.camera is not None:
                parts.append(t("corroborate.note.camera", lang, camera=archived.camera))
    if unreadable:
        parts.append(t("corroborate.note.unreadable", lang))
    return " ".join(parts)


def _other_camera(archived: CaptureFacts, query: CaptureFacts) -> bool:
    return (
        archived.camera is not None
        and query.camera is not None
        and archived.camera.lower() != query.camera.lower()
    )


def is_strong(archived: CaptureFacts, query: CaptureFacts) -> bool:
    """Another camera, close in time: the strongest corroboration a scene match gives."""
    minutes = minutes_apart(archived.captured, query.captured)
    return (
        minutes is not None and minutes <= CLOSE_IN_TIME_MINUTES and _other_camera(archived, query)
    )


def _apart(lang: str, minutes: float) -> str:
    if minutes < 120:
        return t("corroborate.note.apart_minutes", lang, n=_num(minutes))
    if minutes < 48 * 60:
        return t("corroborate.note.apart_hours", lang, n=_num(round(minutes / 60, 1)))
    return t("corroborate.note.apart_days", lang, n=_num(round(minutes / 1440)))


def _num(value: float) -> str:
    return f"{value:g}"


def summary(matches: Sequence[Match], searched: int, strong: int = 0) -> tuple[str, str]:
    """(English, Arabic) one-paragraph summary of a search; `strong`: how many matches are
    another camera's photo of the scene taken close in time."""
    if not matches:
        return (
            t("corroborate.summary.none", "en", searched=searched),
            t("corroborate.summary.none", "ar", searched=searched),
        )
    count = {r: sum(1 for m in matches if m.relation == r) for r in ("copy", "edited-copy")}
    scenes = sum(1 for m in matches if m.relation == "same-scene")
    values = {
        "n": len(matches),
        "searched": searched,
        "copies": count["copy"],
        "edited": count["edited-copy"],
        "scenes": scenes,
    }
    out = []
    for lang in LANGS:
        text = t("corroborate.summary.some", lang, **values)
        if strong:
            text += " " + t("corroborate.summary.strong", lang)
        out.append(text)
    return out[0], out[1]
