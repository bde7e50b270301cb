"""Shared helpers of the model scripts: data, safetensors writing, export.

Run with Debian's interpreter (/usr/bin/python3): it has python3-torch,
python3-onnx and python3-numpy.
"""
import gzip
import json
import os
import struct

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FASHION_DIR = "/usr/share/datasets/fashion-mnist"  # Debian: dataset-fashion-mnist
WIKITEXT_DIR = os.path.join(REPO, "..", "shared", "data", "wikitext-2")

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Normalisation of the Fashion-MNIST models: x = (pixel / 255 - mean) / std.
FASHION_MEAN = 0.2860
FASHION_STD = 0.3530


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)
    if magic == 2049:
        return np.frombuffer(data, np.uint8, offset=8)
    raise ValueError(f"{path}: not an IDX file")


def fashion_mnist(split):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of 'train' or 't10k'."""
    images = _read_idx(os.path.join(FASHION_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(FASHION_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels


def normalise(images_u8):
    x = images_u8.astype(np.float32) / 255.0
    return (x - FASHION_MEAN) / FASHION_STD


def write_safetensors(path, tensors, metadata=None):
    """Writes a dict name -> numpy array as .safetensors (sorted, packed)."""
    dtypes = {np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("uint8"): "U8",
              np.dtype("int8"): "I8", np.dtype("int64"): "I64", np.dtype("int16"): "I16",
              np.dtype("uint16"): "U16", np.dtype("float64"): "F64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def model_dir(name):
    d = os.path.join(REPO, "models", name)
    os.makedirs(d, exist_ok=True)
    return d


def write_meta(name, meta):
    with open(os.path.join(model_dir(name), "model.meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def fashion_meta(description):
    return {
        "description": description,
        "inputs": [{
            "name": "image", "layout": "CHW", "dtype": "float32",
            "preprocessing": {"color": "gray", "size": [28, 28], "scale": 1.0 / 255.0,
                              "mean": [FASHION_MEAN], "std": [FASHION_STD],
                              "resize": "bilinear"}}],
        "labels": FASHION_LABELS,
        # Relative to the imported model.json (build/models/<name>/).
        "calibration": {"file": "../data/fashion-calibration.safetensors", "tensor": "images"},
    }
