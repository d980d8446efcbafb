"""The human HTML report: self-contained, escaped, complete in English and Arabic."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from photoloupe.i18n import catalogue
from photoloupe.report import html as html_report
from photoloupe.report.html import (
    encode_png,
    map_to_png,
    render_html,
    render_html_document,
    write_html,
)
from photoloupe.report.html.base import MAX_RAW_ROWS
from photoloupe.report.images import colorize, orient_array, orient_box, oriented_size
from photoloupe.schema.report import (
    SCHEMA_ID,
    AiGenerated,
    AiMarker,
    Analysis,
    C2paInfo,
    C2paStatus,
    Edited,
    Evidence,
    FileInfo,
    JpegInfo,
    ModelInfo,
    Provenance,
    Region,
    Report,
    ToolInfo,
    Verdict,
)

XSS = "<script>alert(1)</script>"


def _catalogue_file(lang: str) -> dict[str, str]:
    text = resources.files("photoloupe.i18n").joinpath(f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def _ui(lang: str) -> dict[str, str]:
    return {k: v for k, v in _catalogue_file(lang).items() if k.startswith("ui.")}


def make_report(
    *,
    preview: bool = True,
    maps: bool = True,
    c2pa: bool = True,
    metadata: dict[str, Any] | None = None,
    orientation: int = 1,
) -> Report:
    """A plausible report: a JPEG with EXIF, broken C2PA, AI markers, a thumbnail mismatch."""
    if metadata is None:
        metadata = {
            "make": "Canon",
            "model": "EOS R6",
            "dates": {
                "captured": "2024:05:01 10:11:12",
                "digitized": "2024:05:01 10:11:12",
                "modified": "2024:06:02 08:00:00",
            },
            "software": ["Adobe Photoshop 25.0", "Stable Diffusion"],
            "gps": {"latitude": 48.8583701, "longitude": 2.2944813, "altitude": 35.0},
            "icc_profile": "sRGB IEC61966-2.1",
            "thumbnail": {
                "present": True,
                "width": 160,
                "height": 120,
                "matches": False,
                "similarity": 0.41,
            },
            "exif": {
                "Exif.Image.Make": "Canon",
                "Exif.Image.Artist": XSS,
                **{f"Exif.Test.Tag{i}": str(i) for i in range(400)},
            },
            "xmp": {"Xmp.xmp.CreatorTool": "Adobe Photoshop 25.0"},
            "iptc": {},
        }
    c2pa_info = (
        C2paInfo(
            present=True,
            valid=False,
            state="invalid",
            signer="Example News Agency",
            issuer="Example CA",
            signed_at="2024-06-02T08:00:00+00:00",
            claim_generator="ExampleEditor/1.2 c2pa-rs/0.30",
            title="harbour.jpg",
            actions=[{"action": "c2pa.created"}, {"action": "c2pa.edited"}],
            ingredients=[{"title": "original.jpg"}],
            digital_source_types=[
                "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
            ],
            ai_generated_claim=True,
            errors=[
                C2paStatus(
                    code="assertion.dataHash.mismatch",
                    explanation="The picture's bytes changed after the credentials were signed.",
                    explanation_ar="تغيّرت بايتات الصورة بعد توقيع بيانات الاعتماد.",
                )
            ],
            remote_manifest_url="https://manifests.example.org/abc.c2pa",
        )
        if c2pa
        else C2paInfo(present=False)
    )
    report = Report(
        tool=ToolInfo(version="0.1.0"),
        path="harbour.jpg",
        created="2024-06-03T09:30:00Z",
        file=FileInfo(
            name="harbour <b>.jpg",
            sha256="ab" * 32,
            bytes=2_451_234,
            format="JPEG",
            mime="image/jpeg",
            width=400,
            height=300,
            frames=1,
            animated=False,
            extension="jpg",
            extension_matches_content=True,
            color_mode="RGB",
            bit_depth=8,
            has_alpha=False,
            orientation=orientation,
            jpeg=JpegInfo(
                quantization_tables={"0": [1] * 64},
                subsampling="4:2:0",
                progressive=False,
                estimated_quality=92,
            ),
            notes=["Only the first frame was analysed."],
        ),
        verdict=Verdict(
            label="ai-generated",
            summary="Evidence of AI generation: the metadata names an AI generator.",
            summary_ar="دلائل على التوليد بالذكاء الاصطناعي: تذكر البيانات الوصفية أداة توليد.",
            reasons=["metadata_ai_marker", "thumbnail_mismatch"],
            checked=["c2pa", "metadata", "ai_markers", "thumbnail"],
            not_checked=["ai_detector", "edit_localizer"],
        ),
        ai_generated=AiGenerated(
            probability=None,
            decision="ai-generated",
            reliability="medium",
            evidence=[
                Evidence(
                    source="metadata",
                    code="metadata_ai_marker",
                    message="The metadata names Stable Diffusion.",
                )
            ],
            model=ModelInfo(name="plx-detector", version="0.3"),
        ),
        edited=Edited(
            probability=0.72,
            regions=[Region(box=(40, 30, 100, 60), score=0.8, methods=["ela"])],
            evidence=[
                Evidence(
                    source="thumbnail",
                    code="thumbnail_mismatch",
                    message="The embedded thumbnail does not match the picture.",
                    message_ar=catalogue("ar")["finding.thumbnail_mismatch"],
                )
            ],
        ),
        provenance=Provenance(
            metadata=metadata,
            c2pa=c2pa_info,
            ai_markers=[
                AiMarker(
                    kind="software",
                    value="Stable Diffusion",
                    where="EXIF Software",
                    generator="Stable Diffusion",
                )
            ],
        ),
        analyses={
            "ela": Analysis(
                score=0.35,
                map="ela.png",
                notes=["Error levels are uneven around the boat."],
                codes=["ela_uneven"],
                evidence_of="editing",
            ),
            "noise": Analysis(score=None, notes=["Too small to judge."]),
        },
        timings_ms={"total": 12.0},
        warnings=["The XMP packet was truncated."],
    )
    if preview:
        rng = np.random.default_rng(0)
        w, h = oriented_size(400, 300, orientation)
        report._preview = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    if maps:
        report._maps["ela"] = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    return report


def _data_images(page: str) -> list[Image.Image]:
    images: list[Image.Image] = []
    for match in re.finditer(
        r'<img[^>]*\ssrc="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"', page
    ):
        img = Image.open(io.BytesIO(base64.b64decode(match.group(2))))
        img.load()
        images.append(img)
    return images


class _Text(HTMLParser):
    """Text nodes and human-facing attributes of a page, outside <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style":
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "title", "aria-label") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def _texts(page: str) -> list[str]:
    parser = _Text()
    parser.feed(page)
    return parser.texts


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    report = make_report()
    return {lang: render_html(report, lang) for lang in ("en", "ar")}


