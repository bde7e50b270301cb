"""End-to-end latency (batch 1) and throughput (batch 64) of every bundled
model: bitlane in fp32 and at 8/4/2 bits against PyTorch fp32 and PyTorch
int8 on the same model, measured in the same run. Prints a markdown table of
ratios (bench/README.md).

  /usr/bin/python3 bench/e2e_bench.py [--bitlane build/release/bitlane] [--threads 1]

PyTorch int8: FX static quantization (oneDNN backend, calibrated on the
model's calibration samples) for the CNNs and the MLP, dynamic quantization
for the LSTM (PyTorch has no static int8 LSTM).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_from_bitlane import BitlaneModule, read_safetensors  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def time_torch(model, x, min_time):
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        times = []
        start = time.perf_counter()
        while len(times) < 5 or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def inputs_for(doc, batch, seq):
    spec = doc["inputs"][0]
    if spec.get("dtype") == "int32":
        return torch.randint(0, len(doc["vocabulary"]), (batch, seq))
    return torch.randn([batch] + spec["shape"])


def calibration(doc, model_dir):
    c = doc["calibration"]
    data = read_safetensors(os.path.join(model_dir, c["file"]))[c["tensor"]][:128]
    if data.dtype == np.uint8:
        p = doc["inputs"][0]["preprocessing"]
        data = (data.astype(np.float32) * p["scale"] - p["mean"][0]) / p["std"][0]
    return torch.from_numpy(data)


def torch_int8(module, doc, model_dir, example):
    if any(n["op"] == "lstm" for n in doc["nodes"]):
        return torch.ao.quantization.quantize_dynamic(module, {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8)
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"
    prepared = prepare_fx(module, get_default_qconfig_mapping("onednn"), (example,))
    with torch.inference_mode():
        prepared(calibration(doc, model_dir))
    return convert_fx(prepared)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bitlane", default=os.path.join(REPO, "build", "release", "bitlane"))
    ap.add_argument("--models", default=None, help="folder of imported models (default: beside the binary)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--seq", type=int, default=64, help="characters per call for the LSTM")
    args = ap.parse_args()
    models_dir = args.models or os.path.join(os.path.dirname(args.bitlane), "models")
    torch.set_num_threads(args.threads)
    print(f"# end-to-end: bitlane vs PyTorch {torch.__version__}, {args.threads} thread(s), same run\n")
    print("| model | batch | torch fp32 ms | torch int8 ms | bitlane fp32 | bitlane 8-bit | bitlane 4-bit | bitlane 2-bit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ["mlp", "lenet", "resnet", "char_lstm"]:
        model_dir = os.path.join(models_dir, name)
        path = os.path.join(model_dir, "model.json")
        if not os.path.exists(path):
            continue
        doc = json.load(open(path))
        out = subprocess.run([args.bitlane, "bench", model_dir, "--threads", str(args.threads),
                              "--bits", "fp32,8,4,2", "--batch", "1,64", "--seq", str(args.seq),
                              "--min-time", str(args.min_time), "--format", "json"],
                             check=True, capture_output=True, text=True).stdout
        bl = {(r["plan"], r["batch"]): r["mean_ms"] for r in json.loads(out)["results"]}
        module = BitlaneModule(path).eval()
        for batch in (1, 64):
            x = inputs_for(doc, batch, args.seq)
            fp32 = time_torch(module, x, args.min_time)
            int8 = time_torch(torch_int8(BitlaneModule(path).eval(), doc, model_dir, x), x, args.min_time)
            cells = [f"{fp32 / bl[(p, batch)]:.2f}x ({bl[(p, batch)]:.3f} ms)" for p in ("fp32", "8", "4", "2")]
            print(f"| {name} | {batch} | {fp32:.3f} | {int8:.3f} | " + " | ".join(cells) + " |", flush=True)
    print("\nbitlane cells: speed-up over PyTorch fp32 (bitlane's mean latency per call).")


if __name__ == "__main__":
    main()
