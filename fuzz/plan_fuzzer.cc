// The quantization-plan parser in both forms: the CLI's key=value text
// (braces and all) and JSON, each layered on top of a valid base plan.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.h"
#include "quant/plan.h"

BITLANE_FUZZ_TARGET(plan) {
  using namespace bitlane;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const quant::QuantPlan base = quant::QuantPlan::from_text("w4a8,first=fp32", {});
    const quant::QuantPlan p = quant::QuantPlan::from_text(text, base);
    // A plan that parses must describe itself and survive its own JSON.
    (void)p.defaults.to_string();
    const quant::QuantPlan again = quant::QuantPlan::from_json(p.to_json(), "round trip");
    if (!(again.defaults == p.defaults)) fuzz::finding("the plan changed in its JSON round trip");
  });
  return 0;
}
