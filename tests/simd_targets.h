// The one way suites run a check on every SIMD target: the targets compiled
// into this build that this CPU runs (best first; the portable fallback
// last), with dispatch forced to each in turn and restored afterwards.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "swar/cpu_features.h"
#include "swar/targets.h"

namespace bitlane::test {

// Calls body(target_name) once per target; failures inside name the target.
// Where the CPU has AVX-VNNI the AVX2 target runs twice: with its VPDPBUSD
// products and without them, as on an AVX2 CPU that lacks them
// (swar::allow_avx_vnni).
template <class F>
void for_each_simd_target(F&& body) {
  for (const swar::SimdTarget& t : swar::available_targets()) {
    swar::ScopedTarget scope(t.name);
    {
      INFO("SIMD target " << t.name);
      body(t.name);
    }
    if (t.name == "AVX2" && swar::avx_vnni_usable()) {
      struct Restore {
        bool allowed = swar::allow_avx_vnni(false);
        ~Restore() { swar::allow_avx_vnni(allowed); }
      } plain_avx2;
      INFO("SIMD target AVX2 without AVX-VNNI");
      body(t.name);
    }
  }
}

}  // namespace bitlane::test
