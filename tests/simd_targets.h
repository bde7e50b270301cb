// The one way suites run a check on every SIMD target: the targets compiled
// into this build that this CPU runs (best first; the portable fallback
// last), with dispatch forced to each in turn and restored afterwards.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "swar/targets.h"

namespace bitlane::test {

// Calls body(target_name) once per target; failures inside name the target.
template <class F>
void for_each_simd_target(F&& body) {
  for (const swar::SimdTarget& t : swar::available_targets()) {
    swar::ScopedTarget scope(t.name);
    INFO("SIMD target " << t.name);
    body(t.name);
  }
}

}  // namespace bitlane::test
