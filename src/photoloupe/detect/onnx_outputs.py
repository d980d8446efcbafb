"""Expose intermediate tensors of a serialised ONNX model as graph outputs.

ONNX Runtime returns only a graph's outputs, and the detector reads every transformer block's
class token. The `onnx` package can add outputs, but importing it costs most of a second
(it loads `ml_dtypes`), more than the rest of a check's start-up. The edit needed is tiny in
protobuf's wire format: find the nodes by name inside `ModelProto.graph` and append one
`ValueInfoProto` per tensor to `GraphProto.output`. This module does exactly that and nothing
more; a test checks its result against `onnx`'s own reading of the edited model.

Field numbers (onnx.proto3): ModelProto.graph = 7; GraphProto.node = 1, GraphProto.output =
12; NodeProto.output = 2, NodeProto.name = 3; ValueInfoProto.name = 1, .type = 2;
TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1 (FLOAT = 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

_LENGTH_DELIMITED = 2
_MODEL_GRAPH = 7
_GRAPH_NODE = 1
_GRAPH_OUTPUT = 12
_NODE_OUTPUT = 2
_NODE_NAME = 3
_VALUE_INFO_NAME = 1
_FLOAT = 1


class GraphEditError(ValueError):
    """The bytes are not a model this edit understands."""


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise GraphEditError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of its tag, start of its value, end of its value) of each
    top-level field of the message in buf[start:end]."""
    pos = start
    while pos < end:
        tag_at = pos
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, after = _varint(buf, pos)
        elif wire == 1:
            after = pos + 8
        elif wire == _LENGTH_DELIMITED:
            length, pos = _varint(buf, pos)
            after = pos + length
        elif wire == 5:
            after = pos + 4
        else:
            raise GraphEditError(f"unsupported wire type {wire}")
        if after > end:
            raise GraphEditError("a field runs past the end of its message")
        yield number, tag_at, pos, after
        pos = after


def _strings(buf: memoryview, start: int, end: int, number: int) -> list[str]:
    return [
        bytes(buf[a:b]).decode("utf-8") for n, _, a, b in _fields(buf, start, end) if n == number
    ]


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LENGTH_DELIMITED) + _encode_varint(len(payload)) + payload


def _float_output(name: str) -> bytes:
    tensor_type = _length_delimited(1, b"\x08" + _encode_varint(_FLOAT))  # Tensor.elem_type
    value_info = _length_delimited(_VALUE_INFO_NAME, name.encode("utf-8"))
    value_info += _length_delimited(2, tensor_type)  # ValueInfoProto.type
    return _length_delimited(_GRAPH_OUTPUT, value_info)


def with_node_outputs(model: bytes, node_names: Sequence[str]) -> tuple[bytes, list[str]]:
    """The model with the first output of each named node among the graph's outputs (as
    float tensors), and those outputs' names in the order of `node_names`.

    Raises `GraphEditError` when the bytes are not a model, or a node is missing.
    """
    buf = memoryview(model)
    graphs = [f for f in _fields(buf, 0, len(buf)) if f[0] == _MODEL_GRAPH]
    if len(graphs) != 1:
        raise GraphEditError(f"expected one graph in the model, found {len(graphs)}")
    _, tag_at, start, end = graphs[0]
    wanted = set(node_names)
    output_of: dict[str, str] = {}
    existing: set[str] = set()
    for number, _, a, b in _fields(buf, start, end):
        if number == _GRAPH_NODE:
            names = _strings(buf, a, b, _NODE_NAME)
            if names and names[0] in wanted:
                outputs = _strings(buf, a, b, _NODE_OUTPUT)
                if outputs:
                    output_of[names[0]] = outputs[0]
        elif number == _GRAPH_OUTPUT:
            existing.update(_strings(buf, a, b, _VALUE_INFO_NAME))
    missing = [n for n in node_names if n not in output_of]
    if missing:
        raise GraphEditError(f"the graph has no node named {missing[0]}")
    tensors = [output_of[n] for n in node_names]
    added = b"".join(_float_output(t) for t in dict.fromkeys(tensors) if t not in existing)
    graph_length = end - start + len(added)
    edited = b"".join(
        (
            buf[:tag_at],
            _encode_varint(_MODEL_GRAPH << 3 | _LENGTH_DELIMITED),
            _encode_varint(graph_length),
            buf[start:end],
            added,
            buf[end:],
        )
    )
    return edited, tensors
