"""PNG chunks: setting aside the metadata chunks that stop a PNG's pixels from decoding."""

from __future__ import annotations

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary chunks that the pixels depend on (transparency, animation) are kept.
_PNG_PIXEL_CHUNKS = (b"tRNS", b"acTL", b"fcTL", b"fdAT")


def png_without_ancillary_chunks(data: bytes) -> tuple[bytes, list[str]]:
    """The PNG without the metadata chunks Pillow refuses, and the types removed.

    First only the compressed chunks that inflate past Pillow's limit (or not at all) go; if
    none does, every metadata chunk goes. ([] and the bytes unchanged when there is none.)
    """
    if not data.startswith(_PNG_SIGNATURE):
        return data, []
    for drop in (_refused_chunk, _metadata_chunk):
        out = [_PNG_SIGNATURE]
        dropped: list[str] = []
        pos = len(_PNG_SIGNATURE)
        while pos + 8 <= len(data):
            length = int.from_bytes(data[pos : pos + 4], "big")
            kind = data[pos + 4 : pos + 8]
            end = pos + 12 + length
            if end > len(data):
                out.append(data[pos:])  # let the decoder report the truncation
                break
            if drop(kind, data[pos + 8 : end - 4]):
                name = kind.decode("latin-1")
                if name not in dropped:
                    dropped.append(name)
            else:
                out.append(data[pos:end])
            pos = end
        if dropped:
            return b"".join(out), dropped
    return data, []


def _metadata_chunk(kind: bytes, body: bytes) -> bool:
    return not kind[:1].isupper() and kind not in _PNG_PIXEL_CHUNKS


def _refused_chunk(kind: bytes, body: bytes) -> bool:
    """A zTXt, iTXt or iCCP chunk whose compressed text Pillow would refuse to inflate."""
    import zlib

    from PIL import PngImagePlugin

    if kind in (b"zTXt", b"iCCP"):
        start = body.find(b"\x00") + 2  # keyword, NUL, compression method
    elif kind == b"iTXt":
        start = body.find(b"\x00") + 1
        if start <= 0 or start >= len(body) or body[start] != 1:
            return False  # not compressed
        rest = body.find(b"\x00", start + 2)  # language tag
        rest = body.find(b"\x00", rest + 1) if rest >= 0 else -1  # translated keyword
        start = rest + 1 if rest >= 0 else len(body)
    else:
        return False
    if start < 2:
        return True
    limit = PngImagePlugin.MAX_TEXT_CHUNK
    try:
        inflated = zlib.decompressobj().decompress(body[start:], limit + 1)
    except zlib.error:
        return True
    return len(inflated) > limit
