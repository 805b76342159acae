#!/usr/bin/env python3
"""Make a ResNet50 test fixture: the ONNX Model Zoo resnet50-v1-7 topology, random weights.

Same layout as the zoo file (opset 7, IR version 3 with the weights also listed as graph
inputs, input `data`, output `resnetv17_dense0_fwd`, Gluon tensor names, unfolded batch
norm, bottleneck blocks [3,4,6,3] with the stride on the first 1x1 convolution), then run
through expose-outputs.py exactly as scripts/models/download-model.sh does with the real model, so
the feature tensors of models/resnet50.json are outputs and N, H, W are symbolic:
  resnetv17_stage2_activation3 [N,512,H/8,W/8]
  resnetv17_stage3_activation5 [N,1024,H/16,W/16]
  resnetv17_pool1_fwd          [N,2048,1,1]
  resnetv17_dense0_fwd         [N,1000]
Weights are seeded (deterministic for a given numpy version); about 100 MB of float32.
The file is checked with ONNX Runtime at 1x3x224x224 and 1x3x320x480 before it is kept.

usage: make-resnet50-fixture.py [OUT.onnx]   (default .deps/fixtures/resnet50-random.onnx)
"""

import hashlib
import importlib.util
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MANIFEST = os.path.join(ROOT, "models", "resnet50.json")
SEED = 20240607
LAYERS = [3, 4, 6, 3]
WIDTHS = [256, 512, 1024, 2048]


def _expose_module():
    spec = importlib.util.spec_from_file_location(
        "expose_outputs", os.path.join(HERE, "expose-outputs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ZooLikeBuilder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.counters = {}

    def weight(self, name, array):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def next_id(self, prefix, kind):
        key = (prefix, kind)
        n = self.counters.get(key, 0)
        self.counters[key] = n + 1
        return f"{prefix}{kind}{n}"

    def conv(self, prefix, x, cin, cout, k, stride, pad):
        name = self.next_id(prefix, "conv")
        fan_in = cin * k * k
        w = self.rng.standard_normal((cout, cin, k, k), dtype=np.float32) * np.float32(
            np.sqrt(2.0 / fan_in))
        self.weight(name + "_weight", w)
        self.nodes.append(helper.make_node(
            "Conv", [x, name + "_weight"], [name + "_fwd"], name=name + "_fwd",
            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
            dilations=[1, 1], group=1))
        return name + "_fwd"

    def bn(self, prefix, x, c, gain=1.0):
        name = self.next_id(prefix, "batchnorm")
        r = self.rng
        self.weight(name + "_gamma", r.uniform(0.5, 1.0, c) * gain)
        self.weight(name + "_beta", r.normal(0.0, 0.1, c))
        self.weight(name + "_running_mean", r.normal(0.0, 0.1, c))
        self.weight(name + "_running_var", r.uniform(0.5, 1.5, c))
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [x] + [name + s for s in ("_gamma", "_beta", "_running_mean", "_running_var")],
            [name + "_fwd"], name=name + "_fwd", epsilon=1e-5, momentum=0.9, spatial=1))
        return name + "_fwd"

    def relu(self, prefix, x, kind="relu", suffix="_fwd"):
        name = self.next_id(prefix, kind) + suffix
        self.nodes.append(helper.make_node("Relu", [x], [name], name=name))
        return name

    def bottleneck(self, prefix, x, cin, cout, stride, downsample):
        mid = cout // 4
        h = self.relu(prefix, self.bn(prefix, self.conv(prefix, x, cin, mid, 1, stride, 0), mid))
        h = self.relu(prefix, self.bn(prefix, self.conv(prefix, h, mid, mid, 3, 1, 1), mid))
        # a small gain on the last batch norm keeps random activations bounded
        h = self.bn(prefix, self.conv(prefix, h, mid, cout, 1, 1, 0), cout, gain=0.2)
        skip = x
        if downsample:
            skip = self.bn(prefix, self.conv(prefix, x, cin, cout, 1, stride, 0), cout)
        plus = self.next_id(prefix, "_plus")
        self.nodes.append(helper.make_node("Add", [h, skip], [plus], name=plus))
        return self.relu(prefix, plus, "activation", suffix="")


