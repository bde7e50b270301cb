"""Measures the accuracy table of models/README.md with the bitlane CLI.

  /usr/bin/python3 models/scripts/accuracy_table.py [--bitlane build/release/bitlane]

Evaluates every bundled model on its full test data -- the 10000 Fashion-MNIST
test images (Debian's dataset-fashion-mnist) or WikiText-2 test.txt -- in fp32
and at uniform 8/6/4/3/2 bits (weights and activations, per-channel weights,
min/max calibration), writes models/accuracy.json, and replaces the table
between the markers in models/README.md. The test suite checks the same
numbers on the committed subsets.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import common

PLANS = ["fp32", "8", "6", "4", "3", "2"]
IMAGE_MODELS = ["mlp", "lenet", "resnet"]
# The weight-clipping table: weight grids scaled to max |w| or clipped by
# least squared error, next to the plans above.
CLIP_COLUMNS = [("4", "4"), ("4, mse", "4,wclip=mse"), ("3", "3"), ("3, mse", "3,wclip=mse"),
                ("w2a4", "w2a4"), ("w2a4, mse", "w2a4,wclip=mse"), ("2", "2"), ("2, mse", "2,wclip=mse"),
                ("2, both mse", "2,calib=mse,wclip=mse")]


def bitlane_eval(exe, model, data, plan):
    out = subprocess.run([exe, "eval", model, data, "--quant", plan, "--json", "--threads", "0"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bitlane", default=os.path.join(common.REPO, "build", "release", "bitlane"))
    parser.add_argument("--models", default=os.path.join(common.REPO, "build", "release", "models"))
    args = parser.parse_args()

    test_x, test_y = common.fashion_mnist("t10k")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "fashion-test-10000.safetensors")
        common.write_safetensors(full, {"images": test_x[:, None, :, :], "labels": test_y})
        for name in IMAGE_MODELS:
            results[name] = {}
            for plan in PLANS + [p for _, p in CLIP_COLUMNS if p not in PLANS]:
                r = bitlane_eval(args.bitlane, os.path.join(args.models, name), full, plan)
                results[name][plan] = {"top1": r["top1"], "images": r["images"]}
                print(f"{name} {plan}: {100 * r['top1']:.2f}%", flush=True)
    lstm = os.path.join(args.models, "char_lstm")
    if os.path.exists(lstm):
        test_txt = os.path.join(common.WIKITEXT_DIR, "test.txt")
        results["char_lstm"] = {}
        for plan in PLANS + [p for _, p in CLIP_COLUMNS if p not in PLANS]:
            r = bitlane_eval(args.bitlane, lstm, test_txt, plan)
            results["char_lstm"][plan] = {"bits_per_character": r["bits_per_character"],
                                          "characters": r["characters"]}
            print(f"char_lstm {plan}: {r['bits_per_character']:.4f} bpc", flush=True)

    with open(os.path.join(common.REPO, "models", "accuracy.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")

    header = "| model | metric | " + " | ".join(
        "fp32" if p == "fp32" else f"{p}-bit" for p in PLANS) + " |\n|---|---|" + "---:|" * len(PLANS) + "\n"
    rows = ""
    for name in IMAGE_MODELS:
        rows += f"| {name} | top-1 % (10000 images) | " + " | ".join(
            f"{100 * results[name][p]['top1']:.2f}" for p in PLANS) + " |\n"
    if "char_lstm" in results:
        rows += "| char_lstm | bits per character (test.txt) | " + " | ".join(
            f"{results['char_lstm'][p]['bits_per_character']:.3f}" for p in PLANS) + " |\n"
    clip = "| model | metric | " + " | ".join(c for c, _ in CLIP_COLUMNS) + " |\n|---|---|" + "---:|" * len(
        CLIP_COLUMNS) + "\n"
    for name in IMAGE_MODELS:
        clip += f"| {name} | top-1 % | " + " | ".join(
            f"{100 * results[name][p]['top1']:.2f}" for _, p in CLIP_COLUMNS) + " |\n"
    if "char_lstm" in results:
        clip += "| char_lstm | bits per character | " + " | ".join(
            f"{results['char_lstm'][p]['bits_per_character']:.3f}" for _, p in CLIP_COLUMNS) + " |\n"
    readme = os.path.join(common.REPO, "models", "README.md")
    text = open(readme).read()
    for marker, table in (("accuracy table", header + rows), ("weight clipping table", clip)):
        start, end = f"<!-- {marker} -->", f"<!-- end {marker} -->"
        i, j = text.index(start) + len(start), text.index(end)
        text = text[:i] + "\n" + table + text[j:]
    with open(readme, "w") as f:
        f.write(text)
    print("updated", readme)


if __name__ == "__main__":
    sys.exit(main())
