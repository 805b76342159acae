#!/usr/bin/env python3
"""Expose intermediate tensors of an ONNX model as graph outputs, for any input size.

Appends the named tensors to graph.output, makes the input's batch, height and width
symbolic (N, H, W), makes the batch dimension of the existing outputs symbolic and drops
the stale graph.value_info (shapes recorded for the old fixed input size would make ONNX
Runtime reject other sizes).

usage: expose-outputs.py IN.onnx OUT.onnx --manifest models/resnet50.json
       expose-outputs.py IN.onnx OUT.onnx --input data --tensor NAME [--tensor NAME ...]
With --manifest the input name, the feature tensors and the pooled tensor come from it.
"""

import argparse
import json
import os
import sys

import onnx
from onnx import TensorProto, helper


def expose(model, input_name, tensors):
    """Edit `model` in place; return it."""
    graph = model.graph
    produced = {out for node in graph.node for out in node.output}
    missing = [t for t in tensors if t not in produced]
    if missing:
        raise ValueError(f"model has no node producing {', '.join(missing)}")

    initializers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    target = [i for i in inputs if i.name == input_name]
    if not target:
        raise ValueError(f"model has no input {input_name!r} (inputs: {[i.name for i in inputs]})")
    dims = target[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"input {input_name!r} has rank {len(dims)}, expected 4 (NCHW)")
    for dim, param in zip(dims, ("N", None, "H", "W")):
        if param is not None:
            dim.ClearField("dim_value")
            dim.dim_param = param

    for out in graph.output:
        out_dims = out.type.tensor_type.shape.dim
        if out_dims:
            out_dims[0].ClearField("dim_value")
            out_dims[0].dim_param = "N"
    # Shapes of the new outputs from shape inference on the now symbolic input: the
    # channel count stays, the batch is N, spatial sizes are left open.
    del graph.value_info[:]
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in inferred.graph.value_info}
    existing = {o.name for o in graph.output}
    for name in tensors:
        if name in existing:
            continue
        info = known.get(name)
        if info is None or not info.type.tensor_type.HasField("shape"):
            raise ValueError(f"cannot infer the rank of {name}")
        shape = []
        for i, dim in enumerate(info.type.tensor_type.shape.dim):
            if i == 0:
                shape.append("N")
            elif dim.HasField("dim_value") and i == 1:
                shape.append(dim.dim_value)
            else:
                shape.append(None)
        elem = info.type.tensor_type.elem_type or TensorProto.FLOAT
        graph.output.append(helper.make_tensor_value_info(name, elem, shape))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--manifest", help="take the input and tensor names from this manifest")
    ap.add_argument("--input", help="name of the image input")
    ap.add_argument("--tensor", action="append", default=[], help="tensor to expose")
    args = ap.parse_args()

    input_name, tensors = args.input, list(args.tensor)
    if args.manifest:
        with open(args.manifest) as fh:
            man = json.load(fh)
        input_name = input_name or man["input"]
        tensors += [f["name"] for f in man["features"]] + [man["pooled"]]
    if not input_name or not tensors:
        ap.error("give --manifest, or --input and at least one --tensor")

    model = expose(onnx.load(args.src), input_name, tensors)
    onnx.checker.check_model(model)
    tmp = args.dst + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.dst)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        print(f"expose-outputs: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
