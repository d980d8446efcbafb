"""The desk's pages (upload, report bar, history, compare) and the PDF export, via TestClient."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from photoloupe.i18n import catalogue
from photoloupe.server import ServerConfig, create_app
from photoloupe.server.pages import for_print

ROOT = Path(__file__).resolve().parents[2]
HARBOUR = (ROOT / "examples" / "harbour.jpg").read_bytes()
EDITED = (ROOT / "examples" / "harbour-edited.jpg").read_bytes()
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
ARABIC = re.compile(r"[\u0600-\u06ff]{3,}")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("pages"), pool="thread", rate_burst=1000)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def harbour(desk: TestClient) -> str:
    r = desk.post("/api/v1/check?wait=120", files={"file": ("harbour.jpg", HARBOUR, "image/jpeg")})
    assert r.status_code == 200, r.text
    case_id: str = r.json()["id"]
    return case_id


def _offline(html: str) -> None:
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "@import" not in html and "url(http" not in html


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_upload_page(desk: TestClient, lang: str) -> None:
    r = desk.get(f"/?lang={lang}")
    assert r.status_code == 200
    html = r.text
    direction = "rtl" if lang == "ar" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    for key in ("desk.check.title", "desk.drop", "desk.compare.title", "desk.back_history"):
        assert catalogue(lang)[key] in html, key
    assert '<script src="/static/desk.js"></script>' in html
    assert 'type="file"' in html and 'data-api="/api/v1/check"' in html
    assert "connect-src 'self'" in r.headers["content-security-policy"]
    _offline(html)
    if lang == "ar":
        assert catalogue("en")["desk.check.title"] not in html


def test_static_js(desk: TestClient) -> None:
    r = desk.get("/static/desk.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "XMLHttpRequest" in r.text and "upload.onprogress" in r.text
    assert "opslider" in r.text and "swipeslider" in r.text
    assert "http" not in r.text.replace("HTTP ", "")
    assert desk.get("/static/..%2Fapp.py").status_code == 404
    assert desk.get("/static/other.js").status_code == 404


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_report_page_has_bar(desk: TestClient, harbour: str, lang: str) -> None:
    r = desk.get(f"/reports/{harbour}?lang={lang}")
    assert r.status_code == 200
    html = r.text
    direction = "rtl" if lang == "ar" else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert f'href="/api/v1/reports/{harbour}.pdf?lang={lang}"' in html
    other = "en" if lang == "ar" else "ar"
    assert f'href="/reports/{harbour}?lang={other}"' in html
    assert f'href="/cases?lang={lang}"' in html
    assert catalogue(lang)["desk.download_pdf"] in html
    # On the desk (not in the stored, script-free report) the maps get an opacity slider.
    assert '<script src="/static/desk.js" defer></script>' in html
    assert 'class="ovmap"' in html and 'class="opctl"' in html
    # The verdict comes before the evidence, and the bar before both.
    assert html.index('class="desk-bar"') < html.index(catalogue(lang)["ui.title"], 600)
    _offline(html)


def test_history_page(desk: TestClient, harbour: str) -> None:
    r = desk.post(
        "/api/v1/compare?wait=120",
        files={
            "original": ("harbour.jpg", HARBOUR, "image/jpeg"),
            "suspect": ("harbour-edited.jpg", EDITED, "image/jpeg"),
        },
    )
    assert r.status_code == 200, r.text
    comparison = r.json()["id"]
    report = desk.get(f"/api/v1/reports/{harbour}").json()
    sha = report["file"]["sha256"]

    page = desk.get("/cases").text
    assert f'href="/reports/{harbour}?lang=en"' in page
    assert f'href="/comparisons/{comparison}?lang=en"' in page
    assert "harbour.jpg" in page and "harbour-edited.jpg" in page
    assert catalogue("en")["desk.col.sha256"] in page

    ar = desk.get("/cases?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in ar and catalogue("ar")["desk.history.title"] in ar
    assert catalogue("en")["desk.history.title"] not in ar

    # Search by name, by hash prefix, by date; empty date fields from the form are no bound.
    only = desk.get("/cases", params={"q": "edited", "from": "", "to": ""}).text
    assert f"/comparisons/{comparison}" in only and f"/reports/{harbour}" not in only
    by_hash = desk.get("/cases", params={"q": sha[:10]}).text
    assert f"/reports/{harbour}" in by_hash and sha[:12] in by_hash
    none = desk.get("/cases", params={"from": "2000-01-01", "to": "2000-01-02"}).text
    assert catalogue("en")["desk.empty"] in none
    assert desk.get("/cases", params={"from": "yesterday"}).status_code == 422

    cmp_page = desk.get(f"/comparisons/{comparison}?lang=ar")
    assert cmp_page.status_code == 200 and 'class="desk-bar"' in cmp_page.text
    assert '<html lang="ar" dir="rtl">' in cmp_page.text
    # desk.js turns the stored view's divider into a swipe slider on the desk.
    assert '<script src="/static/desk.js" defer></script>' in cmp_page.text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _pdf_fonts(data: bytes) -> set[str]:
    from pypdf import PdfReader

    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page.get("/Resources")
        if resources is None:
            continue
        for font in resources.get_object().get("/Font", {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    return fonts


def test_pdf_english(desk: TestClient, harbour: str) -> None:
    r = desk.get(f"/api/v1/reports/{harbour}.pdf?lang=en")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    assert catalogue("en")["ui.title"] in text
    assert catalogue("en")["desk.download_pdf"] not in text  # the bar is not printed


def test_pdf_arabic_is_shaped_text(desk: TestClient, harbour: str) -> None:
    r = desk.get(f"/api/v1/reports/{harbour}.pdf?lang=ar")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    text = _pdf_text(r.content)
    # Real text in the PDF, not boxes: the Arabic title's words come back out.
    words = ARABIC.findall(catalogue("ar")["ui.title"])
    assert words and all(w in text for w in words), (words, text[:400])
    assert any(f.endswith("+DejaVu-Sans") for f in _pdf_fonts(r.content)), _pdf_fonts(r.content)
    # Cached: the second answer is the same document.
    again = desk.get(f"/api/v1/reports/{harbour}.pdf?lang=ar")
    assert again.content == r.content


def test_pdf_errors(desk: TestClient, harbour: str) -> None:
    assert desk.get(f"/api/v1/reports/{'0' * 32}.pdf").status_code == 404
    assert desk.get("/api/v1/reports/xyz.pdf").status_code == 422
    assert desk.get(f"/api/v1/reports/{harbour}.pdf?lang=fr").status_code == 422
    # The JSON route still answers beside the PDF one.
    assert desk.get(f"/api/v1/reports/{harbour}").status_code == 200


def test_print_css_names_dejavu() -> None:
    html: Any = for_print("<html><head></head><body>x</body></html>")
    assert "DejaVu Sans" in html and "</style></head>" in html


def test_the_desk_bar_is_escaped_once() -> None:
    from photoloupe.server.pages import desk_bar

    bar = str(desk_bar("en", '/cases?q="x"<'))
    # The language switch keeps the query (it was escaped twice before: "&amp;amp;lang=").
    assert 'href="/cases?q=&#34;x&#34;&lt;&amp;lang=ar"' in bar
    assert "&amp;amp;" not in bar and "<" not in bar.split('id="desk-lang"')[0][-40:]
