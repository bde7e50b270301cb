#!/usr/bin/env python3
"""Writes the hand-made seed corpora of the fuzz targets into fuzz/seeds/.

Standard library only (any python3). The seeds are small on purpose: libFuzzer
mutates small inputs much faster, and every structure the parsers know (each
operator family, each safetensors dtype, each image format, each plan key)
appears at least once.  fuzz/run.sh adds the bundled images on top.

  model, capi    JSON graph, a NUL byte, then the .safetensors bytes
  safetensors    .safetensors files, valid and subtly broken
  image          one knob byte (target size, colour order, resize), then a file
  plan           CLI plan text
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def safetensors(tensors, header_extra=None):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if header_extra:
        header.update(header_extra)
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def ramp(n, scale=0.1):
    return [((i * 37) % 11 - 5) * scale for i in range(n)]


def weights(spec, positive=()):
    """spec: name -> shape; values are a deterministic ramp (made positive for
    the names in `positive`, such as variances)."""
    out = {}
    for name, shape in spec.items():
        n = 1
        for d in shape:
            n *= d
        values = ramp(n)
        if name in positive:
            values = [abs(v) + 0.5 for v in values]
        out[name] = ("F32", shape, f32(values))
    return safetensors(out)


def node(op, name, inputs, outputs, **attributes):
    n = {"op": op, "name": name, "inputs": inputs, "outputs": outputs}
    if attributes:
        n["attributes"] = attributes
    return n


def graph(inputs, nodes, outputs, **extra):
    g = {"format_version": 1, "name": "seed", "weights": "model.safetensors", "inputs": inputs,
         "outputs": [{"name": o} for o in outputs], "nodes": nodes}
    g.update(extra)
    return json.dumps(g, indent=1).encode()


def image_input(c, h, w):
    return {"name": "image", "shape": [c, h, w], "dtype": "float32", "layout": "CHW",
            "preprocessing": {"color": "gray" if c == 1 else "rgb", "size": [h, w], "scale": 1 / 255,
                              "mean": [0.5] * c, "std": [0.25] * c}}


def models():
    seeds = {}
    # MLP: flatten, dense, relu, dense, softmax.
    seeds["mlp"] = (graph([image_input(1, 4, 4)], [
        node("flatten", "flat", ["image"], ["x"], axis=1),
        node("dense", "fc1", ["x"], ["h"], weight="fc1.w", bias="fc1.b"),
        node("relu", "relu", ["h"], ["r"]),
        node("dense", "fc2", ["r"], ["logits"], weight="fc2.w", bias="fc2.b"),
        node("softmax", "sm", ["logits"], ["p"], axis=-1),
    ], ["p"], labels=["a", "b", "c"]), weights({"fc1.w": [8, 16], "fc1.b": [8], "fc2.w": [3, 8], "fc2.b": [3]}))
    # CNN: conv (padding, stride), batch norm, relu6, pooling, residual add, concat.
    seeds["cnn"] = (graph([image_input(3, 6, 6)], [
        node("conv2d", "c1", ["image"], ["a"], weight="c1.w", bias="c1.b", stride=[1, 1], padding=[1, 1]),
        node("batch_norm", "bn", ["a"], ["b"], scale="bn.s", bias="bn.b", mean="bn.m", var="bn.v"),
        node("relu6", "r6", ["b"], ["c"]),
        node("conv2d", "dw", ["c"], ["d"], weight="dw.w", groups=4, padding=[1, 1]),
        node("add", "res", ["c", "d"], ["e"]),
        node("concat", "cat", ["c", "e"], ["f"], axis=1),
        node("max_pool2d", "mp", ["f"], ["g"], kernel=[2, 2]),
        node("avg_pool2d", "ap", ["g"], ["h"], kernel=[3, 3], stride=[1, 1], padding=[1, 1]),
        node("global_avg_pool", "gap", ["h"], ["i"]),
        node("flatten", "flat", ["i"], ["j"]),
        node("dense", "fc", ["j"], ["k"], weight="fc.w"),
        node("log_softmax", "ls", ["k"], ["out"]),
    ], ["out"]), weights({"c1.w": [4, 3, 3, 3], "c1.b": [4], "bn.s": [4], "bn.b": [4], "bn.m": [4],
                          "bn.v": [4], "dw.w": [4, 1, 3, 3], "fc.w": [2, 8]}, positive={"bn.v"}))
    # Text: embedding, two-layer LSTM, dense.
    lstm_w = {"emb": [5, 3]}
    for layer, inp in ((0, 3), (1, 2)):
        lstm_w.update({"ih%d" % layer: [8, inp], "hh%d" % layer: [8, 2], "bi%d" % layer: [8], "bh%d" % layer: [8]})
    lstm_w["fc.w"] = [5, 2]
    seeds["lstm"] = (graph([{"name": "ids", "shape": [-1], "dtype": "int32"}], [
        node("embedding", "emb", ["ids"], ["e"], weight="emb"),
        node("lstm", "lstm", ["e"], ["h"], hidden_size=2, layers=2, weight_ih=["ih0", "ih1"],
             weight_hh=["hh0", "hh1"], bias_ih=["bi0", "bi1"], bias_hh=["bh0", "bh1"], stateful=True),
        node("dense", "fc", ["h"], ["logits"], weight="fc.w"),
    ], ["logits"]), weights(lstm_w))
    # Reshape, clip, sigmoid, tanh, dropout, add with a constant, a plan.
    seeds["misc"] = (graph([{"name": "x", "shape": [2, 3], "dtype": "float32"}], [
        node("reshape", "rs", ["x"], ["a"], shape=[-1]),
        node("clip", "clip", ["a"], ["b"], min=-1.0, max=1.0),
        node("sigmoid", "sig", ["b"], ["c"]),
        node("tanh", "tanh", ["c"], ["d"]),
        node("dropout", "drop", ["d"], ["e"]),
        node("add", "bias", ["e"], ["f"], constant="k"),
        node("dense", "fc", ["f"], ["y"], weight="fc.w", bias="fc.b"),
    ], ["y"], quantization={"default": {"scheme": "uniform", "weight_bits": 4, "activation_bits": 8},
                            "first": "fp32"}), weights({"k": [6], "fc.w": [2, 6], "fc.b": [2]}))
    return {name: g + b"\0" + w for name, (g, w) in seeds.items()}


def safetensor_seeds():
    ok = safetensors({"a": ("F32", [2, 2], f32([1, 2, 3, 4])), "b": ("I32", [3], struct.pack("<3i", -1, 0, 7)),
                      "c": ("F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
                      "d": ("BF16", [1], struct.pack("<H", 0x3F80)), "e": ("I8", [4], bytes([1, 255, 3, 128])),
                      "f": ("U8", [0], b""), "g": ("F64", [1], struct.pack("<d", 2.5)),
                      "h": ("I16", [2], struct.pack("<2h", -300, 300))},
                     header_extra={"__metadata__": {"format": "pt"}})
    overlap = bytearray(safetensors({"a": ("F32", [2], f32([1, 2])), "b": ("F32", [2], f32([3, 4]))}))
    overlap = bytes(overlap).replace(b'"data_offsets":[8,16]', b'"data_offsets":[4,12]')
    nan = safetensors({"a": ("F32", [2], struct.pack("<2I", 0x7FC00000, 0x3F800000))})
    return {"valid": ok, "overlap": overlap, "nan": nan, "empty": struct.pack("<Q", 2) + b"{}",
            "truncated": ok[: len(ok) - 3]}


def plan_seeds():
    return {
        "uniform": b"w4a8,first=fp32,last=fp32",
        "terms": b"scheme=terms,enc=hese,g=16,k=10,s=6,a=6",
        "terms_groups": b"scheme=terms,enc=binary,g=8,k=12,ga=4,ka=8,bits=4",
        "exp": b"scheme=exponential,thr=0.05,minbits=3,maxbits=6",
        "sdp": b"scheme=sdp,sdp_g=8,sdp_k=4,bits=8",
        "drq": b"scheme=drq,drq_r=4,drq_t=0.5",
        "layers": b"w8a8,{fc1=fp32},{fc2=w2a4}",
        "calib": b"w4a8,calib=mse",
        "wclip": b"w2a4,wclip=mse,granularity=per_tensor",
        "json": b'{"default":{"scheme":"uniform","weight_bits":3},"layers":{"fc":{"scheme":"fp32"}}}',
    }


def image_seeds():
    out = {}
    for folder in ("models/data/formats", "models/data/bad"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".json"):
                continue
            with open(os.path.join(ROOT, folder, name), "rb") as f:
                data = f.read()
            if len(data) <= 4096:
                out[os.path.splitext(name)[0] + "_" + name.rsplit(".", 1)[-1]] = bytes([0x5A]) + data
    return out


def main():
    corpora = {"model": models(), "safetensors": safetensor_seeds(), "plan": plan_seeds(), "image": image_seeds()}
    corpora["capi"] = corpora["model"]
    for target, seeds in corpora.items():
        d = os.path.join(HERE, "seeds", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%-12s %d seeds" % (target, len(seeds)), file=sys.stderr)


if __name__ == "__main__":
    main()
