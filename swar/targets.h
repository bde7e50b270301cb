// Which SIMD target the kernels run on. Highway compiles every kernel for
// several targets and picks the best one the CPU supports; tests and
// benchmarks can narrow that choice, and so can users with BITLANE_TARGET
// (e.g. BITLANE_TARGET=AVX2, or =EMU128 for the portable fallback).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitlane::swar {

struct SimdTarget {
  int64_t bit;       // Highway's HWY_* target bit
  std::string name;  // "AVX3_DL", "AVX2", "NEON", "EMU128", ...
};

// Targets compiled into this binary that this CPU can run, best first
// (one, without run-time dispatch, in a BITLANE_HWY_TARGETS=baseline build).
std::vector<SimdTarget> available_targets();

// Name of the target the kernels currently dispatch to (BITLANE_TARGET
// applied first).
std::string current_target();
// The same without applying BITLANE_TARGET first: the target the kernels of
// a run that just ended dispatched to (bitlane bench records it per run).
std::string dispatched_target();

// The Highway version the kernels were compiled with ("1.0.3"): its
// headers are inlined into them.
std::string highway_version();

// Restricts dispatch to the named target (case-insensitive). Throws
// bitlane::Error naming the available ones if it is unknown or unsupported.
// An empty name restores automatic choice.
void force_target(std::string_view name);

// Applies BITLANE_TARGET from the environment once; called by the library's
// entry points, harmless to call again.
void apply_target_from_environment();

// AVX-VNNI (the VEX-encoded VPDPBUSD on 256-bit vectors: Intel's cores
// without AVX-512 from Alder Lake on, AMD's from Zen 5) has no Highway
// target; the AVX2 target's byte products use it where the CPU has it
// (swar/kernels/byte_products-inl.h). allow_avx_vnni(false), or
// BITLANE_AVX_VNNI=0 in the environment, keeps that target to plain AVX2 --
// as on a CPU without it -- so one machine can test and measure both.
// Returns the previous setting.
bool allow_avx_vnni(bool allowed);
bool avx_vnni_allowed();

// A target's name for people: "AVX2+VNNI" for the AVX2 target where it runs
// AVX-VNNI's products, else the name itself. Keys (BITLANE_TARGET,
// force_target, the calibration cache, bench's JSON "simd") keep the name.
std::string target_label(std::string_view name);

// Forces a target for a scope (tests, benchmarks) and restores the choice
// that held before (automatic, or what BITLANE_TARGET forced).
class ScopedTarget {
 public:
  explicit ScopedTarget(std::string_view name);
  ~ScopedTarget();
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;

 private:
  int64_t previous_;
};

}  // namespace bitlane::swar
