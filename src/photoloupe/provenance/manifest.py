"""The content of a C2PA manifest store, as c2pa-python gives it (nested dicts): its actions,
agents, ingredients, digital source types, and whether it claims AI generation. Pure
functions over untrusted data: every value is checked for its type, depth is bounded."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, cast

DIGITAL_SOURCE_AI: Final = frozenset(
    {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia"}
)

# Wording that states AI generation outright, as Bing Image Creator writes "AI Generated Image".
# A bare "AI" is not enough: "Adobe Firefly AI" or "AI denoise" describe tools, not origin.
AI_PHRASE: Final = re.compile(
    r"\bAI[\s_-]?generated\b|\bgenerated\s+(?:by|with|using)\s+(?:an?\s+)?AI\b", re.IGNORECASE
)

# Producers whose manifests only ever describe AI-generated images, for manifests written before
# IPTC digital source types were common. Microsoft's image provenance service signs Bing Image
# Creator, Designer and Azure OpenAI output under this claim generator.
AI_GENERATORS: Final = re.compile(r"^\s*Microsoft[\s_]Responsible[\s_]AI\b", re.IGNORECASE)
MAX_DEPTH: Final = 24


def assertions_of(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in list_of(manifest.get("assertions")) if isinstance(a, Mapping)]


def base_label(label: object) -> str:
    # Repeated assertions get an instance suffix ("c2pa.actions__1"); versions stay ("…v2").
    return label.split("__", 1)[0] if isinstance(label, str) else ""


def is_actions(label: str) -> bool:
    return label == "c2pa.actions" or label.startswith("c2pa.actions.v")


def actions_of(assertions: list[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each recorded editing step, reduced to what a reader of the report needs."""
    for assertion in assertions:
        if not is_actions(base_label(assertion.get("label"))):
            continue
        data = mapping_of(assertion.get("data"))
        agents = list_of(data.get("softwareAgents"))
        for raw in list_of(data.get("actions")):
            if not isinstance(raw, Mapping):
                continue
            agent = raw.get("softwareAgent")
            index = raw.get("softwareAgentIndex")
            if agent is None and isinstance(index, int) and 0 <= index < len(agents):
                agent = agents[index]
            parameters = mapping_of(raw.get("parameters"))
            source_type = text_of(raw.get("digitalSourceType"))
            action = {
                "action": text_of(raw.get("action")),
                "softwareAgent": agent_name(agent),
                "digitalSourceType": source_type.strip() if source_type else None,
                "when": text_of(raw.get("when")),
                "description": text_of(raw.get("description"))
                or text_of(parameters.get("description")),
            }
            yield {key: value for key, value in action.items() if value}


def agent_name(agent: object) -> str | None:
    """A software agent as text: a plain string, or "name/version" from a generator-info map."""
    if isinstance(agent, str):
        return agent.strip() or None
    if isinstance(agent, Mapping):
        name = text_of(agent.get("name"))
        version = text_of(agent.get("version"))
        if name:
            return f"{name}/{version}" if version else name
    return None


def claim_generator(manifest: Mapping[str, Any]) -> str | None:
    # claim_generator_info is the current form and names each component; the plain string is
    # the C2PA 1.x form, kept by older manifests (and alongside the list by some signers).
    parts = [agent_name(info) for info in list_of(manifest.get("claim_generator_info"))]
    joined = " ".join(part for part in parts if part)
    return joined or text_of(manifest.get("claim_generator"))


def ingredient_of(ingredient: Mapping[str, Any], manifests: Mapping[str, Any]) -> dict[str, Any]:
    """A source file of the picture: what it is and whether its own credentials checked out."""
    label = ingredient.get("active_manifest")
    own = mapping_of(manifests.get(label)) if isinstance(label, str) else {}
    results = mapping_of(ingredient.get("validation_results"))
    active_results = results.get("activeManifest")
    if isinstance(active_results, Mapping):
        entries = list_of(active_results.get("failure"))
    else:
        entries = list_of(ingredient.get("validation_status"))
    failures = unique(
        code
        for entry in entries
        if isinstance(entry, Mapping) and (code := text_of(entry.get("code"))) is not None
    )
    summary: dict[str, Any] = {
        "title": text_of(ingredient.get("title")),
        "format": text_of(ingredient.get("format")),
        "relationship": text_of(ingredient.get("relationship")),
        "has_credentials": bool(own) or isinstance(label, str),
        "validation_failures": failures,
    }
    if own and ai_claim(own, manifests, {label} if isinstance(label, str) else set()):
        summary["ai_generated_claim"] = True
    return {key: value for key, value in summary.items() if value is not None}


def digital_source_types(assertions: list[Mapping[str, Any]]) -> Iterator[str]:
    """Every digitalSourceType anywhere in the assertions (actions, templates, IPTC metadata)."""
    for assertion in assertions:
        yield from find_source_types(assertion.get("data"), 0)


def find_source_types(value: object, depth: int) -> Iterator[str]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            # Matches "digitalSourceType" and XMP-style "Iptc4xmpExt:DigitalSourceType".
            if isinstance(key, str) and key.lower().endswith("digitalsourcetype"):
                if isinstance(item, str) and item.strip():
                    yield item.strip()
                elif isinstance(item, Mapping) and isinstance(item.get("@id"), str):
                    yield str(item["@id"]).strip()
            else:
                yield from find_source_types(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from find_source_types(item, depth + 1)


def is_ai_source_type(value: str) -> bool:
    """True for the IPTC/C2PA digital source types that declare generative-AI output.

    Only the last segment counts, so any URL prefix (IPTC newscodes, c2pa.org, a bare term)
    and stray whitespace or a trailing slash are accepted.
    """
    term = re.split(r"[/#:]", value.strip().rstrip("/"))[-1]
    return term.lower() in DIGITAL_SOURCE_AI


def ai_claim(manifest: Mapping[str, Any], manifests: Mapping[str, Any], seen: set[str]) -> bool:
    """Whether a manifest, or one of its ingredients' manifests, declares AI generation."""
    assertions = assertions_of(manifest)
    if any(is_ai_source_type(value) for value in digital_source_types(assertions)):
        return True
    for action in actions_of(assertions):
        texts = (action.get("description"), action.get("softwareAgent"))
        if any(isinstance(text, str) and AI_PHRASE.search(text) for text in texts):
            return True
    generators = [text_of(manifest.get("claim_generator"))]
    generators += [agent_name(info) for info in list_of(manifest.get("claim_generator_info"))]
    if any(g and (AI_GENERATORS.search(g) or AI_PHRASE.search(g)) for g in generators):
        return True
    for ingredient in list_of(manifest.get("ingredients")):
        if not isinstance(ingredient, Mapping):
            continue
        label = ingredient.get("active_manifest")
        # The store is a graph written by the file's author: guard against cycles.
        if isinstance(label, str) and label not in seen and label in manifests:
            seen.add(label)
            if ai_claim(mapping_of(manifests[label]), manifests, seen):
                return True
    return False


def mapping_of(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def list_of(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def unique(values: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(values))
