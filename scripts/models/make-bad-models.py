#!/usr/bin/env python3
"""Make the tiny malformed backbones the tests feed to spotdiff (a few hundred bytes
each, committed in tests/fixtures/models/):
  gray-input.onnx   input `input` [N, 1, H, W]: one channel where three are needed
  rank3-input.onnx  input `input` [N, H, W]: no channel axis
Both pass their input through to outputs named like efficientnet-lite0's, so only the
input check can reject them.
usage: .deps/venv/bin/python scripts/models/make-bad-models.py
"""

import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tests", "fixtures", "models")


def model(shape, path):
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    names = ["pooled", "stride8", "stride16", "logits"]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in names]
    nodes = [helper.make_node("Identity", ["input"], [n]) for n in names]
    graph = helper.make_graph(nodes, "bad", [inp], outs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(path, os.path.getsize(path), "bytes")


os.makedirs(OUT, exist_ok=True)
model(["N", 1, "H", "W"], os.path.join(OUT, "gray-input.onnx"))
model(["N", "H", "W"], os.path.join(OUT, "rank3-input.onnx"))
