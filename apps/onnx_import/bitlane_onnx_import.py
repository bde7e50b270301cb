#!/usr/bin/python3
"""Converts an ONNX model into bitlane's JSON graph + .safetensors weights.

  bitlane_onnx_import.py MODEL.onnx -o OUT.json [--meta META.json] [--name NAME]
                        [--image HxW] [--color gray|rgb|bgr] [--scale S] [--mean M] [--std S]
                        [--labels FILE]

`bitlane import` runs this script. It needs Debian's python3-onnx and
python3-numpy. Supported: Gemm, MatMul (+Add), Conv, MaxPool, AveragePool,
GlobalAveragePool, Relu, Clip, Sigmoid, Tanh, BatchNormalization, Add, Concat,
Flatten, Reshape, Squeeze, Unsqueeze, Softmax, LogSoftmax, Gather (embedding),
LSTM, Dropout, Identity; constant subgraphs are folded. Networks trained at
low precision keep their trained quantizers: ONNX QuantizeLinear /
DequantizeLinear pairs and QONNX Quant / IntQuant / BipolarQuant nodes become
the model's plan (per-layer weight and activation grids, models/FORMAT.md).
Anything else is reported with the node's name and the exact operator or
attribute.

--meta supplies what ONNX cannot say: input preprocessing, labels, vocabulary,
description (see models/FORMAT.md); for a plain image classifier the options
--image/--color/--scale/--mean/--std/--labels say it without a file. Every
user mistake ends in one line naming the file and the problem, exit 1.
The output JSON is format_version 1.
"""
import argparse
import json
import os
import struct
import sys
import warnings

import numpy as np

try:
    import onnx
    from onnx import numpy_helper
except ImportError:  # pragma: no cover
    sys.exit("bitlane import: python3-onnx is not installed (apt-get install python3-onnx)")

FORMAT_VERSION = 1


class ImportError_(Exception):
    pass


def fail(node, message):
    where = f"node '{node.name or node.op_type}' ({node.op_type})" if node is not None else "graph"
    raise ImportError_(f"{where}: {message}")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def check_attrs(node, allowed):
    for name, value in attrs(node).items():
        if name not in allowed:
            fail(node, f"unsupported attribute '{name}' = {value!r}")
        check = allowed[name]
        if check is not None and not check(value):
            fail(node, f"unsupported value of attribute '{name}': {value!r}")


def ints(v):
    return [int(x) for x in v]


QUANT_OPS = ("Quant", "IntQuant", "BipolarQuant")


def grid_of(node, scale, zp, bits, a):
    """A QONNX Quant node's grid: x = scale * (clip(round(x / scale + zp)) - zp)."""
    b = float(np.asarray(bits).reshape(-1)[0])
    if b != int(b) or not 1 <= b <= 16:
        fail(node, f"bit width {b} is not an integer in 1..16")
    mode = a.get("rounding_mode", b"ROUND")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode.upper() != "ROUND":
        fail(node, f"rounding_mode {mode} is not supported (ROUND: half to even)")
    zp = np.asarray(zp, np.float64)
    if np.any(zp != np.round(zp)):
        fail(node, "non-integer zero points are not supported")
    signed = bool(a.get("signed", 1))
    if int(b) == 1 and signed:
        fail(node, "a signed 1-bit Quant has no levels besides 0 and -1; use BipolarQuant for binary")
    return {"scale": np.asarray(scale, np.float64), "zero_point": zp, "bits": int(b), "signed": signed,
            "narrow": bool(a.get("narrow", 0)), "binary": False}


def grid_levels(g):
    if g["signed"]:
        lo, hi = -(1 << (g["bits"] - 1)), (1 << (g["bits"] - 1)) - 1
        lo += 1 if g["narrow"] else 0
    else:
        lo, hi = 0, (1 << g["bits"]) - 1
        hi -= 1 if g["narrow"] else 0
    return lo, hi


def fake_quant(node, v):
    """Folds a quantizer on a constant: its dequantized values and grid."""
    a = attrs(node)
    if node.op_type == "BipolarQuant":
        scale = np.asarray(v[1], np.float64)
        out = np.where(v[0] >= 0, 1.0, -1.0) * scale
        return out.astype(np.float32), {"scale": scale, "zero_point": np.zeros(1), "bits": 1,
                                        "signed": False, "narrow": False, "binary": True}
    g = grid_of(node, v[1], v[2], v[3], a)
    lo, hi = grid_levels(g)
    q = np.clip(np.round(v[0] / g["scale"] + g["zero_point"]), lo, hi)
    return ((q - g["zero_point"]) * g["scale"]).astype(np.float32), g


