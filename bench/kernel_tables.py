#!/usr/bin/env python3
"""The kernel tables of bench/README.md for the machine at hand, in one run:
bitlane's GEMM per width as a ratio against oneDNN int8 at its default ISA
and capped at AVX-512 VNNI (each against its own oneDNN of the same run:
oneDNN takes one ISA cap per process), optionally the AVX2 target against
oneDNN capped at AVX2 (and, where the CPU has AVX-VNNI, both with it), and
how close each kernel comes to the ceiling of its instruction on this core
(bench/bitlane_ceilings).

  python3 bench/kernel_tables.py [--build build/release] [--avx2] [--trusted-range] [--min-time 0.3]

--trusted-range: bitlane's calls skip the activations' range check, as its
quantized layers call the GEMM (default: checked, as for unknown data).

Plain python3 (no packages needed). Prints markdown to paste into the README.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

WIDTHS = ["1x1", "2x2", "3x3", "4x4", "8x8"]
CEILING_OF = {"int8": "int8 (VNNI)", "int4": "int8 (VNNI)", "int7": "int7, oneDNN AVX2", "int16": "int16",
              "bitserial": "bitserial (1 x 1 bit)"}


def kernels(exe, extra, min_time, widths, env=None):
    cmd = [exe, "--json", "--min-time", str(min_time), "--threads", "1,2",
           "--bits", ",".join(widths)] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, **(env or {}))).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def ceilings(exe, min_time):
    out = subprocess.run([exe, "--min-time", str(min_time)], check=True, capture_output=True, text=True).stdout
    c = {}
    for line in out.splitlines():
        m = re.match(r"\| (.+?) \| .+? \| (\d+) \|$", line)
        if m:
            c[m.group(1)] = float(m.group(2))
    return c


def shapes_of(rows):
    """The (m, k, n) shapes of the rows, in first-seen order."""
    return list(dict.fromkeys((r["m"], r["k"], r["n"]) for r in rows))


def ratio_table(rows, widths, title):
    print(f"\n{title}\n")
    print("| shape | threads | " + " | ".join(w.replace("x", " x ") for w in widths) + " | oneDNN GOPS | oneDNN ISA |")
    print("|---|---:|" + "---:|" * len(widths) + "---:|---|")
    shapes = shapes_of(rows)
    for s in shapes:
        for t in (1, 2):
            grp = [r for r in rows if (r["m"], r["k"], r["n"]) == s and r["threads"] == t]
            peer = [r for r in grp if r["impl"].startswith("onednn_int8")]
            if not peer:
                continue
            base = peer[0]["gops"]
            cells = []
            for w in widths:
                a, b = map(int, w.split("x"))
                hit = [r for r in grp if r["impl"] == "bitlane" and r["a_bits"] == a and r["w_bits"] == b]
                cells.append(f"{hit[0]['gops'] / base:.2f} ({hit[0]['method']})" if hit else "-")
            isa = peer[0]["impl"].replace("onednn_int8", "").lstrip("_") or "vnni cap"
            print(f"| {s[0]}x{s[1]}x{s[2]} | {t} | " + " | ".join(cells) + f" | {base:.0f} | {isa} |")


def ceiling_table(rows, widths, ceil):
    print("\nShare of the instruction's ceiling on one core (bench/bitlane_ceilings), 1 thread:\n")
    print("| shape | " + " | ".join(w.replace("x", " x ") for w in widths) + " | oneDNN |")
    print("|---|" + "---:|" * len(widths) + "---:|")
    shapes = shapes_of(rows)
    for s in shapes:
        grp = [r for r in rows if (r["m"], r["k"], r["n"]) == s and r["threads"] == 1]
        cells = []
        for w in widths:
            a, b = map(int, w.split("x"))
            hit = [r for r in grp if r["impl"] == "bitlane" and r["a_bits"] == a and r["w_bits"] == b]
            c = ceil.get(CEILING_OF.get(hit[0]["method"], ""), 0) if hit else 0
            # Bit-serial work grows with a_bits * w_bits bit planes.
            if hit and hit[0]["method"] == "bitserial":
                c /= a * b
            cells.append(f"{100 * hit[0]['gops'] / c:.0f}%" if hit and c else "-")
        peer = [r for r in grp if r["impl"].startswith("onednn_int8")]
        pc = ceil.get("int8 (VNNI)", 0)
        cells.append(f"{100 * peer[0]['gops'] / pc:.0f}%" if peer and pc else "-")
        print(f"| {s[0]}x{s[1]}x{s[2]} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--avx2", action="store_true", help="also the AVX2 target against oneDNN capped at AVX2")
    ap.add_argument("--trusted-range", action="store_true",
                    help="no range check in bitlane's calls, as its quantized layers call the GEMM")
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    trust = ["--trusted-range"] if args.trusted_range else []
    exe = os.path.join(args.build, "bench", "bitlane_kernels")
    if not os.path.exists(exe):
        sys.exit(f"kernel_tables.py: {exe} not found (build with -DBITLANE_BUILD_BENCH=ON)")
    ceil = ceilings(os.path.join(args.build, "bench", "bitlane_ceilings"), args.min_time)
    default = kernels(exe, ["--onednn-isa", "default"] + trust, args.min_time, WIDTHS)
    # The CPU as bitlane_kernels describes it (brand, CPUID family/model/stepping,
    # caches): VMs name Zen 3, 4 and 5 all "AMD EPYC".
    cpu = default[0]["cpu"] if default else "unknown CPU"
    print(f"### {datetime.date.today()}, {cpu}, {os.cpu_count()} cores visible")
    print("\nbitlane's activations: " + ("trusted to be in range (--trusted-range, as its quantized layers call it)"
                                       if args.trusted_range else "range-checked in each call"))
    print("\nInstruction ceilings, GOPS on one core: " +
          ", ".join(f"{k} {v:.0f}" for k, v in ceil.items()))
    ratio_table(default, WIDTHS, "Against oneDNN int8 at its default ISA (its own choice; AMX where present):")
    vnni = kernels(exe, ["--onednn-isa", "vnni"] + trust, args.min_time, WIDTHS)
    ratio_table(vnni, WIDTHS, "Against oneDNN int8 capped at AVX-512 VNNI:")
    ceiling_table(vnni, WIDTHS, ceil)
    if args.avx2:
        w = ["1x1", "2x2", "4x4", "7x7", "8x8"]
        # Plain AVX2 (BITLANE_AVX_VNNI=0), as on a CPU without AVX-VNNI.
        avx2 = kernels(exe, ["--target", "AVX2", "--onednn-isa", "avx2"] + trust, args.min_time, w,
                       {"BITLANE_AVX_VNNI": "0"})
        ratio_table(avx2, w, "bitlane's AVX2 target against oneDNN int8 capped at AVX2 (no VNNI):")
        if "int8 (AVX-VNNI)" in ceil:  # Intel's client cores and E-core Xeons, AMD from Zen 5
            vnni = kernels(exe, ["--target", "AVX2", "--onednn-isa", "avx2_vnni"] + trust, args.min_time, w)
            ratio_table(vnni, w, "bitlane's AVX2 target with AVX-VNNI against oneDNN int8 capped at AVX2 "
                                 "with AVX-VNNI:")


if __name__ == "__main__":
    main()
