"""Writes the bundled image folders (run once; committed).

  /usr/bin/python3 models/scripts/make_images.py      (needs python3-pil)

models/data/images/<class>/NNNN.<ext>: 300 Fashion-MNIST test images
(indices 1000..1299, disjoint from the accuracy subset), one folder per class
so `bitlane eval` can read the labels. Most are 8-bit gray PNG; every 15th
is stored in another format or colour layout (RGB, RGBA, gray+alpha, 16-bit,
palette PNG, JPEG, BMP, PGM, PPM, a 3x larger RGB image) so that each decoder
path runs in the main job.

models/data/bad/: one small broken file per failure class (empty, truncated,
not an image, a header claiming 100000 x 100000 pixels, ...) for tests and
for showing how `bitlane run` reports them.

models/data/formats/: one 7x5 test pattern in every supported format, with
its exact pixels in formats.json, for the decoder tests.
"""
import io
import json
import os
import re
import struct
import zlib

import numpy as np
from PIL import Image

import common

DATA = os.path.join(common.REPO, "models", "data")


def folder_name(label):
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()


def save_variant(img_u8, path_stem, variant):
    """Writes a 28x28 gray image in one of the odd formats; returns the path."""
    g = Image.fromarray(img_u8, "L")
    if variant == "rgb":
        g.convert("RGB").save(path_stem + ".png")
        return path_stem + ".png"
    if variant == "rgba":
        rgba = g.convert("RGBA")
        rgba.putalpha(255)
        rgba.save(path_stem + ".png")
        return path_stem + ".png"
    if variant == "gray_alpha":
        g.convert("LA").save(path_stem + ".png")
        return path_stem + ".png"
    if variant == "gray16":
        Image.fromarray(img_u8.astype(np.uint16) * 257).save(path_stem + ".png")
        return path_stem + ".png"
    if variant == "palette":
        g.convert("P", palette=Image.ADAPTIVE, colors=256).save(path_stem + ".png")
        return path_stem + ".png"
    if variant == "jpeg":
        g.save(path_stem + ".jpg", quality=95)
        return path_stem + ".jpg"
    if variant == "jpeg_rgb":
        g.convert("RGB").save(path_stem + ".jpeg", quality=95)
        return path_stem + ".jpeg"
    if variant == "bmp":
        g.convert("RGB").save(path_stem + ".bmp")
        return path_stem + ".bmp"
    if variant == "bmp8":
        g.save(path_stem + ".bmp")
        return path_stem + ".bmp"
    if variant == "pgm":
        g.save(path_stem + ".pgm")
        return path_stem + ".pgm"
    if variant == "ppm":
        g.convert("RGB").save(path_stem + ".ppm")
        return path_stem + ".ppm"
    if variant == "large":
        g.convert("RGB").resize((84, 84), Image.BILINEAR).save(path_stem + ".png")
        return path_stem + ".png"
    raise ValueError(variant)


VARIANTS = ["rgb", "rgba", "gray_alpha", "gray16", "palette", "jpeg", "jpeg_rgb", "bmp", "bmp8",
            "pgm", "ppm", "large"]


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bad(folder):
    os.makedirs(folder, exist_ok=True)
    good = io.BytesIO()
    Image.fromarray(np.full((28, 28), 128, np.uint8), "L").save(good, "PNG")
    good = good.getvalue()
    files = {
        "empty.png": b"",
        "truncated.png": good[:len(good) // 2],
        "text-named.png": b"this is a text file, not an image\n",
        # A valid PNG header and IHDR declaring 100000 x 100000 pixels.
        "huge-header.png": b"\x89PNG\r\n\x1a\n" + png_chunk(
            b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)),
        "bad-crc.png": good[:33] + b"\x00\x00\x00\x00" + good[37:],
        "truncated.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 12,
        "truncated.bmp": b"BM" + b"\x00" * 20,
        "bad-maxval.pgm": b"P5\n28 28\n70000\n",
        "zero-size.ppm": b"P6\n0 0\n255\n",
    }
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def write_formats(folder):
    """One 7x5 RGB pattern in every supported format + the exact pixels."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(os.path.join(folder, "rgb.png"))
    Image.fromarray(gray, "L").save(os.path.join(folder, "gray.png"))
    Image.fromarray(gray.astype(np.uint16) * 257 + 3, "I;16").save(os.path.join(folder, "gray16.png"))
    Image.fromarray(np.dstack([rgb, gray]), "RGBA").save(os.path.join(folder, "rgba.png"))
    Image.fromarray(rgb, "RGB").quantize(colors=256, method=Image.MAXCOVERAGE).save(
        os.path.join(folder, "palette.png"))
    pal = Image.open(os.path.join(folder, "palette.png")).convert("RGB")
    Image.fromarray(rgb, "RGB").save(os.path.join(folder, "rgb.bmp"))
    Image.fromarray(gray, "L").save(os.path.join(folder, "gray8.bmp"))
    Image.fromarray(rgb, "RGB").save(os.path.join(folder, "rgb.ppm"))
    Image.fromarray(gray, "L").save(os.path.join(folder, "gray.pgm"))
    with open(os.path.join(folder, "gray-ascii.pgm"), "w") as f:
        f.write("P2\n# a comment\n7 5\n255\n" + " ".join(str(v) for v in gray.flatten()) + "\n")
    Image.fromarray(rgb, "RGB").save(os.path.join(folder, "rgb.jpg"), quality=100, subsampling=0)
    expected = {
        "rgb": rgb.tolist(), "gray": gray.tolist(),
        "gray16": ((gray.astype(np.uint32) * 257 + 3) / 257.0).round().astype(int).tolist(),
        "palette": np.asarray(pal).tolist(),
    }
    with open(os.path.join(folder, "formats.json"), "w") as f:
        json.dump(expected, f)


def main():
    test_x, test_y = common.fashion_mnist("t10k")
    images = os.path.join(DATA, "images")
    for i in range(1000, 1300):
        label = common.FASHION_LABELS[test_y[i]]
        d = os.path.join(images, folder_name(label))
        os.makedirs(d, exist_ok=True)
        stem = os.path.join(d, f"{i:04d}")
        if i % 15 == 0:
            save_variant(test_x[i], stem, VARIANTS[(i // 15) % len(VARIANTS)])
        else:
            Image.fromarray(test_x[i], "L").save(stem + ".png", optimize=True)
    write_bad(os.path.join(DATA, "bad"))
    write_formats(os.path.join(DATA, "formats"))
    print("wrote", images)


if __name__ == "__main__":
    main()