def quantize_linear_grid(node, v):
    scale = np.asarray(v[0], np.float64)
    zp = v[1] if len(v) > 1 else np.zeros((), np.uint8)
    if zp.dtype not in (np.uint8, np.int8):
        fail(node, f"zero point type {zp.dtype} is not supported (uint8 or int8)")
    return {"scale": scale, "zero_point": zp.astype(np.float64), "bits": 8, "signed": zp.dtype == np.int8,
            "narrow": False, "binary": False, "axis": int(attrs(node).get("axis", 1))}


def quantize_linear(node, v):
    g = quantize_linear_grid(node, v[1:])
    lo, hi = grid_levels(g)
    scale, zp = _per_axis(g, v[0].ndim)
    q = np.clip(np.round(v[0] / scale + zp), lo, hi)
    return q, g


def _per_axis(g, ndim):
    """Scale and zero point shaped to broadcast against an ndim tensor."""
    scale, zp = g["scale"], g["zero_point"]
    if scale.ndim == 1 and scale.size > 1 and "axis" in g:
        shape = [1] * ndim
        shape[g["axis"] % ndim] = scale.size
        scale = scale.reshape(shape)
        zp = zp.reshape(shape) if zp.size > 1 else zp
    return scale, zp


def weight_rows(node, g, w, op):
    """Per output channel scale and zero point of a weight grid, as bitlane
    stores the weights ([out, in] for dense, [out, ...] for conv)."""
    scale, zp = np.asarray(g["scale"], np.float64), np.asarray(g["zero_point"], np.float64)
    if scale.size == 1 and zp.size <= 1:
        return scale.reshape(1), zp.reshape(-1)[:1]
    onnx_shape = g["weight_shape"]
    if "axis" in g:
        scale, zp = _per_axis(g, len(onnx_shape))
    scale = np.broadcast_to(scale, onnx_shape)
    zp = np.broadcast_to(zp, onnx_shape)
    if op == "dense" and g["transposed"]:
        scale, zp = scale.T, zp.T
    rows_s = scale.reshape(w.shape[0], -1)
    rows_z = zp.reshape(w.shape[0], -1)
    if np.any(rows_s != rows_s[:, :1]) or np.any(rows_z != rows_z[:, :1]):
        fail(node, "weight quantization must be per tensor or per output channel")
    return rows_s[:, 0], rows_z[:, 0]


def grid_json(node, g, per_row=None):
    scale, zp = per_row if per_row is not None else (np.asarray(g["scale"]).reshape(-1),
                                                      np.asarray(g["zero_point"]).reshape(-1))
    j = {"scale": [float(x) for x in scale] if len(scale) > 1 else float(scale[0]),
         "signed": bool(g["signed"])}
    if np.any(zp != 0):
        j["zero_point"] = [int(x) for x in zp] if len(zp) > 1 else int(zp[0])
    if g["narrow"]:
        j["narrow"] = True
    if g["binary"]:
        j["binary"] = True
    return j


