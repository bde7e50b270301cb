#!/usr/bin/python3
"""Small networks "trained at low precision", as QAT tools export them, and
their exact fake-quantized forward pass computed here with numpy: the
independent reference for bitlane's import of trained quantizers
(tests/apps/import_test.cc). Needs python3-onnx and python3-numpy only.

  make_qat_models.py OUT_DIR

writes OUT_DIR/qonnx_mlp.onnx (QONNX Quant / BipolarQuant, as Brevitas and
FINN export: 4-bit input, 2-bit per-channel weights whose largest level is
not always used, 2-bit activations, binary weights), OUT_DIR/qdq_cnn.onnx
(ONNX QuantizeLinear / DequantizeLinear: uint8 activations with a zero
point, int8 per-channel conv weights, int8 per-tensor dense weights), and
for each NAME.safetensors with the tensors "inputs" and "expected" (also as
NAME.inputs.npy, NAME.expected.npy).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


def const(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(out, name, **arrays):
    """NAME.npy per array, and all of them in NAME.safetensors (F32)."""
    import json
    import struct
    header, blobs, offset = {}, [], 0
    for key, a in arrays.items():
        a = np.ascontiguousarray(a, "<f4")
        np.save(os.path.join(out, f"{name}.{key}.npy"), a)
        raw = a.tobytes()
        header[key] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(out, f"{name}.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def fake_quant(x, scale, zp, bits, signed, narrow=False):
    lo, hi = (-(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1 - int(narrow))
    q = np.clip(np.round(x / scale + zp), lo, hi)  # numpy rounds half to even, as QONNX's ROUND
    return (q - zp) * scale


def qonnx_mlp(out):
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.6, (6, 12)).astype(np.float32)         # Gemm, transB=1: [out, in]
    s1 = np.array([0.3, 0.5, 0.25, 0.4, 0.35, 0.45], np.float32).reshape(6, 1)
    b1 = rng.normal(0, 0.1, 6).astype(np.float32)
    w2 = rng.normal(0, 1, (6, 4)).astype(np.float32)             # MatMul: [in, out]
    s2 = np.float32(0.3)
    b2 = rng.normal(0, 0.1, 4).astype(np.float32)
    nodes = [
        helper.make_node("Quant", ["x", "sa0", "z0", "bits4"], ["xq"], domain=QONNX, signed=0, narrow=0,
                         rounding_mode="ROUND", name="quant_in"),
        helper.make_node("Quant", ["w1", "s1", "z0", "bits2"], ["w1q"], domain=QONNX, signed=1, narrow=0,
                         rounding_mode="ROUND", name="quant_w1"),
        helper.make_node("Gemm", ["xq", "w1q", "b1"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu1"),
        helper.make_node("Quant", ["r", "sa1", "z0", "bits2"], ["rq"], domain=QONNX, signed=0, narrow=0,
                         rounding_mode="ROUND", name="quant_act1"),
        helper.make_node("BipolarQuant", ["w2", "s2"], ["w2q"], domain=QONNX, name="quant_w2"),
        helper.make_node("MatMul", ["rq", "w2q"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "b2"], ["y"], name="fc2_bias"),
    ]
    inits = [const("w1", w1), const("s1", s1), const("b1", b1), const("w2", w2), const("s2", s2),
             const("b2", b2), const("sa0", np.float32(0.25)), const("sa1", np.float32(0.5)),
             const("z0", np.float32(0)), const("bits4", np.float32(4)), const("bits2", np.float32(2))]
    g = helper.make_graph(nodes, "qonnx_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)])
    onnx.save(m, os.path.join(out, "qonnx_mlp.onnx"))
    x = rng.uniform(-0.5, 4.5, (7, 12)).astype(np.float32)
    xq = fake_quant(x.astype(np.float64), 0.25, 0, 4, False)
    w1q = fake_quant(w1.astype(np.float64), s1, 0, 2, True)
    assert (w1q == -2 * s1).any() and (w1q == s1).any()  # both extreme levels and the small ones
    h = xq @ w1q.T + b1
    rq = fake_quant(np.maximum(h, 0), 0.5, 0, 2, False)
    w2q = np.where(w2 >= 0, 1.0, -1.0) * float(s2)
    y = rq @ w2q + b2
    save(out, "qonnx_mlp", inputs=x, expected=y)


def qdq_cnn(out):
    rng = np.random.default_rng(5)
    wc = rng.normal(0, 0.5, (3, 1, 3, 3)).astype(np.float32)
    sc = np.array([0.01, 0.02, 0.015], np.float32)
    bc = rng.normal(0, 0.1, 3).astype(np.float32)
    wd = rng.normal(0, 0.3, (5, 3 * 4 * 4)).astype(np.float32)  # Gemm transB=1
    sd = np.float32(0.004)
    bd = rng.normal(0, 0.1, 5).astype(np.float32)
    wc_q = np.clip(np.round(wc / sc.reshape(3, 1, 1, 1)), -128, 127).astype(np.int8)
    wd_q = np.clip(np.round(wd / sd), -128, 127).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="q_in"),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dq_in"),
        helper.make_node("DequantizeLinear", ["wc_q", "sc", "zc"], ["wcd"], axis=0, name="dq_wc"),
        helper.make_node("Conv", ["xd", "wcd", "bc"], ["c"], pads=[0, 0, 0, 0], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "sr", "zr"], ["rq"], name="q_act"),
        helper.make_node("DequantizeLinear", ["rq", "sr", "zr"], ["rd"], name="dq_act"),
        helper.make_node("Flatten", ["rd"], ["f"], axis=1, name="flatten"),
        helper.make_node("DequantizeLinear", ["wd_q", "sd", "zd"], ["wdd"], name="dq_wd"),
        helper.make_node("Gemm", ["f", "wdd", "bd"], ["y"], transB=1, name="fc"),
    ]
    inits = [const("sx", np.float32(0.02)), const("zx", np.uint8(100)), const("wc_q", wc_q), const("sc", sc),
             const("zc", np.zeros(3, np.int8)), const("bc", bc), const("sr", np.float32(0.01)),
             const("zr", np.uint8(0)), const("wd_q", wd_q), const("sd", sd), const("zd", np.int8(0)),
             const("bd", bd)]
    g = helper.make_graph(nodes, "qdq_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "qdq_cnn.onnx"))
    x = rng.uniform(-1.5, 3, (4, 1, 6, 6)).astype(np.float32)
    xd = fake_quant(x.astype(np.float64), 0.02, 100, 8, False)
    wcd = wc_q.astype(np.float64) * sc.reshape(3, 1, 1, 1)
    c = np.zeros((4, 3, 4, 4))
    for o in range(3):
        for i in range(4):
            for j in range(4):
                c[:, o, i, j] = (xd[:, 0, i:i + 3, j:j + 3] * wcd[o, 0]).sum(axis=(1, 2)) + bc[o]
    rd = fake_quant(np.maximum(c, 0), 0.01, 0, 8, False)
    y = rd.reshape(4, -1) @ (wd_q.astype(np.float64) * sd).T + bd
    save(out, "qdq_cnn", inputs=x, expected=y)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_qat_models.py OUT_DIR")
    qonnx_mlp(sys.argv[1])
    qdq_cnn(sys.argv[1])
