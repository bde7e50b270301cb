// apps/number_format.h against printf itself: every value printf's "%.6f"
// writes, including ties at the sixth decimal, negative zero, huge,
// subnormal and non-finite values.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "apps/number_format.h"

namespace {

std::string with_printf(double v) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  return buf;
}

std::string with_to_chars(double v) {
  std::string s;
  bitlane::cli::append_fixed6(s, v);
  return s;
}

}  // namespace

TEST_CASE("append_fixed6 writes what printf's %.6f writes") {
  std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 0.5, 1.0 / 128, 3.0 / 128, 0.0000005, 0.9999995, 0.99999949,
                                1e-7, 123456789.123456789, std::numeric_limits<double>::max(),
                                -std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN()};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> prob(0.0, 1.0), logit(-50.0, 50.0);
  for (int i = 0; i < 20000; ++i) {
    values.push_back(prob(rng));
    values.push_back(logit(rng));
    values.push_back(static_cast<float>(prob(rng)));  // scores start as floats
    values.push_back(std::ldexp(static_cast<double>(rng() % 4096), -static_cast<int>(rng() % 30)));  // ties
  }
  for (double v : values) {
    CAPTURE(v);
    REQUIRE(with_to_chars(v) == with_printf(v));
  }
}
