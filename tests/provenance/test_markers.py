"""AI-generation traces in metadata: each kind on files made here, and none on real photos."""

from __future__ import annotations

import io
import json

import pyexiv2
import pytest
from PIL import Image, PngImagePlugin

from photoloupe.io import load_picture
from photoloupe.provenance.markers import find_ai_markers, find_ai_mentions
from photoloupe.provenance.metadata import read_metadata
from photoloupe.schema.report import AiMarker
from tests.conftest import needs_shared, shared_files

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111 = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512"
)


def _jpeg(**fields: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 120, 150)).save(buf, "JPEG")
    with pyexiv2.ImageData(buf.getvalue()) as img:
        if fields.get("exif"):
            img.modify_exif(fields["exif"])
        if fields.get("xmp"):
            img.modify_xmp(fields["xmp"])
        if fields.get("iptc"):
            img.modify_iptc(fields["iptc"])
        return bytes(img.get_bytes())


def _png(chunks: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 120, 150)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _markers(data: bytes, name: str) -> list[AiMarker]:
    picture = load_picture(data, name=name)
    return find_ai_markers(read_metadata(picture), picture.text_chunks)


def test_xmp_digital_source_type_declaring_ai_is_a_marker() -> None:
    data = _jpeg(xmp={"Xmp.iptcExt.DigitalSourceType": IPTC + "trainedAlgorithmicMedia"})
    (marker,) = _markers(data, "x.jpg")
    assert marker.kind == "digital_source_type"
    assert marker.where == "XMP iptcExt:DigitalSourceType"
    assert marker.value.endswith("trainedAlgorithmicMedia")


def test_composite_with_ai_is_a_marker() -> None:
    value = IPTC + "compositeWithTrainedAlgorithmicMedia"
    data = _jpeg(xmp={"Xmp.iptcExt.DigitalSourceType": value})
    assert [m.kind for m in _markers(data, "x.jpg")] == ["digital_source_type"]


@pytest.mark.parametrize("source_type", ["digitalCapture", "compositeCapture", "screenCapture"])
def test_camera_source_types_are_not_markers(source_type: str) -> None:
    data = _jpeg(xmp={"Xmp.iptcExt.DigitalSourceType": IPTC + source_type})
    assert _markers(data, "x.jpg") == []


@pytest.mark.parametrize(
    ("field", "value", "generator"),
    [
        ("Exif.Image.Software", "Adobe Firefly", "Adobe Firefly"),
        ("Exif.Image.Software", "Adobe Firefly Image 3", "Adobe Firefly"),
        ("Exif.Image.Software", "DALL·E 3", "DALL-E"),
        ("Exif.Image.ProcessingSoftware", "Midjourney", "Midjourney"),
    ],
)
def test_generator_names_in_software_fields(field: str, value: str, generator: str) -> None:
    markers = _markers(_jpeg(exif={field: value}), "x.jpg")
    assert [m.generator for m in markers] == [generator]
    assert markers[0].kind == "generator_name"
    assert markers[0].where.startswith("EXIF ")


def test_generator_names_in_creator_tool_say_where() -> None:
    data = _jpeg(xmp={"Xmp.xmp.CreatorTool": "Adobe Firefly Image 3"})
    where = {m.where: m.generator for m in _markers(data, "x.jpg")}
    assert where == {"XMP xmp:CreatorTool": "Adobe Firefly"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Iptc.Application2.Caption", "OpenAI chief executive Sam Altman speaks in Paris"),
        ("Iptc.Application2.Caption", "A Midjourney image of the Pope went viral in 2023"),
        ("Iptc.Application2.Credit", "Made with Google AI"),
    ],
)
def test_names_in_captions_and_credits_are_mentions_not_markers(field: str, value: str) -> None:
    metadata = read_metadata(load_picture(_jpeg(iptc={field: value}), name="x.jpg"))
    assert find_ai_markers(metadata) == []
    (mention,) = find_ai_mentions(metadata)
    assert mention.kind == "mention"
    assert mention.where.startswith("IPTC ")


def test_a_news_caption_about_an_ai_company_leaves_the_verdict_alone() -> None:
    import photoloupe

    caption = {"Iptc.Application2.Caption": "OpenAI chief executive Sam Altman speaks"}
    report = photoloupe.check(_jpeg(iptc=caption), name="x.jpg")
    assert report.verdict.label == "inconclusive"
    assert report.provenance.ai_markers == []
    assert [m.generator for m in report.provenance.ai_mentions] == ["OpenAI"]


