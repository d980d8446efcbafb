"""The page's view model: what the template shows, already in the page's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    corroboration: Any = None  # a report.html.corroboration.CorroborationView, when searched
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
