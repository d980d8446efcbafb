"""XMP read as XML, for when exiv2 cannot open a file (a damaged EXIF block makes it give up on
the XMP too) and for the pointer C2PA leaves in it (`dcterms:provenance`).

The packet is found by its `<x:xmpmeta>` element in the first 64 MiB of the file and parsed
with defusedxml: a packet that declares a DTD or an entity is refused (nothing is read from
it), so a hostile file cannot expand entities or reach outside.

>>> packet = find_packet(b'..<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
...     b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
...     b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Tool"/></rdf:RDF>'
...     b'</x:xmpmeta>..')
>>> properties(packet)
[('xmp', 'CreatorTool', 'Tool')]
>>> properties(b'<!DOCTYPE x [<!ENTITY a "b">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
[]
"""

from __future__ import annotations

import io
import re
from typing import Final

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

_PACKET: Final = re.compile(rb"<x:xmpmeta\b.{0,1048576}?</x:xmpmeta>", re.DOTALL)
_SCAN: Final = 64 * 1024 * 1024
_MAX_VALUE: Final = 2000
# Namespaces whose names are the packet's structure, not properties.
_STRUCTURE: Final = frozenset({"adobe:ns:meta/", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"})


def find_packet(data: bytes) -> bytes | None:
    """The first `<x:xmpmeta>` element of the file, or None."""
    match = _PACKET.search(data, 0, _SCAN)
    return match.group(0) if match else None


def properties(packet: bytes) -> list[tuple[str, str, str]]:
    """(prefix, name, value) of the packet's simple properties, in document order: attributes
    of each element, then elements holding only text. Empty when the packet is not well-formed
    XML or declares a DTD or entities."""
    prefixes: dict[str, str] = {}
    found: list[tuple[str, str, str]] = []
    try:
        for event, item in SafeET.iterparse(
            io.BytesIO(packet), events=("start-ns", "start", "end")
        ):
            if event == "start-ns":
                prefix, uri = item
                prefixes.setdefault(uri, prefix)
            elif event == "start":
                for key, value in item.attrib.items():
                    named = _name(key, prefixes)
                    if named is not None and value.strip():
                        found.append((*named, value.strip()[:_MAX_VALUE]))
            elif len(item) == 0 and item.text and item.text.strip():
                named = _name(item.tag, prefixes)
                if named is not None:
                    found.append((*named, item.text.strip()[:_MAX_VALUE]))
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return []
    return found


def _name(tag: str, prefixes: dict[str, str]) -> tuple[str, str] | None:
    if not tag.startswith("{"):
        return None
    uri, _, local = tag[1:].partition("}")
    if uri in _STRUCTURE or uri not in prefixes:
        return None
    return prefixes[uri], local
