"""End-to-end latency (batch 1) and throughput (batch 64) of every bundled
model: bitlane in fp32 and at 8/4/2/1 bits against PyTorch fp32 and int8 on
the same model, each PyTorch variant at its best of eager and TorchScript
(trace + freeze), measured in the same run for every thread count. Prints a
markdown table per thread count (bench/README.md).

  /usr/bin/python3 bench/e2e_bench.py [--bitlane build/release/bitlane] [--threads 1,2]
                                      [--rounds 3] [--json out.json]

PyTorch int8: FX static quantization (oneDNN backend, calibrated on the
model's calibration samples) for the CNNs and the MLP, dynamic quantization
for the LSTM (PyTorch has no static int8 LSTM). Cells are speed-ups over
PyTorch's best (the fastest of fp32/int8 x eager/TorchScript); above 1 means
bitlane is faster. The LSTM rows run --seq characters per call; its speed
in tokens/s is batch x seq / latency.

--rounds N measures every model N times, bitlane (a fresh process each time)
and PyTorch interleaved, and reports each cell's median over the rounds: on a
shared host a process can land in a slow spell for its whole life (bitlane's
ResNet at 1.53 ms in one process, 1.96 in the next, minutes apart), and one
round per cell then reads that spell as a ratio.
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
PLANS = ["fp32", "8", "4", "2", "1"]


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


def scripted(model, x):
    """TorchScript (trace + freeze) of a model, or None where tracing fails."""
    try:
        with torch.inference_mode():
            traced = torch.jit.trace(model, x, check_trace=False)
            return torch.jit.freeze(traced.eval())
    except Exception as e:  # noqa: BLE001 -- some variants do not trace; eager still counts
        print(f"  (TorchScript failed: {type(e).__name__})", file=sys.stderr)
        return None


def best_torch(variants, x, min_time):
    """Best time (ms) and the variant's name over eager and TorchScript."""
    best = (float("inf"), "-")
    for name, model in variants:
        if model is None:
            continue
        best = min(best, (time_torch(model, x, min_time), name))
    return best


def median_of(rounds):
    """The median over rounds of a time (ms), with the variant that gave it most often."""
    times = sorted(t for t, _ in rounds)
    names = [n for _, n in rounds]
    return float(np.median(times)), max(set(names), key=names.count)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bitlane", default=os.path.join(REPO, "build", "release", "bitlane"))
    ap.add_argument("--models", default=None, help="folder of imported models (default: beside the binary)")
    ap.add_argument("--names", default="mlp,lenet,resnet,char_lstm")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--seq", type=int, default=64, help="characters per call for the LSTM")
    ap.add_argument("--rounds", type=int, default=1, help="measure each model this often, report medians")
    ap.add_argument("--json", help="also write every measurement here")
    args = ap.parse_args()
    models_dir = args.models or os.path.join(os.path.dirname(args.bitlane), "models")
    records = []
    cpu = None
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        print(f"\n### {threads} thread(s): bitlane vs PyTorch {torch.__version__}, same run\n")
        print("| model | batch | torch fp32 ms | torch int8 ms | " +
              " | ".join(f"bitlane {p}" for p in PLANS) + " |")
        print("|---|---:|---:|---:|" + "---:|" * len(PLANS))
        for name in args.names.split(","):
            model_dir = os.path.join(models_dir, name)
            path = os.path.join(model_dir, "model.json")
            if not os.path.exists(path):
                continue
            doc = json.load(open(path))
            torch_models = {}
            for batch in (1, 64):
                x = inputs_for(doc, batch, args.seq)
                fp32 = BitlaneModule(path).eval()
                int8 = torch_int8(BitlaneModule(path).eval(), doc, model_dir, x)
                torch_models[batch] = (x, [("fp32 eager", fp32), ("fp32 script", scripted(fp32, x))],
                                       [("int8 eager", int8), ("int8 script", scripted(int8, x))])
            bl_rounds, t32_rounds, t8_rounds = [], {1: [], 64: []}, {1: [], 64: []}
            for _ in range(args.rounds):
                out = subprocess.run([args.bitlane, "bench", model_dir, "--threads", str(threads),
                                      "--bits", ",".join(PLANS), "--batch", "1,64", "--seq", str(args.seq),
                                      "--min-time", str(args.min_time), "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout
                run = json.loads(out)
                if cpu is None:
                    cpu = f"{run['cpu']}, SIMD target {run.get('simd_label', run['simd'])}"
                bl_rounds.append({(r["plan"], r["batch"]): r["median_ms"] for r in run["results"]})
                for batch, (x, v32, v8) in torch_models.items():
                    t32_rounds[batch].append(best_torch(v32, x, args.min_time))
                    t8_rounds[batch].append(best_torch(v8, x, args.min_time))
            for batch in (1, 64):
                bl = {p: float(np.median([r[(p, batch)] for r in bl_rounds])) for p in PLANS}
                t32, t8 = median_of(t32_rounds[batch]), median_of(t8_rounds[batch])
                best = min(t32, t8)
                cells = [f"{best[0] / bl[p]:.2f}x ({bl[p]:.3f})" for p in PLANS]
                print(f"| {name} | {batch} | {t32[0]:.3f} ({t32[1].split()[1]}) | {t8[0]:.3f} ({t8[1].split()[1]}) | " +
                      " | ".join(cells) + " |", flush=True)
                records.append({"model": name, "batch": batch, "threads": threads, "rounds": args.rounds,
                                "torch_fp32_ms": t32[0], "torch_fp32_variant": t32[1], "torch_int8_ms": t8[0],
                                "torch_int8_variant": t8[1], "bitlane_ms": bl,
                                "bitlane_ms_rounds": {p: [r[(p, batch)] for r in bl_rounds] for p in PLANS},
                                "torch_fp32_ms_rounds": [t for t, _ in t32_rounds[batch]],
                                "torch_int8_ms_rounds": [t for t, _ in t8_rounds[batch]]})
    print("\nbitlane cells: speed-up over PyTorch's best of the same row (bitlane's median ms per call);"
          " torch cells: median ms (the faster of eager and TorchScript)" +
          (f"; each the median of {args.rounds} interleaved rounds." if args.rounds > 1 else "."))
    if cpu:
        print(f"CPU: {cpu} (bitlane's report).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
