"""`onnx_outputs`: the wire-format edit that exposes intermediate tensors, checked against the
`onnx` package's own reading of the result and against running it."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from photoloupe.detect import encoder
from photoloupe.detect.onnx_outputs import GraphEditError, with_node_outputs


def _small_model() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="first"),
        helper.make_node("Neg", ["a"], ["b"], name="second"),
        helper.make_node("Abs", ["b"], ["y"], name="third"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_named_nodes_become_outputs_and_run() -> None:
    edited, names = with_node_outputs(_small_model(), ["second", "first", "third"])
    assert names == ["b", "a", "y"]
    model = onnx.load_from_string(edited)
    # The existing output is not repeated; the others are appended as float tensors.
    assert [o.name for o in model.graph.output] == ["y", "b", "a"]
    assert model.graph.output[1].type.tensor_type.elem_type == TensorProto.FLOAT
    session = ort.InferenceSession(edited, providers=["CPUExecutionProvider"])
    a, b, y = session.run(["a", "b", "y"], {"x": np.array([-1.0, 2.0], np.float32)})
    np.testing.assert_array_equal(a, [0.0, 2.0])
    np.testing.assert_array_equal(b, [0.0, -2.0])
    np.testing.assert_array_equal(y, [0.0, 2.0])


def test_a_missing_node_or_non_model_is_refused() -> None:
    with pytest.raises(GraphEditError, match="no node named"):
        with_node_outputs(_small_model(), ["nowhere"])
    for junk in (b"", b"\xff\xff\xff", b"\x3a\x7f" + b"x" * 3):
        with pytest.raises(GraphEditError):
            with_node_outputs(junk, ["first"])


def test_the_encoder_edit_agrees_with_onnx() -> None:
    blob = encoder.verified_bytes(encoder.locate(), encoder.CLIP_VIT_B16_INT8.sha256)
    edited, names = encoder._with_block_outputs(blob)
    original = onnx.load_from_string(blob)
    by_node = {n.name: n.output[0] for n in original.graph.node if n.output}
    expected = [by_node[f"/vision_model/encoder/layers.{i}/Add_1"] for i in range(encoder.LAYERS)]
    assert names == expected
    outputs = [o.name for o in onnx.load_from_string(edited).graph.output]
    assert set(expected) <= set(outputs) and len(outputs) == len(set(outputs))
