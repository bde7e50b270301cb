"""Measures the scheme comparison of models/README.md with `bitlane sweep`.

  /usr/bin/python3 models/scripts/sweep_tables.py [--bitlane build/release/bitlane]
                                                  [--models mlp,lenet,resnet,char_lstm]

Runs the 'standard' grid (uniform widths, term quantization binary/HESE over
g in {1, 8, 16} and a range of k, DNA-TEQ, SDP, DRQ-style; see
apps/plan_grid.cc) on every bundled model's full test data -- the 10000
Fashion-MNIST test images, or the first 200000 characters of WikiText-2
test.txt -- and writes models/sweeps/<model>.csv, .json and .svg, then
replaces each model's table between its markers in models/README.md.
Latency is left out here (--no-timing): speed is bench/README.md's job.
Array cycles: `bitlane estimate`'s systolic model per item (64 x 128,
weight-stationary, 64 items per fold, bit-serial PEs for uniform layers).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import common

IMAGE_MODELS = ["mlp", "lenet", "resnet"]
TEXT_CHARS = 200000


def sweep(exe, model, data, out_base, extra):
    subprocess.run([exe, "sweep", model, data, "--grid", "standard", "--no-timing", "--threads", "0",
                    "--pe", "bit-serial", "--array-batch", "64",
                    "--csv", out_base + ".csv", "--json", out_base + ".json", "--plot", out_base + ".svg"] + extra,
                   check=True)
    with open(out_base + ".csv") as f:
        return list(csv.DictReader(f))


def table(rows, text):
    head = ("| plan | " + ("bits/char" if text else "top-1 %") +
            " | term pairs / item | vs w8a8 | kept pairs / item | weight bits | x smaller than int8 | array cycles |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|\n")
    out = ""
    for r in rows:
        macs, pairs, kept = float(r["macs"]), float(r["term_pairs"]), float(r["kept_term_pairs"])
        metric = f"{float(r['bits_per_char']):.3f}" if text else f"{100 * float(r['top1']):.2f}"
        out += (f"| {r['plan']} | {metric} | " + (f"{pairs:.3g}" if pairs > 0 else "-") + " | " +
                (f"{pairs / (macs * 64):.3f}" if pairs > 0 else "-") + " | " +
                (f"{kept:.3g}" if kept > 0 else "-") + f" | {float(r['weight_bits']):.2f} | "
                f"{float(r['compression_vs_int8']):.2f} | {float(r['array_cycles']):.4g} |\n")
    return head + out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bitlane", default=os.path.join(common.REPO, "build", "release", "bitlane"))
    parser.add_argument("--models-dir", default=os.path.join(common.REPO, "build", "release", "models"))
    parser.add_argument("--models", default=",".join(IMAGE_MODELS + ["char_lstm"]))
    args = parser.parse_args()
    out_dir = os.path.join(common.REPO, "models", "sweeps")
    os.makedirs(out_dir, exist_ok=True)
    readme = os.path.join(common.REPO, "models", "README.md")
    with tempfile.TemporaryDirectory() as tmp:
        test_x, test_y = common.fashion_mnist("t10k")
        full = os.path.join(tmp, "fashion-test-10000.safetensors")
        common.write_safetensors(full, {"images": test_x[:, None, :, :], "labels": test_y})
        for name in args.models.split(","):
            text = name == "char_lstm"
            data = os.path.join(common.WIKITEXT_DIR, "test.txt") if text else full
            extra = ["--limit", str(TEXT_CHARS)] if text else []
            rows = sweep(args.bitlane, os.path.join(args.models_dir, name), data, os.path.join(out_dir, name), extra)
            content = open(readme).read()
            start, end = f"<!-- sweep {name} -->", f"<!-- end sweep {name} -->"
            i, j = content.index(start) + len(start), content.index(end)
            with open(readme, "w") as f:
                f.write(content[:i] + "\n" + table(rows, text) + content[j:])
            print("updated", name, flush=True)


if __name__ == "__main__":
    sys.exit(main())
