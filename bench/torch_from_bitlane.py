"""Builds a PyTorch module from a bitlane model (JSON graph + safetensors),
so PyTorch can run exactly the model bitlane runs (bench/e2e_bench.py).
Covers bitlane's op set; the forward walks the nodes in file order, which
torch.fx can trace for PyTorch's own int8 quantization.
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dtype = {"F32": np.float32, "I32": np.int32, "U8": np.uint8}[e["dtype"]]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype).reshape(e["shape"]).copy()
    return out


class BitlaneModule(nn.Module):
    def __init__(self, json_path):
        super().__init__()
        doc = json.load(open(json_path))
        w = read_safetensors(os.path.join(os.path.dirname(json_path), doc["weights"]))
        t = lambda name: torch.from_numpy(w[name])
        self.inputs = [i["name"] for i in doc["inputs"]]
        self.outputs = [o["name"] for o in doc["outputs"]]
        self.steps = []
        self.layers = nn.ModuleDict()
        for i, n in enumerate(doc["nodes"]):
            op, a = n["op"], n.get("attributes", {})
            key = f"n{i}"
            if op == "dense":
                m = nn.Linear(t(a["weight"]).shape[1], t(a["weight"]).shape[0], bias="bias" in a)
                m.weight.data = t(a["weight"])
                if "bias" in a:
                    m.bias.data = t(a["bias"])
            elif op == "conv2d":
                wt = t(a["weight"])
                pad = a.get("padding", [0, 0, 0, 0])
                if pad[0] != pad[2] or pad[1] != pad[3]:
                    raise ValueError("asymmetric padding")
                m = nn.Conv2d(wt.shape[1] * a.get("groups", 1), wt.shape[0], tuple(wt.shape[2:]),
                              tuple(a.get("stride", [1, 1])), (pad[0], pad[1]),
                              tuple(a.get("dilation", [1, 1])), a.get("groups", 1), bias="bias" in a)
                m.weight.data = wt
                if "bias" in a:
                    m.bias.data = t(a["bias"])
            elif op == "embedding":
                m = nn.Embedding.from_pretrained(t(a["weight"]))
            elif op == "lstm":
                ih, hh = t(a["weight_ih"][0]), t(a["weight_hh"][0])
                m = nn.LSTM(ih.shape[1], a["hidden_size"], 1, batch_first=True)
                m.weight_ih_l0.data, m.weight_hh_l0.data = ih, hh
                m.bias_ih_l0.data, m.bias_hh_l0.data = t(a["bias_ih"][0]), t(a["bias_hh"][0])
            elif op == "add" and "constant" in a:
                self.register_buffer(key + "_c", t(a["constant"]))
                m = None
            else:
                m = None
            if m is not None:
                self.layers[key] = m
            self.steps.append((key, op, n["inputs"], n["outputs"], a))
        self.add = nn.quantized.FloatFunctional()  # lets FX quantize residual adds

    def forward(self, x):
        env = {self.inputs[0]: x}
        for key, op, ins, outs, a in self.steps:
            v = [env[i] for i in ins]
            if op in ("dense", "conv2d", "embedding"):
                y = self.layers[key](v[0])
            elif op == "lstm":
                y = self.layers[key](v[0])[0]
            elif op == "relu":
                y = F.relu(v[0])
            elif op == "relu6":
                y = F.relu6(v[0])
            elif op == "sigmoid":
                y = torch.sigmoid(v[0])
            elif op == "tanh":
                y = torch.tanh(v[0])
            elif op in ("identity", "dropout"):
                y = v[0]
            elif op == "max_pool2d":
                y = F.max_pool2d(v[0], a["kernel"], a.get("stride", a["kernel"]), a.get("padding", [0, 0])[:2],
                                 ceil_mode=a.get("ceil_mode", False))
            elif op == "avg_pool2d":
                y = F.avg_pool2d(v[0], a["kernel"], a.get("stride", a["kernel"]), a.get("padding", [0, 0])[:2],
                                 ceil_mode=a.get("ceil_mode", False), count_include_pad=a.get("count_include_pad", False))
            elif op == "global_avg_pool":
                y = F.adaptive_avg_pool2d(v[0], 1)
            elif op == "add":
                y = self.add.add(v[0], v[1]) if len(v) == 2 else v[0] + getattr(self, key + "_c")
            elif op == "concat":
                y = torch.cat(v, a["axis"])
            elif op == "flatten":
                y = torch.flatten(v[0], 1)
            elif op == "reshape":
                y = v[0].reshape([-1] + a["shape"])
            elif op == "softmax":
                y = F.softmax(v[0], a.get("axis", -1))
            elif op == "log_softmax":
                y = F.log_softmax(v[0], a.get("axis", -1))
            else:
                raise ValueError(f"op {op} not supported by the PyTorch rebuild")
            env[outs[0]] = y
        return env[self.outputs[0]]
