#!/usr/bin/env python3
"""Writes tests/data/hostile/: one small file per class of hostile input.

Standard library only. cases.json (written by hand, not by this script) says
for each case which command meets it and the exact error it must produce;
tests/apps/hostile_test.cc checks them through the bitlane CLI.

  models/<case>/model.json + model.safetensors   broken models
  images/<case>                                    broken inputs for `run`
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "fuzz"))
from make_seeds import f32, graph, image_input, node, safetensors, weights  # noqa: E402

SHAPES = {"fc1.w": [8, 16], "fc1.b": [8], "fc2.w": [3, 8], "fc2.b": [3]}


def mlp(nodes=None):
    return graph([image_input(1, 4, 4)], nodes or [
        node("flatten", "flat", ["image"], ["x"], axis=1),
        node("dense", "fc1", ["x"], ["h"], weight="fc1.w", bias="fc1.b"),
        node("relu", "relu", ["h"], ["r"]),
        node("dense", "fc2", ["r"], ["logits"], weight="fc2.w", bias="fc2.b"),
    ], ["logits"], labels=["a", "b", "c"])


def write_model(name, graph_bytes, weight_bytes):
    d = os.path.join(HERE, "models", name)
    os.makedirs(d, exist_ok=True)
    if graph_bytes is not None:
        with open(os.path.join(d, "model.json"), "wb") as f:
            f.write(graph_bytes)
    if weight_bytes is not None:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(weight_bytes)


def main():
    shutil.rmtree(os.path.join(HERE, "models"), ignore_errors=True)
    shutil.rmtree(os.path.join(HERE, "images"), ignore_errors=True)
    good = weights(SHAPES)
    write_model("valid", mlp(), good)
    write_model("zero-byte", b"", good)
    write_model("not-json", b"\x89PNG\r\n\x1a\n not a graph", good)
    write_model("truncated-weights", mlp(), good[: len(good) // 2])
    write_model("wrong-magic-weights", mlp(), b"GIF89a" + bytes(64))
    lying = bytearray(good)
    lying[0:8] = struct.pack("<Q", 1 << 40)  # header length far past the end
    write_model("lying-header", mlp(), bytes(lying))
    nan = dict((k, ("F32", s, f32([0.1] * (s[0] * (s[1] if len(s) > 1 else 1))))) for k, s in SHAPES.items())
    nan["fc2.b"] = ("F32", [3], struct.pack("<3I", 0x3F800000, 0x7FC00000, 0))
    write_model("nan-weights", mlp(), safetensors(nan))
    write_model("cyclic-graph", mlp([
        node("flatten", "flat", ["image"], ["x"], axis=1),
        node("add", "join", ["x", "r"], ["s"]),
        node("dense", "fc1", ["s"], ["h"], weight="fc1.w", bias="fc1.b"),
        node("relu", "relu", ["h"], ["r"]),
        node("dense", "fc2", ["r"], ["logits"], weight="fc2.w", bias="fc2.b"),
    ]), good)
    write_model("duplicate-names", mlp([
        node("flatten", "flat", ["image"], ["x"], axis=1),
        node("dense", "fc1", ["x"], ["h"], weight="fc1.w", bias="fc1.b"),
        node("relu", "fc1", ["h"], ["r"]),
        node("dense", "fc2", ["r"], ["logits"], weight="fc2.w", bias="fc2.b"),
    ]), good)
    # A decompression bomb: 2^40 elements declared in a 200-byte file.
    bomb = safetensors({"fc1.w": ("F32", [1 << 20, 1 << 20], b""), "fc1.b": ("F32", [8], f32([0] * 8))})
    write_model("shape-2-40", mlp(), bomb)
    # A directory where the graph file should be (git keeps it by its .keep).
    os.makedirs(os.path.join(HERE, "models", "dir-named-like-a-file", "model.json"), exist_ok=True)
    open(os.path.join(HERE, "models", "dir-named-like-a-file", "model.json", ".keep"), "w").close()

    img = os.path.join(HERE, "images")
    os.makedirs(img, exist_ok=True)
    png_sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    import zlib
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    files = {
        "zero-byte.png": b"",
        "wrong-magic.png": b"this is a text file named like an image\n",
        "truncated.png": png_sig + chunk[:10],
        "lying-header.png": png_sig + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")),
        "truncated.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
        "truncated.bmp": b"BM" + struct.pack("<I", 1000) + bytes(12),
        "zero-size.pgm": b"P5\n0 0\n255\n",
    }
    for name, data in files.items():
        with open(os.path.join(img, name), "wb") as f:
            f.write(data)
    loop = os.path.join(HERE, "symlink-loop")
    shutil.rmtree(loop, ignore_errors=True)
    os.makedirs(loop)
    os.symlink(".", os.path.join(loop, "back-to-here"))
    os.symlink("self", os.path.join(loop, "self"))


if __name__ == "__main__":
    main()
