// bitlane_ceilings: the physical ceiling of each GEMM method's inner
// instruction on this core -- the instruction alone, in 12 independent
// register chains (no loads, no dependency stalls), so the count per second is
// what the ports allow. A kernel's GOPS over its method's ceiling says how
// close it is to the machine (bench/README.md). x86 only; elsewhere it says so.
//
//   build/release/bench/bitlane_ceilings [--min-time 0.3]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <cxxopts.hpp>

#include "core/cpu_info.h"
#include "timing.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using bitlane::bench::time_calls;

constexpr int kSteps = 4096;  // loop iterations per call

#if defined(__x86_64__)
// Each loop: `steps` iterations of independent chains written in assembly
// (a compiler would share or hoist the identical products). Registers start
// from whatever they hold: only the instruction rate matters.

// int8 (VNNI): 12 chains of VPDPBUSD zmm (latency ~5, two ports: 10+ chains
// keep both busy); 64 u8 x s8 multiply-accumulates each.
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) void vpdpbusd_loop(int64_t steps) {
  __asm__ volatile(
      "1:\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm2\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm3\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm4\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm5\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm6\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm7\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm8\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm9\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm10\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm11\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm12\n"
      "vpdpbusd %%zmm1, %%zmm0, %%zmm13\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(steps)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "cc");
}

// int8 on AVX2 cores with AVX-VNNI (Intel's client cores from Alder Lake
// and its E-core Xeons; AMD from Zen 5): 12 chains of the VEX-encoded
// VPDPBUSD ymm; 32 u8 x s8 multiply-accumulates each.
__attribute__((target("avx2,avxvnni"), noinline)) void vex_vpdpbusd_loop(int64_t steps) {
  __asm__ volatile(
      "1:\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm2\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm3\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm4\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm5\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm6\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm7\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm8\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm9\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm10\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm11\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm12\n"
      "%{vex%} vpdpbusd %%ymm1, %%ymm0, %%ymm13\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(steps)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

// int7 and oneDNN's AVX2 int8: 6 chains of VPMADDUBSW + VPMADDWD (against
// ones) + VPADDD ymm (only the add is carried); 32 multiply-accumulates each.
__attribute__((target("avx2"), noinline)) void maddubs_loop(int64_t steps) {
  __asm__ volatile(
      "1:\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm9\n"
      "vpmaddwd %%ymm2, %%ymm9, %%ymm9\n"
      "vpaddd %%ymm9, %%ymm3, %%ymm3\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm10\n"
      "vpmaddwd %%ymm2, %%ymm10, %%ymm10\n"
      "vpaddd %%ymm10, %%ymm4, %%ymm4\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm11\n"
      "vpmaddwd %%ymm2, %%ymm11, %%ymm11\n"
      "vpaddd %%ymm11, %%ymm5, %%ymm5\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm12\n"
      "vpmaddwd %%ymm2, %%ymm12, %%ymm12\n"
      "vpaddd %%ymm12, %%ymm6, %%ymm6\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm13\n"
      "vpmaddwd %%ymm2, %%ymm13, %%ymm13\n"
      "vpaddd %%ymm13, %%ymm7, %%ymm7\n"
      "vpmaddubsw %%ymm1, %%ymm0, %%ymm14\n"
      "vpmaddwd %%ymm2, %%ymm14, %%ymm14\n"
      "vpaddd %%ymm14, %%ymm8, %%ymm8\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(steps)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

// int16: 12 chains of VPMADDWD + VPADDD zmm; 32 multiply-accumulates each.
__attribute__((target("avx512f,avx512bw"), noinline)) void vpmaddwd_loop(int64_t steps) {
  __asm__ volatile(
      "1:\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm14\n"
      "vpaddd %%zmm14, %%zmm2, %%zmm2\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm15\n"
      "vpaddd %%zmm15, %%zmm3, %%zmm3\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm16\n"
      "vpaddd %%zmm16, %%zmm4, %%zmm4\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm17\n"
      "vpaddd %%zmm17, %%zmm5, %%zmm5\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm18\n"
      "vpaddd %%zmm18, %%zmm6, %%zmm6\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm19\n"
      "vpaddd %%zmm19, %%zmm7, %%zmm7\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm20\n"
      "vpaddd %%zmm20, %%zmm8, %%zmm8\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm21\n"
      "vpaddd %%zmm21, %%zmm9, %%zmm9\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm22\n"
      "vpaddd %%zmm22, %%zmm10, %%zmm10\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm23\n"
      "vpaddd %%zmm23, %%zmm11, %%zmm11\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm24\n"
      "vpaddd %%zmm24, %%zmm12, %%zmm12\n"
      "vpmaddwd %%zmm1, %%zmm0, %%zmm25\n"
      "vpaddd %%zmm25, %%zmm13, %%zmm13\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(steps)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "cc");
}

// bitserial, 1 x 1 bit: 12 chains of VPANDQ + VPOPCNTQ + VPADDQ zmm; 512 bit
// products each.
__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) void popcount_loop(int64_t steps) {
  __asm__ volatile(
      "1:\n"
      "vpandq %%zmm1, %%zmm0, %%zmm14\n"
      "vpopcntq %%zmm14, %%zmm14\n"
      "vpaddq %%zmm14, %%zmm2, %%zmm2\n"
      "vpandq %%zmm1, %%zmm0, %%zmm15\n"
      "vpopcntq %%zmm15, %%zmm15\n"
      "vpaddq %%zmm15, %%zmm3, %%zmm3\n"
      "vpandq %%zmm1, %%zmm0, %%zmm16\n"
      "vpopcntq %%zmm16, %%zmm16\n"
      "vpaddq %%zmm16, %%zmm4, %%zmm4\n"
      "vpandq %%zmm1, %%zmm0, %%zmm17\n"
      "vpopcntq %%zmm17, %%zmm17\n"
      "vpaddq %%zmm17, %%zmm5, %%zmm5\n"
      "vpandq %%zmm1, %%zmm0, %%zmm18\n"
      "vpopcntq %%zmm18, %%zmm18\n"
      "vpaddq %%zmm18, %%zmm6, %%zmm6\n"
      "vpandq %%zmm1, %%zmm0, %%zmm19\n"
      "vpopcntq %%zmm19, %%zmm19\n"
      "vpaddq %%zmm19, %%zmm7, %%zmm7\n"
      "vpandq %%zmm1, %%zmm0, %%zmm20\n"
      "vpopcntq %%zmm20, %%zmm20\n"
      "vpaddq %%zmm20, %%zmm8, %%zmm8\n"
      "vpandq %%zmm1, %%zmm0, %%zmm21\n"
      "vpopcntq %%zmm21, %%zmm21\n"
      "vpaddq %%zmm21, %%zmm9, %%zmm9\n"
      "vpandq %%zmm1, %%zmm0, %%zmm22\n"
      "vpopcntq %%zmm22, %%zmm22\n"
      "vpaddq %%zmm22, %%zmm10, %%zmm10\n"
      "vpandq %%zmm1, %%zmm0, %%zmm23\n"
      "vpopcntq %%zmm23, %%zmm23\n"
      "vpaddq %%zmm23, %%zmm11, %%zmm11\n"
      "vpandq %%zmm1, %%zmm0, %%zmm24\n"
      "vpopcntq %%zmm24, %%zmm24\n"
      "vpaddq %%zmm24, %%zmm12, %%zmm12\n"
      "vpandq %%zmm1, %%zmm0, %%zmm25\n"
      "vpopcntq %%zmm25, %%zmm25\n"
      "vpaddq %%zmm25, %%zmm13, %%zmm13\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(steps)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "cc");
}

struct Ceiling {
  const char* method;
  const char* instruction;
  const char* needs;  // __builtin_cpu_supports names, all required
  double macs_per_step;  // per iteration of the loop
  void (*loop)(int64_t);
};

bool has_feature(const char* name) {
  const auto& f = bitlane::cpu_info().features;
  return std::find(f.begin(), f.end(), name) != f.end();
}

bool supported(const char* needs) {
  std::string list = needs;
  size_t b = 0;
  while (b < list.size()) {
    size_t e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    const std::string f = list.substr(b, e - b);
    // __builtin_cpu_supports needs a literal: the few names used here.
    // AVX-VNNI from CPUID (bitlane::cpu_info): clang 14 has no name for it;
    // its register state is AVX2's, which the OS check of avx2 covers.
    bool ok = f == "avx2"                ? __builtin_cpu_supports("avx2")
              : f == "avxvnni"           ? __builtin_cpu_supports("avx2") && has_feature("avx-vnni")
              : f == "avx512bw"          ? __builtin_cpu_supports("avx512bw")
              : f == "avx512vnni"        ? __builtin_cpu_supports("avx512vnni")
              : f == "avx512vpopcntdq"   ? __builtin_cpu_supports("avx512vpopcntdq")
                                         : false;
    if (!ok) return false;
    b = e + 1;
  }
  return true;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options opts("bitlane_ceilings",
                        "Peak multiply-accumulate rate of each GEMM method's inner instruction on one core");
  opts.add_options()("min-time", "seconds per measurement", cxxopts::value<double>()->default_value("0.3"))(
      "h,help", "show help");
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", opts.help().c_str());
    return 0;
  }
  const double min_time = args["min-time"].as<double>();
#if defined(__x86_64__)
  const Ceiling ceilings[] = {
      {"int8 (VNNI)", "VPDPBUSD zmm", "avx512bw,avx512vnni", 12 * 64, vpdpbusd_loop},
      {"int8 (AVX-VNNI)", "VPDPBUSD ymm (VEX)", "avx2,avxvnni", 12 * 32, vex_vpdpbusd_loop},
      {"int7, oneDNN AVX2", "VPMADDUBSW + VPMADDWD + VPADDD ymm", "avx2", 6 * 32, maddubs_loop},
      {"int16", "VPMADDWD + VPADDD zmm", "avx512bw", 12 * 32, vpmaddwd_loop},
      {"bitserial (1 x 1 bit)", "VPANDQ + VPOPCNTQ + VPADDQ zmm", "avx512vpopcntdq", 12 * 512, popcount_loop},
  };
  std::printf("| method | instruction(s) | ceiling GOPS, 1 core (2 per MAC) |\n|---|---|---:|\n");
  for (const Ceiling& c : ceilings) {
    if (!supported(c.needs)) {
      std::printf("| %s | %s | not on this CPU |\n", c.method, c.instruction);
      continue;
    }
    const auto t = time_calls([&] { c.loop(kSteps); }, min_time);
    const double macs = c.macs_per_step * kSteps;
    std::printf("| %s | %s | %.0f |\n", c.method, c.instruction, 2.0 * macs / t.median_s * 1e-9);
  }
#else
  (void)min_time;
  std::printf("bitlane_ceilings measures x86 instructions only; not measured on this CPU.\n");
#endif
  return 0;
}
