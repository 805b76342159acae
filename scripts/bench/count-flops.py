#!/usr/bin/env python3
"""Count the floating-point operations of one backbone run.

Convolutions and matrix products only (2 per multiply-add); element-wise operations,
pooling and activations add a few percent and are left out, so achieved GFLOP/s
figures based on this count are slightly conservative.
usage: count-flops.py MODEL.onnx INPUT_NAME N H W   -> prints the GFLOP count
"""
import sys

import onnx
from onnx import shape_inference


def main():
    path, name, n, h, w = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    model = onnx.load(path)
    for inp in model.graph.input:
        if inp.name == name:
            dims = inp.type.tensor_type.shape.dim
            for d, v in zip(dims, (n, 3, h, w)):
                d.ClearField("dim_param")
                d.dim_value = v
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    flops = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out = shapes.get(node.output[0])
            wshape = inits.get(node.input[1])
            if not out or not wshape or 0 in out:
                sys.exit(f"no shape for {node.output[0]}")
            macs = out[0] * out[1] * out[2] * out[3] * wshape[1] * wshape[2] * wshape[3]
            flops += 2 * macs
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0]) or inits.get(node.input[0])
            out = shapes.get(node.output[0])
            if a and out:
                k = a[-1]
                m = 1
                for d in out:
                    m *= d
                flops += 2 * m * k
    print(f"{flops / 1e9:.3f}")


main()