class Importer:
    def __init__(self, model, meta):
        self.model = model
        self.meta = meta
        g = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        self.weights = {}          # name -> array written to safetensors
        self.nodes = []            # bitlane nodes (dicts)
        self.alias = {}            # ONNX tensor -> bitlane tensor (identity ops)
        self.producer = {}         # bitlane tensor -> node dict
        self.consumers = {}        # ONNX tensor -> count
        self.sequence_major = False
        self.state_outputs = set()  # LSTM Y_h / Y_c: the session keeps them
        self.graph_inputs = [i for i in g.input if i.name not in self.consts]
        self.dropped_inputs = set()
        # Trained quantizers (QDQ / QONNX): grids of folded weight constants
        # (by ONNX tensor name) and of activation tensors (by bitlane name),
        # and the per-layer plans they become.
        self.weight_grid = {}
        self.act_grid = {}
        self.layer_plans = {}
        self.qlinear = {}  # QuantizeLinear outputs -> their grid, for the DequantizeLinear after
        for n in g.node:
            for i in n.input:
                self.consumers[i] = self.consumers.get(i, 0) + 1
        for o in g.output:
            self.consumers[o.name] = self.consumers.get(o.name, 0) + 1

    # -- helpers -----------------------------------------------------------
    def name(self, t):
        while t in self.alias:
            t = self.alias[t]
        return t

    def is_const(self, t):
        return t in self.consts

    def const(self, node, t, what):
        if t not in self.consts:
            fail(node, f"{what} ('{t}') must be a constant (initializer), not a computed tensor")
        return self.consts[t]

    def add_weight(self, base, array):
        name, k = base, 1
        while name in self.weights:
            k += 1
            name = f"{base}_{k}"
        self.weights[name] = np.ascontiguousarray(array)
        return name

    def emit(self, node, op, inputs, outputs, attributes=None):
        d = {"op": op, "name": node.name or f"{op}_{len(self.nodes)}",
             "inputs": [self.name(i) for i in inputs], "outputs": list(outputs)}
        if attributes:
            d["attributes"] = attributes
        self.nodes.append(d)
        for o in outputs:
            self.producer[o] = d
        # Values on a grid stay on it through these (max of grid points,
        # moved or reshaped; relu when 0 is a grid point).
        if op in ("flatten", "reshape", "max_pool2d", "relu") and d["inputs"][0] in self.act_grid:
            for o in outputs:
                self.act_grid[o] = self.act_grid[d["inputs"][0]]
        if op in ("dense", "conv2d"):
            self.trained_plan(node, d)
        return d

    # -- constant folding ------------------------------------------------------
    def fold(self, node):
        """Evaluates nodes whose inputs are all constants; True if folded."""
        ins = [i for i in node.input if i]
        if not ins and node.op_type != "Constant":
            return False
        if node.op_type != "Constant" and not all(self.is_const(i) for i in ins):
            return False
        a = attrs(node)
        v = [self.consts[i] for i in ins]
        op = node.op_type
        if op == "Constant":
            if "value" not in a:
                fail(node, "only Constant with a 'value' tensor is supported")
            out = numpy_helper.to_array(a["value"])
        elif op == "Shape":
            out = np.array(v[0].shape, dtype=np.int64)
        elif op == "Gather":
            out = np.take(v[0], v[1], axis=a.get("axis", 0))
        elif op == "Unsqueeze":
            axes = ints(v[1]) if len(v) > 1 else ints(a["axes"])
            out = v[0]
            for ax in sorted(axes):
                out = np.expand_dims(out, ax)
        elif op == "Squeeze":
            axes = ints(v[1]) if len(v) > 1 else ints(a.get("axes", []))
            out = np.squeeze(v[0], axis=tuple(axes) if axes else None)
        elif op == "Concat":
            out = np.concatenate(v, axis=a["axis"])
        elif op == "Reshape":
            out = v[0].reshape(ints(v[1]))
        elif op == "Transpose":
            out = np.transpose(v[0], a.get("perm"))
        elif op == "Cast":
            out = v[0].astype(onnx.helper.tensor_dtype_to_np_dtype(a["to"]))
        elif op in ("Add", "Sub", "Mul", "Div"):
            out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                   "Div": np.divide}[op](v[0], v[1])
        elif op == "Identity":
            out = v[0]
        elif op in QUANT_OPS:
            out, grid = fake_quant(node, v)
            if grid is not None:
                self.weight_grid[node.output[0]] = grid
        elif op == "QuantizeLinear":
            out, grid = quantize_linear(node, v)
            self.qlinear[node.output[0]] = grid
        elif op == "DequantizeLinear":
            grid = self.qlinear.get(ins[0]) or quantize_linear_grid(node, v[1:])
            scale, zp = _per_axis(grid, v[0].ndim)
            out = ((v[0].astype(np.float64) - zp) * scale).astype(np.float32)
            self.weight_grid[node.output[0]] = grid
        else:
            return False
        self.consts[node.output[0]] = np.asarray(out)
        return True

    # -- operators ---------------------------------------------------------
    def convert(self):
        for node in self.model.graph.node:
            if self.fold(node):
                continue
            handler = getattr(self, "op_" + node.op_type, None)
            if handler is None:
                fail(node, f"unsupported operator {node.op_type}")
            handler(node)

    # -- trained quantizers on activations -----------------------------------
    def _act_quant(self, node, grid):
        self.alias[node.output[0]] = node.input[0]
        self.act_grid[self.name(node.input[0])] = grid

    def op_Quant(self, node):
        scale, zp, bits = (self.const(node, t, w) for t, w in zip(
            node.input[1:4], ("Quant's scale", "Quant's zero point", "Quant's bit width")))
        self._act_quant(node, grid_of(node, scale, zp, bits, attrs(node)))

    op_IntQuant = op_Quant

    def op_BipolarQuant(self, node):
        scale = self.const(node, node.input[1], "BipolarQuant's scale")
        self._act_quant(node, {"scale": np.asarray(scale, np.float64), "zero_point": np.zeros(1), "bits": 1,
                               "signed": False, "narrow": False, "binary": True})

    def op_QuantizeLinear(self, node):
        grid = quantize_linear_grid(node, [self.const(node, t, "QuantizeLinear's scale and zero point")
                                           for t in node.input[1:] if t])
        self.qlinear[node.output[0]] = grid
        self._act_quant(node, grid)

    def op_DequantizeLinear(self, node):
        if node.input[0] not in self.qlinear:
            fail(node, "DequantizeLinear of a computed tensor must follow a QuantizeLinear")
        self.alias[node.output[0]] = node.input[0]

    def _weight_orientation(self, name, shape, transposed):
        if name in self.weight_grid:
            self.weight_grid[name] = dict(self.weight_grid[name], weight_shape=tuple(shape), transposed=transposed)

    def trained_plan(self, node, d):
        """The layer's plan from the grids training fixed: its weights' and
        its input's; a side without one is quantized after training at 8 bits."""
        wg = self.weight_grid.get(node.input[1]) if len(node.input) > 1 else None
        ag = self.act_grid.get(d["inputs"][0])
        if wg is None and ag is None:
            return
        w = self.weights[d["attributes"]["weight"]]
        plan = {"scheme": "uniform", "weight_bits": 8, "activation_bits": 8}
        if wg is not None:
            plan["weight_bits"] = wg["bits"]
            plan["weight_grid"] = grid_json(node, wg, per_row=weight_rows(node, wg, w, d["op"]))
        if ag is not None:
            if np.asarray(ag["scale"]).size != 1:
                fail(node, "per-channel activation quantization is not supported (one scale per tensor)")
            plan["activation_bits"] = ag["bits"]
            plan["activation_grid"] = grid_json(node, ag)
        self.layer_plans[d["name"]] = plan

    def op_Identity(self, node):
        self.alias[node.output[0]] = node.input[0]

    def op_Dropout(self, node):
        check_attrs(node, {"seed": None})
        self.alias[node.output[0]] = node.input[0]

    def op_Gemm(self, node):
        a = attrs(node)
        check_attrs(node, {"alpha": lambda v: v == 1.0, "beta": lambda v: v == 1.0,
                           "transA": lambda v: v == 0, "transB": None})
        w = self.const(node, node.input[1], "Gemm's B (weights)")
        self._weight_orientation(node.input[1], w.shape, a.get("transB", 0) == 0)
        if a.get("transB", 0) == 0:
            w = w.T
        attributes = {"weight": self.add_weight(node.input[1], w.astype(np.float32))}
        if len(node.input) > 2 and node.input[2]:
            b = self.const(node, node.input[2], "Gemm's C (bias)")
            attributes["bias"] = self.add_weight(node.input[2], np.broadcast_to(
                b, (w.shape[0],)).astype(np.float32))
        self.emit(node, "dense", [node.input[0]], [node.output[0]], attributes)

    def op_MatMul(self, node):
        if not self.is_const(node.input[1]):
            fail(node, "MatMul of two computed tensors is not supported (weights must be constant)")
        w = self.consts[node.input[1]]
        if w.ndim != 2:
            fail(node, f"MatMul weights must be 2-D, got shape {list(w.shape)}")
        self._weight_orientation(node.input[1], w.shape, True)
        self.emit(node, "dense", [node.input[0]], [node.output[0]],
                  {"weight": self.add_weight(node.input[1], w.T.astype(np.float32))})

    def op_Add(self, node):
        x, y = node.input
        if self.is_const(x):
            x, y = y, x
        if not self.is_const(y):
            self.emit(node, "add", [x, y], [node.output[0]])
            return
        b = np.asarray(self.consts[y], np.float32)
        prev = self.producer.get(self.name(x))
        # A bias after MatMul / Conv folds into that layer when nothing else reads it.
        if prev is not None and prev["op"] in ("dense", "conv2d") and "bias" not in prev.get(
                "attributes", {}) and self.consumers.get(x, 0) == 1:
            width = self.weights[prev["attributes"]["weight"]].shape[0]
            if (prev["op"] == "dense" and b.size in (1, width)) or (
                    prev["op"] == "conv2d" and b.size == width):
                prev["attributes"]["bias"] = self.add_weight(
                    y, np.broadcast_to(b.reshape(-1), (width,)).astype(np.float32))
                # The layer now produces the Add's output (keeps graph output names).
                prev["outputs"] = [node.output[0]]
                del self.producer[self.name(x)]
                self.producer[node.output[0]] = prev
                return
        self.emit(node, "add", [x], [node.output[0]], {"constant": self.add_weight(y, b)})

    def op_Conv(self, node):
        a = attrs(node)
        check_attrs(node, {"kernel_shape": None, "strides": None, "pads": None,
                           "dilations": None, "group": None,
                           "auto_pad": lambda v: v in (b"NOTSET", "NOTSET")})
        w = self.const(node, node.input[1], "Conv weights").astype(np.float32)
        self._weight_orientation(node.input[1], w.shape, False)
        if w.ndim != 4:
            fail(node, f"only 2-D convolutions are supported (weights {list(w.shape)})")
        attributes = {"weight": self.add_weight(node.input[1], w),
                      "stride": ints(a.get("strides", [1, 1])),
                      "padding": ints(a.get("pads", [0, 0, 0, 0])),
                      "dilation": ints(a.get("dilations", [1, 1])),
                      "groups": int(a.get("group", 1))}
        if len(node.input) > 2 and node.input[2]:
            attributes["bias"] = self.add_weight(
                node.input[2], self.const(node, node.input[2], "Conv bias").astype(np.float32))
        self.emit(node, "conv2d", [node.input[0]], [node.output[0]], attributes)

    def _pool(self, node, op):
        a = attrs(node)
        allowed = {"kernel_shape": None, "strides": None, "pads": None, "ceil_mode": None,
                   "auto_pad": lambda v: v in (b"NOTSET", "NOTSET"),
                   "dilations": lambda v: list(v) == [1, 1],
                   "storage_order": lambda v: v == 0}
        if op == "avg_pool2d":
            allowed["count_include_pad"] = None
        check_attrs(node, allowed)
        k = ints(a["kernel_shape"])
        attributes = {"kernel": k, "stride": ints(a.get("strides", k)),
                      "padding": ints(a.get("pads", [0, 0, 0, 0])),
                      "ceil_mode": bool(a.get("ceil_mode", 0))}
        if op == "avg_pool2d":
            attributes["count_include_pad"] = bool(a.get("count_include_pad", 0))
        if len(node.output) > 1 and node.output[1]:
            fail(node, "MaxPool's Indices output is not supported")
        self.emit(node, op, [node.input[0]], [node.output[0]], attributes)

    def op_MaxPool(self, node):
        self._pool(node, "max_pool2d")

    def op_AveragePool(self, node):
        self._pool(node, "avg_pool2d")

    def op_GlobalAveragePool(self, node):
        self.emit(node, "global_avg_pool", [node.input[0]], [node.output[0]])

    def op_Relu(self, node):
        self.emit(node, "relu", [node.input[0]], [node.output[0]])

    def op_Sigmoid(self, node):
        self.emit(node, "sigmoid", [node.input[0]], [node.output[0]])

    def op_Tanh(self, node):
        self.emit(node, "tanh", [node.input[0]], [node.output[0]])

    def op_Clip(self, node):
        a = attrs(node)
        lo = float(self.const(node, node.input[1], "Clip min")) if len(node.input) > 1 and node.input[1] else a.get("min", -np.inf)
        hi = float(self.const(node, node.input[2], "Clip max")) if len(node.input) > 2 and node.input[2] else a.get("max", np.inf)
        if lo == 0.0 and hi == 6.0:
            self.emit(node, "relu6", [node.input[0]], [node.output[0]])
        elif lo == 0.0 and hi == np.inf:
            self.emit(node, "relu", [node.input[0]], [node.output[0]])
        else:
            self.emit(node, "clip", [node.input[0]], [node.output[0]], {"min": lo, "max": hi})

    def op_BatchNormalization(self, node):
        check_attrs(node, {"epsilon": None, "momentum": None,
                           "training_mode": lambda v: v == 0})
        a = attrs(node)
        names = ["scale", "bias", "mean", "var"]
        attributes = {n: self.add_weight(node.input[i + 1], self.const(
            node, node.input[i + 1], f"BatchNormalization {n}").astype(np.float32))
                      for i, n in enumerate(names)}
        attributes["epsilon"] = float(a.get("epsilon", 1e-5))
        self.emit(node, "batch_norm", [node.input[0]], [node.output[0]], attributes)

    def op_Concat(self, node):
        if any(i in self.state_outputs for i in node.input):
            # Final LSTM states gathered into an output (hn, cn): bitlane keeps
            # them inside the session instead.
            if not all(i in self.state_outputs for i in node.input):
                fail(node, "mixes LSTM states with other tensors")
            self.state_outputs.update(node.output)
            return
        axis = attrs(node)["axis"]
        if self.sequence_major and axis in (0, 1):
            fail(node, "Concat over the time or batch axis of a sequence is not supported")
        self.emit(node, "concat", list(node.input), [node.output[0]], {"axis": int(axis)})

    def op_Flatten(self, node):
        self.emit(node, "flatten", [node.input[0]], [node.output[0]],
                  {"axis": int(attrs(node).get("axis", 1))})

    def _reshape_to(self, node, shape):
        if self.sequence_major:
            fail(node, "reshaping sequence tensors is not supported")
        if not shape or shape[0] not in (-1, 0, 1):
            fail(node, f"Reshape must keep the batch dimension first, got {shape}")
        self.emit(node, "reshape", [node.input[0]], [node.output[0]],
                  {"shape": [int(s) for s in shape[1:]]})

    def op_Reshape(self, node):
        check_attrs(node, {"allowzero": lambda v: v == 0})
        self._reshape_to(node, ints(self.const(node, node.input[1], "Reshape's shape")))

    def op_Squeeze(self, node):
        axes = ints(self.consts[node.input[1]]) if len(node.input) > 1 else ints(attrs(node).get("axes", []))
        src = self.producer.get(self.name(node.input[0]))
        if src is not None and src["op"] == "lstm" and axes == [1]:
            # ONNX LSTM output is [T, directions, N, H]; bitlane's lstm already
            # emits [N, T, H].
            self.alias[node.output[0]] = node.input[0]
            return
        fail(node, f"Squeeze over axes {axes} is not supported here")

    def op_Softmax(self, node):
        self.emit(node, "softmax", [node.input[0]], [node.output[0]],
                  {"axis": int(attrs(node).get("axis", -1))})

    def op_LogSoftmax(self, node):
        self.emit(node, "log_softmax", [node.input[0]], [node.output[0]],
                  {"axis": int(attrs(node).get("axis", -1))})

    def op_Gather(self, node):
        if not self.is_const(node.input[0]) or attrs(node).get("axis", 0) != 0:
            fail(node, "Gather is supported as an embedding lookup (constant table, axis 0)")
        table = self.consts[node.input[0]].astype(np.float32)
        if table.ndim != 2:
            fail(node, f"embedding table must be 2-D, got {list(table.shape)}")
        self.emit(node, "embedding", [node.input[1]], [node.output[0]],
                  {"weight": self.add_weight(node.input[0], table)})

    def op_LSTM(self, node):
        a = attrs(node)
        check_attrs(node, {"hidden_size": None, "direction": lambda v: v in (b"forward", "forward"),
                           "layout": lambda v: v == 0})
        hidden = int(a["hidden_size"])
        inputs = list(node.input) + [""] * (8 - len(node.input))
        x, W, R, B, seq_lens, h0, c0 = inputs[:7]
        if seq_lens:
            fail(node, "sequence_lens is not supported")
        W = self.const(node, W, "LSTM W")[0]
        R = self.const(node, R, "LSTM R")[0]
        B = self.const(node, B, "LSTM B")[0] if B else np.zeros(8 * hidden, np.float32)

        # ONNX gate order i, o, f, c; bitlane (like PyTorch) uses i, f, g, o.
        def reorder(m):
            i, o, f, c = np.split(m, 4, axis=0)
            return np.concatenate([i, f, c, o], axis=0).astype(np.float32)

        base = node.name.strip("/").replace("/", ".") or "lstm"
        attributes = {
            "hidden_size": hidden, "layers": 1,
            "weight_ih": [self.add_weight(base + ".weight_ih", reorder(W))],
            "weight_hh": [self.add_weight(base + ".weight_hh", reorder(R))],
            "bias_ih": [self.add_weight(base + ".bias_ih", reorder(B[:4 * hidden]))],
            "bias_hh": [self.add_weight(base + ".bias_hh", reorder(B[4 * hidden:]))],
        }
        # Initial states fed from graph inputs (directly or sliced per layer)
        # mean the model streams: bitlane carries the state across calls.
        stateful = False
        for s in (h0, c0):
            if not s:
                continue
            root = self._graph_input_root(s)
            if root is None:
                fail(node, "initial LSTM state must be zero or come from a graph input")
            self.dropped_inputs.add(root)
            stateful = True
        attributes["stateful"] = stateful
        self.state_outputs.update(o for o in node.output[1:] if o)
        self.sequence_major = True
        out = node.output[0]
        if not out:
            fail(node, "the LSTM's Y output must be used")
        self.emit(node, "lstm", [x], [out], attributes)

    def _graph_input_root(self, t):
        names = {i.name for i in self.graph_inputs}
        seen = 0
        while t not in names:
            src = next((n for n in self.model.graph.node if t in n.output), None)
            if src is None or src.op_type not in ("Slice", "Gather", "Squeeze", "Unsqueeze",
                                                  "Identity") or seen > 8:
                return None
            t = src.input[0]
            seen += 1
        return t

    def op_Slice(self, node):
        # Only the per-layer slicing of LSTM initial states feeds nothing else.
        if self._graph_input_root(node.input[0]) is not None:
            return
        fail(node, "Slice is only supported on LSTM initial states")

    # -- output ------------------------------------------------------------
    def document(self, weights_file):
        g = self.model.graph
        meta_inputs = {i["name"]: i for i in self.meta.get("inputs", [])}
        inputs = []
        for gi in self.graph_inputs:
            if gi.name in self.dropped_inputs:
                continue
            dims = [d.dim_value if d.HasField("dim_value") else -1
                    for d in gi.type.tensor_type.shape.dim]
            elem = gi.type.tensor_type.elem_type
            spec = {"name": gi.name}
            if self.sequence_major:
                # tokens: ONNX [T, N]; bitlane [N, T]: one dynamic time axis.
                spec.update({"shape": [-1], "dtype": "int32", "layout": "T"})
            else:
                spec.update({"shape": dims[1:], "dtype": "float32" if elem == 1 else "int32"})
            extra = meta_inputs.get(gi.name, {})
            for k, v in extra.items():
                if k != "name":
                    spec[k] = v
            inputs.append(spec)
        outputs = [{"name": self.name(o.name)} for o in g.output
                   if self.name(o.name) in self.producer]
        doc = {"format_version": FORMAT_VERSION,
               "name": self.meta.get("name", ""),
               "description": self.meta.get("description", ""),
               "weights": weights_file,
               "inputs": inputs, "outputs": outputs}
        for key in ("labels", "vocabulary", "quantization", "calibration"):
            if key in self.meta:
                doc[key] = self.meta[key]
        if self.layer_plans and "quantization" not in doc:
            # Trained at low precision: the model's own plan is its training's
            # (layers without quantizers stay fp32).
            doc["quantization"] = {"default": {"scheme": "fp32"}, "layers": self.layer_plans}
        doc["nodes"] = self.nodes
        # Lets `bitlane bench --random-weights` run the graph without the weights.
        doc["metadata"] = {"weight_shapes": {k: list(v.shape) for k, v in sorted(self.weights.items())}}
        return doc


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        raw = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def parse_size(text):
    m = text.lower().split("x")
    if len(m) != 2 or not all(p.isdigit() and int(p) > 0 for p in m):
        raise ImportError_(f"--image: expected HEIGHTxWIDTH such as 28x28, got '{text}'")
    return [int(m[0]), int(m[1])]


