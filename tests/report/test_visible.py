"""File names with direction overrides or controls are shown, not obeyed (issue 15)."""

from __future__ import annotations

from photoloupe import check
from photoloupe.report.html import render_html
from photoloupe.report.visible import visible_name
from tests.conftest import ROOT

SPOOF = "photo\u202egpj.exe"


def test_overrides_isolates_and_controls_are_made_visible() -> None:
    assert visible_name(SPOOF) == "photo⟨U+202E⟩gpj.exe"
    assert visible_name("a\u2066b\u2069c\x07d\u200fe") == "a⟨U+2066⟩b⟨U+2069⟩c⟨U+0007⟩d⟨U+200F⟩e"
    assert visible_name("صورة-المرفأ.jpg") == "صورة-المرفأ.jpg"  # Arabic letters stay as they are


def test_the_report_page_shows_the_override_instead_of_obeying_it() -> None:
    report = check(ROOT / "examples" / "harbour.jpg")
    report.file.name = SPOOF
    html = render_html(report)
    assert "\u202e" not in html and "photo⟨U+202E⟩gpj.exe" in html
