"""Traces that AI generators leave in metadata, each with where it was found.

A marker is evidence, not a verdict: metadata can be stripped by any re-save and written by
anyone. The patterns are deliberately specific (a generator's own name, a front-end's own
chunk layout) so that ordinary camera and editor metadata never matches; the test suite runs
them over every real photograph in the corpus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from photoloupe.provenance.c2pa import is_ai_source_type
from photoloupe.schema.report import AiMarker

# Product names of generators. Each pattern is specific enough to be safe in free text: a
# caption about "a firefly at dusk" or "imagen de la playa" must not match.
_GENERATORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("Adobe Firefly", r"\badobe firefly\b|\bfirefly (?:image|model|generative)\b"),
        ("DALL-E", r"\bdall[\s\-·.]?e(?:[\s\-]?[23])?\b"),
        ("Midjourney", r"\bmidjourney\b"),
        ("Google AI", r"\b(?:made|edited|created) with google ai\b"),
        ("Google Imagen", r"\bgoogle imagen\b|\bimagen [234]\b"),
        ("Google Gemini", r"\bgoogle gemini\b|\bgemini(?: [\d.]+)?(?: flash)? image\b"),
        ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-?4o\b|\bgpt-image(?:-\d)?\b"),
        (
            "Microsoft Image Creator",
            r"\bbing image creator\b|\bimage creator from (?:microsoft )?designer\b"
            r"|\bmicrosoft designer\b",
        ),
        ("Stable Diffusion", r"\bstable[\s\-_]?diffusion\b|\bsdxl\b"),
        ("NovelAI", r"\bnovelai\b"),
        ("ComfyUI", r"\bcomfyui\b"),
        ("Automatic1111", r"\bautomatic1111\b|\bstable-diffusion-webui\b"),
        ("InvokeAI", r"\binvokeai\b"),
        ("Leonardo.Ai", r"\bleonardo\.ai\b"),
        ("Ideogram", r"\bideogram(?:\.ai| ai)\b"),
        ("Black Forest Labs FLUX", r"\bblack forest labs\b|\bflux\.1\b"),
        ("Seedream", r"\bseedream\b|\bjimeng\b"),
        ("Runway", r"\brunwayml\b|\brunway gen-?\d\b"),
        ("Photoshop Generative Fill", r"\bgenerative (?:fill|expand)\b"),
        ("Craiyon", r"\bcraiyon\b"),
        ("Grok / Aurora", r"\bgrok imagine\b|\bxai aurora\b"),
    )
)
# A tool describing its own output as AI-generated. Only searched in fields a program writes
# about itself: in a caption, "this photo is not AI-generated" must not count.
_SELF_DECLARED = (
    "generative AI (self-declared)",
    re.compile(r"\bai[\s\-]generated\b|\bgenerated (?:by|with) ai\b", re.IGNORECASE),
)

# Fields a program writes about itself.
_TOOL_FIELDS = (
    "Exif.Image.Software",
    "Exif.Image.ProcessingSoftware",
    "Xmp.xmp.CreatorTool",
    "Xmp.tiff.Software",
    "Iptc.Application2.Program",
)
# Fields people write; searched for product names only.
_TEXT_FIELDS = (
    "Exif.Image.Artist",
    "Exif.Image.ImageDescription",
    "Xmp.photoshop.Credit",
    "Xmp.dc.creator",
    "Xmp.dc.description",
    "Xmp.iptc.Credit",
    "Iptc.Application2.Credit",
    "Iptc.Application2.Byline",
    "Iptc.Application2.Caption",
)

# A1111's "parameters" layout: a prompt, then a line of "Steps: n, Sampler: ..., Seed: ...".
_A1111 = re.compile(r"\bSteps:\s*\d+.*\b(?:Sampler|Seed|CFG scale):", re.IGNORECASE | re.DOTALL)


def find_ai_markers(
    metadata: Mapping[str, Any], text_chunks: Mapping[str, str] | None = None
) -> list[AiMarker]:
    """AI-generation declarations in a `read_metadata` result, deduplicated, in a stable order.

    Only what a program writes about its own output counts: digital source types, software
    fields, edit history, and generator front-ends' own PNG chunks. `text_chunks` are the PNG
    text chunks as decoded (uncut); the copy in `metadata` is shortened for display, which can
    cut a ComfyUI graph or an A1111 parameter line in half.
    """
    markers: list[AiMarker] = []
    fields = _fields(metadata)
    for key, value in fields.items():
        if "DigitalSourceType" in key and is_ai_source_type(value):
            markers.append(AiMarker(kind="digital_source_type", value=value, where=_where(key)))
    for key in _TOOL_FIELDS:
        text = fields.get(key)
        if text:
            markers.extend(_name_markers(text, _where(key), kind="generator_name", tool=True))
    for key, value in fields.items():
        if key.startswith("Xmp.xmpMM.History") and key.endswith(("softwareAgent", "parameters")):
            markers.extend(_name_markers(value, _where(key), kind="history", tool=True))

    user_comment = fields.get("Exif.Photo.UserComment", "")
    if _A1111.search(user_comment):
        markers.append(
            AiMarker(
                kind="sd_parameters",
                value=_preview(user_comment),
                where="EXIF UserComment",
                generator="Stable Diffusion (Automatic1111-style parameters)",
            )
        )
    chunks = text_chunks if text_chunks is not None else metadata.get("png_text") or {}
    markers.extend(_png_markers(chunks))
    return _dedupe(markers)


def find_ai_mentions(metadata: Mapping[str, Any]) -> list[AiMarker]:
    """Generator names in fields people write: captions, credits, authors.

    A caption may well be *about* OpenAI or Midjourney ("OpenAI's chief executive speaks..."),
    so a mention is shown to the reader but is never evidence of how the picture was made.
    """
    fields = _fields(metadata)
    mentions: list[AiMarker] = []
    for key in _TEXT_FIELDS:
        text = fields.get(key)
        if text:
            mentions.extend(_name_markers(text, _where(key), kind="mention", tool=False))
    for key, value in (metadata.get("png_text") or {}).items():
        if key.lower() in ("title", "description", "author", "comment"):
            where = f"PNG text chunk '{key}'"
            mentions.extend(_name_markers(value, where, kind="mention", tool=False))
    return _dedupe(mentions)


def _fields(metadata: Mapping[str, Any]) -> dict[str, str]:
    return {
        **(metadata.get("exif") or {}),
        **(metadata.get("xmp") or {}),
        **(metadata.get("iptc") or {}),
    }


def _png_markers(chunks: Mapping[str, str]) -> list[AiMarker]:
    out: list[AiMarker] = []
    for key, value in chunks.items():
        lowered = key.lower()
        where = f"PNG text chunk '{key}'"
        if lowered == "parameters" and _A1111.search(value):
            out.append(
                AiMarker(
                    kind="sd_parameters",
                    value=_preview(value),
                    where=where,
                    generator="Stable Diffusion (Automatic1111-style parameters)",
                )
            )
        elif lowered in ("prompt", "workflow") and _looks_like_comfyui(value):
            out.append(
                AiMarker(
                    kind="comfyui_graph", value=_preview(value), where=where, generator="ComfyUI"
                )
            )
        elif lowered in ("invokeai_metadata", "invokeai_graph", "sd-metadata", "dream"):
            out.append(
                AiMarker(
                    kind="invokeai_metadata",
                    value=_preview(value),
                    where=where,
                    generator="InvokeAI",
                )
            )
        elif lowered == "comment" and _looks_like_novelai_comment(value):
            out.append(
                AiMarker(
                    kind="novelai_comment", value=_preview(value), where=where, generator="NovelAI"
                )
            )
        elif lowered in ("software", "source"):
            out.extend(_name_markers(value, where, kind="png_text", tool=True))
    return out


_COMFY_NODE = re.compile(r'"class_type"\s*:\s*"[A-Za-z]')


def _looks_like_comfyui(text: str) -> bool:
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError):
        # A graph cut short (io keeps 64 K characters of a chunk) is still recognisable.
        return bool(_COMFY_NODE.search(text))
    if isinstance(graph, dict):
        nodes = graph.values() if "nodes" not in graph else graph.get("nodes") or []
        for node in nodes if isinstance(nodes, list) else list(nodes):
            if isinstance(node, dict) and ("class_type" in node or "type" in node):
                return True
    return False


def _looks_like_novelai_comment(text: str) -> bool:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(data, dict)
        and {"steps", "sampler"} <= set(data)
        and ("scale" in data or "seed" in data)
    )


def _name_markers(value: str, where: str, *, kind: str, tool: bool) -> list[AiMarker]:
    patterns = (*_GENERATORS, _SELF_DECLARED) if tool else _GENERATORS
    out = []
    for name, pattern in patterns:
        if pattern.search(value):
            out.append(AiMarker(kind=kind, value=_preview(value), where=where, generator=name))
    return out


def _where(key: str) -> str:
    family, _, rest = key.partition(".")
    group, _, tag = rest.partition(".")
    label = {"Exif": "EXIF", "Xmp": "XMP", "Iptc": "IPTC"}.get(family, family)
    if family == "Xmp":
        return f"{label} {group}:{tag}"
    return f"{label} {tag or group}"


def _preview(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _dedupe(markers: list[AiMarker]) -> list[AiMarker]:
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for marker in markers:
        key = (marker.kind, marker.where, marker.generator)
        if key not in seen:
            seen.add(key)
            out.append(marker)
    return out