# ------------------------------------------------------------------ languages


def test_ui_keys_match_across_languages() -> None:
    en, ar = _ui("en"), _ui("ar")
    assert en, "no ui.* keys"
    assert set(en) == set(ar)
    for key in en:
        assert en[key].strip(), key
        assert ar[key].strip(), key
        assert re.findall(r"\{\w+\}", en[key]) == re.findall(r"\{\w+\}", ar[key]), key


def test_catalogues_stay_sorted_and_formatted() -> None:
    for lang in ("en", "ar"):
        text = resources.files("photoloupe.i18n").joinpath(f"{lang}.json").read_text("utf-8")
        data = json.loads(text)
        assert text == json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def test_every_ui_key_the_renderer_names_exists() -> None:
    en = _ui("en")
    template = resources.files("photoloupe.report").joinpath("templates", "report.html.j2")
    package = Path(html_report.__file__).parent
    sources = template.read_text("utf-8") + "".join(
        p.read_text("utf-8") for p in sorted(package.glob("*.py"))
    )
    literal = set(re.findall(r"""["'](ui\.[a-z0-9_.\-]+[a-z0-9_\-])["']""", sources))
    assert literal, "no ui keys found in the renderer"
    assert literal - set(en) == set()
    # Keys built from a prefix and a schema value.
    dynamic = [
        *(f"ui.decision.{d}" for d in ("ai-generated", "no-evidence", "inconclusive")),
        *(f"ui.reliability.{r}" for r in ("high", "medium", "low")),
        *(f"ui.c2pa.state.{s}" for s in ("valid", "invalid", "trusted")),
        *(f"ui.evidence_of.{e}" for e in ("editing", "ai-generation", "none")),
        "ui.analysis.thumbnail",
        *(f"ui.meta.{d}" for d in ("captured", "digitized", "modified")),
    ]
    assert [k for k in dynamic if k not in en] == []


def test_no_loaded_words_in_english_ui() -> None:
    for key, text in _catalogue_file("en").items():
        for word in ("fake", "proof", "authentic", "real"):
            assert not re.search(rf"\b{word}\b", text, re.IGNORECASE), (key, word)


