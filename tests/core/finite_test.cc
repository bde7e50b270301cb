// all_finite / require_finite on every SIMD target Highway dispatches to here,
// against std::isfinite: every length up to past two vectors of the widest
// target, each special value at every position (the vector body and the
// scalar tail alike).
#include "core/finite.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "hwy/highway.h"
#include "hwy/targets.h"

using namespace bitlane;

namespace {

// Runs body once per compiled target this CPU supports, restoring the
// automatic choice afterwards (as swar::ScopedTarget does, one layer up).
// A build for one static target (BITLANE_HWY_STATIC: no run-time dispatch,
// no Highway library) has that one.
template <class F>
void for_each_target(F&& body) {
#if BITLANE_HWY_STATIC
  INFO("SIMD target " << hwy::TargetName(HWY_STATIC_TARGET));
  body();
#else
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    INFO("SIMD target " << hwy::TargetName(target));
    body();
  }
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
#endif
}

}  // namespace

TEST_CASE("finite: every length and position on every target agrees with std::isfinite") {
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::max(), -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::min(), -0.f};
  for_each_target([&] {
    for (int64_t n = 0; n <= 70; ++n) {
      std::vector<float> x(static_cast<size_t>(n) + 1);
      for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = 0.5f * static_cast<float>(i) - 3.f;
      x[static_cast<size_t>(n)] = specials[0];  // one past the end: never read
      CHECK(all_finite(x.data(), n));
      for (const float s : specials)
        for (int64_t at = 0; at < n; ++at) {
          const float keep = x[static_cast<size_t>(at)];
          x[static_cast<size_t>(at)] = s;
          CAPTURE(n);
          CAPTURE(at);
          CAPTURE(s);
          REQUIRE(all_finite(x.data(), n) == static_cast<bool>(std::isfinite(s)));
          x[static_cast<size_t>(at)] = keep;
        }
    }
  });
}

TEST_CASE("finite: require_finite names the first bad element and what it is") {
  std::vector<float> x(40, 1.f);
  CHECK_NOTHROW(require_finite(x.data(), 40, "input"));
  x[33] = -std::numeric_limits<float>::infinity();
  x[35] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(require_finite(x.data(), 40, "input 'x'"), "input 'x': infinite value at element 33", Error);
  CHECK_THROWS_WITH_AS(require_finite(x.data() + 34, 6, "w"), "w: NaN value at element 1", Error);
}
