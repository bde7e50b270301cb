"""End-to-end latency of each precision scheme against uniform quantization
at equal bits, on the bundled models, measured in the same run.

  /usr/bin/python3 bench/scheme_bench.py [--bitlane build/release/bitlane]
      [--models-dir build/release/models] [--threads 1] [--batch 1,64]

Runs `bitlane bench` (calibration samples as inputs, min over timed runs)
for every model x batch x plan and prints a markdown table of ms per batch
and the ratio to the uniform plan of the same width (> 1: slower).
Plans at 8 bits: uniform w8a8; term w7a7 (7 magnitude bits + sign: 8-bit
integers), g = 16, k = 12, s = 3; SDP w8a8 G4 K4; DRQ w8a8; DNA-TEQ with the
decoded path and with the exponent-domain (histogram) path. At 4 bits:
uniform w4a4 and term w3a3, g = 16, k = 8, s = 2.
"""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PLANS = [  # (label, plan, baseline label)
    ("uniform w8a8", "8", None),
    ("term w7a7 g16 k12 s3", "scheme=term,w7a7,g=16,k=12,s=3", "uniform w8a8"),
    ("SDP w8a8 G4 K4", "scheme=sdp,w8a8,sdp_g=4,sdp_k=4", "uniform w8a8"),
    ("DRQ w8a8", "scheme=drq,w8a8", "uniform w8a8"),
    ("DNA-TEQ (decoded)", "scheme=exponential", "uniform w8a8"),
    ("DNA-TEQ (exponent domain)", "scheme=exponential,path=histogram", "uniform w8a8"),
    ("fp32", "fp32", "uniform w8a8"),
    ("uniform w4a4", "4", None),
    ("term w3a3 g16 k8 s2", "scheme=term,w3a3,g=16,k=8,s=2", "uniform w4a4"),
]


def bench(exe, model, plan, batch, threads, min_time):
    out = subprocess.run([exe, "bench", model, "--quant", plan, "--batch", str(batch), "--threads", str(threads),
                          "--min-time", str(min_time), "--format", "json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)["results"][0]["min_ms"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bitlane", default=os.path.join(REPO, "build", "release", "bitlane"))
    p.add_argument("--models-dir", default=os.path.join(REPO, "build", "release", "models"))
    p.add_argument("--models", default="mlp,lenet,resnet")
    p.add_argument("--batch", default="1,64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-time", type=float, default=1.0)
    a = p.parse_args()
    for name in a.models.split(","):
        for batch in [int(b) for b in a.batch.split(",")]:
            print(f"\n### {name}, batch {batch}, {a.threads} thread(s)\n")
            print("| plan | ms per batch (min) | vs uniform at equal bits |\n|---|---:|---:|")
            ms = {}
            for label, plan, base in PLANS:
                if "histogram" in plan and batch > 1 and name == "resnet":
                    continue  # the exponent-domain path is a reference here: minutes per batch
                ms[label] = bench(a.bitlane, os.path.join(a.models_dir, name), plan, batch, a.threads, a.min_time)
                ratio = f"{ms[label] / ms[base]:.2f}" if base else "1"
                print(f"| {label} | {ms[label]:.3f} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