def test_english_page(pages: dict[str, str]) -> None:
    page = pages["en"]
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en" dir="ltr">' in page
    assert "Evidence of AI generation" in page  # verdict.label.ai-generated
    assert "the metadata names an AI generator" in page  # verdict.summary
    assert "دلائل" not in page
    assert catalogue("en")["verdict.checked.c2pa"] in page
    assert catalogue("en")["verdict.not_run.ai_detector"] in page
    for word in ("fake", "proof"):
        assert not re.search(word, page, re.IGNORECASE), word
    assert "not measured" in page  # ai_generated.probability is None


def test_arabic_page(pages: dict[str, str]) -> None:
    page = pages["ar"]
    ar = catalogue("ar")
    assert '<html lang="ar" dir="rtl">' in page
    assert ar["verdict.label.ai-generated"] in page
    assert "تذكر البيانات الوصفية أداة توليد" in page  # verdict.summary_ar
    assert "the metadata names an AI generator" not in page  # not the English summary
    assert ar["verdict.checked.c2pa"] in page
    assert ar["verdict.not_run.edit_localizer"] in page
    assert ar["finding.thumbnail_mismatch"] in page  # evidence carries its Arabic text
    # Data keeps its left-to-right order.
    assert '<code dir="ltr">' + "ab" * 32 + "</code>" in page
    assert '<bdi dir="ltr">2,451,234</bdi>' in page


def test_arabic_page_has_no_english_ui_label(pages: dict[str, str]) -> None:
    page = pages["ar"]
    en, ar = _ui("en"), _ui("ar")
    texts = set(_texts(page))
    leaked = []
    for key, text in en.items():
        if text == ar[key]:
            continue
        as_text = text in texts
        in_text = any(t.startswith(text + " ") or t.endswith(" " + text) for t in texts)
        long_substring = len(text) >= 12 and text in page
        if as_text or in_text or long_substring:
            leaked.append(key)
    assert leaked == []
    # and each Arabic label the English page would show is there instead
    assert ar["ui.section.provenance"] in page
    assert ar["ui.howto.absence"] in page


def test_english_page_shows_english_labels(pages: dict[str, str]) -> None:
    page = pages["en"]
    en = _ui("en")
    for key in ("ui.section.provenance", "ui.c2pa.title", "ui.howto.absence", "ui.file.sha256"):
        assert en[key] in page


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        render_html(make_report(), "fr")


# ------------------------------------------------------------------ self-contained