def build_zoo_like(seed=SEED):
    b = ZooLikeBuilder(np.random.default_rng(seed))
    p = "resnetv17_"
    x = b.relu(p, b.bn(p, b.conv(p, "data", 3, 64, 7, 2, 3), 64))
    b.nodes.append(helper.make_node("MaxPool", [x], ["resnetv17_pool0_fwd"],
                                    name="resnetv17_pool0_fwd", kernel_shape=[3, 3],
                                    strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = "resnetv17_pool0_fwd", 64
    for stage, (blocks, width) in enumerate(zip(LAYERS, WIDTHS), start=1):
        prefix = f"{p}stage{stage}_"
        for i in range(blocks):
            stride = 2 if (i == 0 and stage > 1) else 1
            x = b.bottleneck(prefix, x, cin, width, stride, downsample=(i == 0))
            cin = width
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["resnetv17_pool1_fwd"],
                                    name="resnetv17_pool1_fwd"))
    b.nodes.append(helper.make_node("Flatten", ["resnetv17_pool1_fwd"], ["flatten_473"],
                                    name="flatten_473", axis=1))
    b.weight("resnetv17_dense0_weight", b.rng.normal(0.0, 0.01, (1000, 2048)))
    b.weight("resnetv17_dense0_bias", np.zeros(1000))
    b.nodes.append(helper.make_node(
        "Gemm", ["flatten_473", "resnetv17_dense0_weight", "resnetv17_dense0_bias"],
        ["resnetv17_dense0_fwd"], name="resnetv17_dense0_fwd", alpha=1.0, beta=1.0, transA=0,
        transB=1))

    f32 = TensorProto.FLOAT
    # IR version 3, as in the zoo file: every initializer is also a graph input.
    inputs = [helper.make_tensor_value_info("data", f32, ["N", 3, 224, 224])] + [
        helper.make_tensor_value_info(t.name, f32, list(t.dims)) for t in b.inits]
    graph = helper.make_graph(
        b.nodes, "resnetv17", inputs,
        [helper.make_tensor_value_info("resnetv17_dense0_fwd", f32, [1, 1000])],
        initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)],
                              producer_name="spotdiff scripts/models/make-resnet50-fixture.py")
    model.ir_version = 3
    return model


def verify(path, man):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [f["name"] for f in man["features"]] + [man["pooled"], man["logits"]]
    rng = np.random.default_rng(0)
    for h, w in ((224, 224), (320, 480)):
        x = rng.standard_normal((1, 3, h, w), dtype=np.float32)
        outs = dict(zip(names, sess.run(names, {man["input"]: x})))
        want = {f["name"]: (1, f["channels"], h // f["stride"], w // f["stride"])
                for f in man["features"]}
        want[man["pooled"]] = (1, 2048, 1, 1)
        want[man["logits"]] = (1, 1000)
        for name, shape in want.items():
            got = outs[name].shape
            if got != shape or not np.isfinite(outs[name]).all():
                raise ValueError(f"{name} at 1x3x{h}x{w}: shape {got}, expected {shape}")
        print(f"ok 1x3x{h}x{w}: " + "  ".join(f"{n}{list(outs[n].shape)}" for n in names))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, ".deps", "fixtures", "resnet50-random.onnx")
    with open(MANIFEST) as fh:
        man = json.load(fh)
    model = build_zoo_like()
    onnx.checker.check_model(model)
    tensors = [f["name"] for f in man["features"]] + [man["pooled"]]
    model = _expose_module().expose(model, man["input"], tensors)
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    try:
        verify(tmp, man)
    except Exception:
        os.remove(tmp)
        raise
    os.replace(tmp, out)
    print(f"{out} sha256={hashlib.sha256(data).hexdigest()} bytes={len(data)}")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:
        print(f"make-resnet50-fixture: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