@pytest.mark.parametrize(
    "software",
    [
        "Adobe Photoshop 25.0 (Windows)",
        "GIMP 2.10.34",
        "HDR+ 1.0.570503588zd",
        "Google",
        "Picasa 3.0",
        "Adobe Photoshop Lightroom Classic 13.0 (Macintosh)",
    ],
)
def test_ordinary_software_is_not_a_marker(software: str) -> None:
    assert _markers(_jpeg(exif={"Exif.Image.Software": software}), "x.jpg") == []


def test_a1111_parameters_in_png() -> None:
    (marker,) = _markers(_png({"parameters": A1111}), "x.png")
    assert marker.kind == "sd_parameters"
    assert marker.where == "PNG text chunk 'parameters'"
    assert "Steps: 20" in marker.value


def test_a1111_parameters_in_exif_user_comment() -> None:
    data = _jpeg(exif={"Exif.Photo.UserComment": A1111})
    (marker,) = _markers(data, "x.jpg")
    assert (marker.kind, marker.where) == ("sd_parameters", "EXIF UserComment")


def test_a_parameters_chunk_without_a1111_layout_is_not_a_marker() -> None:
    assert _markers(_png({"parameters": "exposure=1.0; gamma=2.2"}), "x.png") == []


def test_comfyui_prompt_and_workflow() -> None:
    prompt = {"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}
    workflow = {"nodes": [{"id": 3, "type": "KSampler"}], "links": []}
    markers = _markers(
        _png({"prompt": json.dumps(prompt), "workflow": json.dumps(workflow)}), "x.png"
    )
    assert {(m.kind, m.where) for m in markers} == {
        ("comfyui_graph", "PNG text chunk 'prompt'"),
        ("comfyui_graph", "PNG text chunk 'workflow'"),
    }


def test_a_prompt_chunk_that_is_not_a_graph_is_not_a_marker() -> None:
    assert _markers(_png({"prompt": "say cheese"}), "x.png") == []


def test_novelai_chunks() -> None:
    comment = json.dumps({"steps": 28, "sampler": "k_euler", "scale": 5.0, "seed": 7})
    markers = _markers(
        _png({"Software": "NovelAI", "Comment": comment, "Source": "NovelAI Diffusion V3"}),
        "x.png",
    )
    kinds = {(m.kind, m.where) for m in markers}
    assert ("novelai_comment", "PNG text chunk 'Comment'") in kinds
    assert ("png_text", "PNG text chunk 'Software'") in kinds


def test_a_large_comfyui_graph_is_recognised_even_when_cut() -> None:
    graph = {
        str(n): {"class_type": "CLIPTextEncode", "inputs": {"text": "x" * 200, "clip": [4, 1]}}
        for n in range(400)
    }
    text = json.dumps(graph)
    assert len(text) > 64 * 1024  # longer than io keeps
    (marker,) = _markers(_png({"prompt": text}), "x.png")
    assert marker.kind == "comfyui_graph"


def test_a_long_a1111_prompt_is_recognised() -> None:
    prompt = "a very detailed prompt, " * 200 + "\n" + A1111
    assert len(prompt) > 4000
    (marker,) = _markers(_png({"parameters": prompt}), "x.png")
    assert marker.kind == "sd_parameters"


def test_markers_are_deduplicated() -> None:
    data = _jpeg(exif={"Exif.Image.Software": "Adobe Firefly firefly FIREFLY"})
    assert len(_markers(data, "x.jpg")) == 1


@needs_shared
def test_no_marker_on_any_real_photograph_or_metadata_fixture() -> None:
    checked = 0
    for path in shared_files("real") + shared_files("metadata") + shared_files("edited"):
        try:
            picture = load_picture(path)
        except Exception:  # unreadable fixtures have their own tests
            continue
        checked += 1
        assert find_ai_markers(read_metadata(picture)) == [], path.name
    assert checked > 250


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Exif.Image.ImageDescription", "A firefly at dusk over the meadow"),
        ("Exif.Image.ImageDescription", "Imagen de la playa al atardecer"),
        ("Exif.Image.ImageDescription", "This photo is not AI-generated, says the agency"),
        ("Exif.Image.Artist", "Sora Tanaka"),
        ("Exif.Image.Artist", "Gemini Studio Photography"),
        ("Exif.Image.ImageDescription", "An ideogram carved in stone"),
        ("Exif.Image.Make", "Gemini"),
    ],
)
def test_captions_and_names_that_only_look_like_generators_are_not_markers(
    field: str, value: str
) -> None:
    assert _markers(_jpeg(exif={field: value}), "x.jpg") == []


def test_a_tool_that_declares_ai_generation_in_its_software_field_is_a_marker() -> None:
    markers = _markers(_jpeg(exif={"Exif.Image.Software": "AI Generated Image"}), "x.jpg")
    assert [m.generator for m in markers] == ["generative AI (self-declared)"]