_URL_ATTR = re.compile(
    r"""\b(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?([^"'\s>]*)""", re.I
)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_page_is_self_contained(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    values = _URL_ATTR.findall(page)
    assert values, "expected embedded images"
    for value in values:
        assert value.startswith(("data:image/", "#")), value[:80]
    # CSS may only point at pictures embedded in the page (the overlays' background).
    for target in re.findall(r"url\s*\(\s*(?:['\"]|&quot;)?([^'\")&]*)", page, re.I):
        assert target.startswith("data:image/"), target[:80]
    assert "@import" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "<iframe" not in page.lower()
    for value in values:
        assert not re.match(r"(?:https?:)?//", value)


def test_preview_and_map_are_embedded_at_their_size(pages: dict[str, str]) -> None:
    images = _data_images(pages["en"])
    sizes = sorted(img.size for img in images)
    assert (400, 300) in sizes  # preview
    assert (64, 48) in sizes  # the ela map
    assert (256, 8) in sizes  # the legend
    preview = next(img for img in images if img.size == (400, 300))
    assert preview.format == "JPEG" and preview.mode == "RGB"
    ela = next(img for img in images if img.size == (64, 48))
    assert ela.format == "PNG" and ela.mode == "RGB"
    # Colours match the colour map: the map rises left to right, so does the brightness.
    pixels = np.asarray(ela)
    assert np.array_equal(pixels[0, 0], colorize(0.0))
    assert np.array_equal(pixels[-1, -1], colorize(1.0))


def test_region_box_drawn_over_preview(pages: dict[str, str]) -> None:
    # Region [40, 30, 100, 60] on 400 x 300: 10% / 10% / 25% / 20%.
    assert 'style="left:10.000%;top:10.000%;width:25.000%;height:20.000%"' in pages["en"]


def test_maps_are_overlaid_on_the_picture_with_an_opacity_control(
    pages: dict[str, str],
) -> None:
    page = pages["en"]
    # The preview is embedded once more as the overlays' background, not once per map.
    assert page.count('class="ovbase') >= 1
    assert len(re.findall(r"--base: url\(&quot;data:image/jpeg", page)) == 1
    levels = re.findall(r'<input type="radio" class="op op(\d+)" name="op1"', page)
    assert levels == ["0", "35", "65", "100"]
    assert 'id="op1-65" checked' in page
    assert '<label for="op1-0"' in page and "Map opacity" in page
    assert "شفافية الخريطة" in pages["ar"]


def test_without_a_preview_maps_are_shown_alone() -> None:
    page = render_html(make_report(preview=False))
    assert 'class="ovbase' not in page and "--base" not in page.split("</style>", 1)[1]
    assert 'type="radio"' not in page


def test_large_map_is_shrunk_for_the_page() -> None:
    report = make_report(preview=False)
    report._maps["ela"] = np.zeros((3000, 1500), dtype=np.float32)
    sizes = [img.size for img in _data_images(render_html(report))]
    assert (512, 1024) in sizes


# ------------------------------------------------------------------ escaping, order, gaps


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_metadata_is_escaped(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "harbour &lt;b&gt;.jpg" in page
    assert "<b>" not in page


def test_raw_metadata_is_collapsed_and_capped(pages: dict[str, str]) -> None:
    page = pages["en"]
    details = page[page.index("<details>") : page.index("</details>")]
    assert "Exif.Image.Make" in details
    assert "Exif.Test.Tag0<" in details
    assert "Exif.Test.Tag399" not in details
    assert f"{402 - MAX_RAW_ROWS}</bdi> more entries not shown" in details


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_sections_come_in_reading_order(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    order = [
        'id="verdict"',
        'id="picture"',
        'id="evidence"',
        'id="provenance"',
        'id="maps"',
        'id="file"',
        'class="report-foot"',
        'id="howto"',
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    label = catalogue(lang)["verdict.label.ai-generated"]
    assert page.index(label) < page.index('id="provenance"')


def test_key_facts_are_shown(pages: dict[str, str]) -> None:
    page = pages["en"]
    for fact in (
        "EOS R6",
        "2024:05:01 10:11:12",
        "48.858370, 2.294481",
        "sRGB IEC61966-2.1",
        "does not match the picture",
        "Example News Agency",
        "assertion.dataHash.mismatch",
        "https://manifests.example.org/abc.c2pa",  # as text: never fetched, never a link
        "EXIF Software",
        "4:2:0",
        "0.1.0",
        SCHEMA_ID,
        "2024-06-03T09:30:00Z",
        "The XMP packet was truncated.",
        "Error levels are uneven around the boat.",
    ):
        assert fact in page, fact


def test_missing_optional_parts_still_render() -> None:
    report = make_report(preview=False, maps=False, c2pa=False, metadata={})
    report.edited.regions.clear()
    report.warnings.clear()
    for lang in ("en", "ar"):
        page = render_html(report, lang)
        assert catalogue(lang)["ui.picture.none"] in page
        assert catalogue(lang)["ui.c2pa.absent"] in page
        assert catalogue(lang)["ui.raw.empty"] in page
        assert catalogue(lang)["ui.thumb.absent"] in page
        assert 'id="warnings"' not in page
        assert "<img" not in page


def test_odd_metadata_shapes_do_not_break_rendering() -> None:
    metadata: dict[str, Any] = {
        "make": None,
        "dates": "2024",
        "software": "GIMP 2.10",
        "gps": {"latitude": None},
        "thumbnail": {"present": True, "matches": None},
        "exif": {"Exif.Photo.MakerNote": b"\x00\x01", "Exif.Image.XPComment": ["a", 1]},
        "xmp": None,
    }
    report = make_report(metadata=metadata)
    report.verdict.checked.append("something the catalogue does not know")
    page = render_html(report, "ar")
    assert "GIMP 2.10" in page
    assert "0001" in page
    assert "something the catalogue does not know" in page
    assert catalogue("ar")["ui.thumb.not_compared"] in page


def test_several_reports_in_one_document() -> None:
    first = make_report()
    second = make_report(preview=False, maps=False, c2pa=False, metadata={})
    second.verdict.label = "inconclusive"
    second.file.name = "second.png"
    page = render_html_document([first, second], "ar")
    assert page.count('<html lang="ar" dir="rtl">') == 1
    assert page.count("<style>") == 1
    assert page.count('<article class="report"') == 2
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids must be unique"
    assert {"r1-verdict", "r2-verdict", "r1-report", "r2-report"} <= set(ids)
    links = re.findall(r'href="#([^"]+)"', page)
    assert links == ["r1-report", "r2-report"]
    contents = page[page.index('<nav class="contents">') : page.index("</nav>")]
    assert "second.png" in contents
    assert catalogue("ar")["verdict.label.inconclusive"] in contents
    assert page.index("r1-verdict") < page.index("r2-verdict") < page.index('id="howto"')
    # one report: no contents, plain ids, same page as render_html
    single = render_html_document([first], "en")
    assert "<nav" not in single and 'id="verdict"' in single
    assert single == render_html(first, "en")
    with pytest.raises(ValueError):
        render_html_document([], "en")


def test_write_html(tmp_path: Path) -> None:
    out = write_html(make_report(), tmp_path / "report.html", "ar")
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------ pictures


def test_encode_png_round_trips() -> None:
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    back = np.asarray(Image.open(io.BytesIO(encode_png(rgb))))
    assert np.array_equal(back, rgb)
    grey = Image.open(io.BytesIO(encode_png(np.array([[0.0, 1.0]], dtype=np.float32))))
    assert grey.mode == "L" and list(np.asarray(grey).ravel()) == [0, 255]
    with pytest.raises(ValueError):
        encode_png(np.zeros((2, 2, 2), dtype=np.uint8))


def test_map_to_png_is_a_rising_colour_map() -> None:
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[None, :]
    img = Image.open(io.BytesIO(map_to_png(ramp)))
    assert img.size == (256, 1) and img.mode == "RGB"
    rgb = np.asarray(img).astype(float)[0]
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(lum) >= -0.5)  # brightness never falls
    assert lum[0] < 10 and lum[-1] > 230
    # NaN and out-of-range values do not break it
    odd = np.array([[np.nan, -1.0, 2.0]], dtype=np.float32)
    assert Image.open(io.BytesIO(map_to_png(odd))).size == (3, 1)
    with pytest.raises(ValueError):
        map_to_png(np.zeros((2, 2, 2), dtype=np.float32))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_boxes_follow_the_picture_when_turned(orientation: int) -> None:
    h, w = 30, 40
    box = (5, 3, 10, 7)
    stored = np.zeros((h, w), dtype=np.uint8)
    stored[box[1] : box[1] + box[3], box[0] : box[0] + box[2]] = 1
    shown = orient_array(stored, orientation)
    assert (shown.shape[1], shown.shape[0]) == oriented_size(w, h, orientation)
    ys, xs = np.nonzero(shown)
    expected = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert orient_box(box, w, h, orientation) == expected
    # and PIL agrees on what "displayed" means
    transposes = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }
    img = Image.fromarray(stored * 255)
    if orientation in transposes:
        img = img.transpose(transposes[orientation])
    assert np.array_equal(np.asarray(img) > 0, shown > 0)


def test_rotated_picture_gets_rotated_boxes_and_maps() -> None:
    report = make_report(orientation=6)
    page = render_html(report)
    sizes = [img.size for img in _data_images(page)]
    assert (300, 400) in sizes  # preview, display orientation
    assert (48, 64) in sizes  # the map, turned like the picture
    # [40, 30, 100, 60] on 400 x 300 turned 90° clockwise -> [210, 40, 60, 100] on 300 x 400
    assert 'style="left:70.000%;top:10.000%;width:20.000%;height:25.000%"' in page


def test_big_preview_is_shrunk_and_english_fallback_is_marked() -> None:
    report = make_report(maps=False)
    report._preview = np.zeros((1500, 2000, 3), dtype=np.uint8)
    report.verdict.summary_ar = ""
    page = render_html(report, "ar")
    assert (1024, 768) in [img.size for img in _data_images(page)]
    assert '<span lang="en" dir="ltr">Evidence of AI generation: the metadata' in page


def test_every_registered_analysis_has_a_translated_title() -> None:
    from photoloupe.pipeline import ANALYSES

    for lang in ("en", "ar"):
        for spec in ANALYSES:
            assert f"ui.analysis.{spec.name}" in catalogue(lang), (lang, spec.name)


def test_c2pa_explanations_are_shown_in_the_page_language() -> None:
    report = make_report()
    assert "تغيّرت بايتات الصورة" in render_html(report, "ar")
    english = render_html(report, "en")
    assert "bytes changed after the credentials" in english and "تغيّرت" not in english
    # An older report without the Arabic falls back to the English, marked as such.
    old = report.model_copy(deep=True)
    old.provenance.c2pa.errors[0].explanation_ar = None
    assert "bytes changed after the credentials" in render_html(old, "ar")