def parse_floats(text, option):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ImportError_(f"{option}: expected a number or a comma list of numbers, got '{text}'")


def read_labels(path):
    """One label per line (blank lines skipped), or a JSON list of strings."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ImportError_(f"{path}: cannot read the labels ({e.strerror})")
    if text.lstrip().startswith("["):
        try:
            labels = json.loads(text)
        except json.JSONDecodeError as e:
            raise ImportError_(f"{path}: not a valid JSON list ({e.msg}, line {e.lineno})")
        if not isinstance(labels, list) or not all(isinstance(l, str) for l in labels):
            raise ImportError_(f"{path}: the JSON must be a list of strings")
        return labels
    labels = [l.strip() for l in text.splitlines() if l.strip()]
    if not labels:
        raise ImportError_(f"{path}: no labels (one per line)")
    return labels


def read_meta(path):
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except OSError as e:
        raise ImportError_(f"{path}: cannot read the metadata file ({e.strerror})")
    except json.JSONDecodeError as e:
        raise ImportError_(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})")
    except UnicodeDecodeError:
        raise ImportError_(f"{path}: not a text (UTF-8) file")
    if not isinstance(meta, dict):
        raise ImportError_(f"{path}: the metadata must be a JSON object ({{\"inputs\": ..., \"labels\": ...}})")
    return meta


def image_meta(args, meta, model):
    """Folds --image/--color/--scale/--mean/--std/--labels into meta."""
    if args.labels:
        meta["labels"] = read_labels(args.labels)
    if not (args.image or args.color or args.scale or args.mean or args.std):
        return
    if not args.image:
        raise ImportError_("--color, --scale, --mean and --std describe an image input: add --image HEIGHTxWIDTH")
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1:
        raise ImportError_(f"--image needs a model with one input, this one has {len(inputs)} "
                           "(use --meta to describe several)")
    color = args.color or "gray"
    channels = 1 if color == "gray" else 3
    pre = {"color": color, "size": parse_size(args.image), "resize": "bilinear"}
    pre["scale"] = parse_floats(args.scale, "--scale")[0] if args.scale else 1 / 255
    for key, text, default in (("mean", args.mean, 0.0), ("std", args.std, 1.0)):
        vals = parse_floats(text, "--" + key) if text else [default]
        if len(vals) == 1:
            vals = vals * channels
        if len(vals) != channels:
            raise ImportError_(f"--{key}: {len(vals)} values for {channels} channel(s) ({color})")
        if key == "std" and any(v == 0 for v in vals):
            raise ImportError_("--std: values must not be 0")
        pre[key] = vals
    entry = next((i for i in meta.setdefault("inputs", []) if i.get("name") == inputs[0].name), None)
    if entry is None:
        entry = {"name": inputs[0].name}
        meta["inputs"].append(entry)
    entry["preprocessing"] = pre


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bitlane import", description="Convert ONNX to bitlane's model format.")
    parser.add_argument("model")
    parser.add_argument("-o", "--output", required=True, help="output .json (weights beside it; folders are created)")
    parser.add_argument("--meta", help="JSON with inputs' preprocessing, labels, vocabulary, ...")
    parser.add_argument("--name", help="model name (default: output file stem)")
    parser.add_argument("--image", help="HEIGHTxWIDTH: the input is an image resized to this size")
    parser.add_argument("--color", choices=["gray", "rgb", "bgr"], help="channel order the model wants (gray)")
    parser.add_argument("--scale", help="pixel values 0..255 are multiplied by this (1/255)")
    parser.add_argument("--mean", help="per channel, subtracted after scaling (0)")
    parser.add_argument("--std", help="per channel, divides after the mean (1)")
    parser.add_argument("--labels", help="class names: one per line, or a JSON list")
    args = parser.parse_args(argv)

    def error(message):
        print(f"bitlane import: {message}", file=sys.stderr)
        return 1

    if not os.path.exists(args.model):
        return error(f"{args.model}: no such file")
    try:
        with warnings.catch_warnings():  # protobuf warns before it fails: the error line says it all
            warnings.simplefilter("ignore")
            model = onnx.load(args.model)
    except Exception as e:  # protobuf errors have no common base
        return error(f"{args.model}: not a readable ONNX model ({type(e).__name__}: {e})")
    try:
        meta = read_meta(args.meta) if args.meta else {}
        image_meta(args, meta, model)
    except ImportError_ as e:
        return error(str(e))
    meta.setdefault("name", args.name or os.path.splitext(os.path.basename(args.output))[0])
    imp = Importer(model, meta)
    try:
        imp.convert()
        stem = os.path.splitext(args.output)[0]
        weights = stem + ".safetensors"
        doc = imp.document(os.path.basename(weights))
    except ImportError_ as e:
        return error(f"{args.model}: {e}")
    except Exception as e:  # a model this importer did not foresee: one line, not a traceback
        return error(f"{args.model}: cannot convert ({type(e).__name__}: {e}); "
                     "please report it with the model")
    try:
        folder = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(folder, exist_ok=True)
        write_safetensors(weights, imp.weights)
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.output)
    except OSError as e:
        return error(f"{e.filename or args.output}: cannot write ({e.strerror})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
