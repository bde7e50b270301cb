// fp32: a float layer (the plan's default); no settings, no integers.
#include "quant/scheme.h"

namespace bitlane::quant {
namespace {

class Fp32Scheme final : public Scheme {
 public:
  const char* name() const override { return "fp32"; }
  SchemeOptions defaults() const override { return Fp32Options{}; }
  std::span<const Setting> settings() const override { return {}; }
  Execution execution() const override { return Execution::kFloat; }
  std::string describe(const LayerPlan&) const override { return ""; }
  double pairs_per_mac(const LayerPlan&, double) const override { return 0; }  // not counted
  double weight_bits_per_param(const LayerPlan&) const override { return 32; }
  PeWork pe_work(const LayerPlan&, UniformPe, double) const override {
    PeWork s;
    s.kind = "fp32 MAC";
    s.fp32_macs = 1;
    s.weight_bits = s.activation_bits = 32;
    return s;
  }
};

}  // namespace

const Scheme& fp32_scheme() {
  static const Fp32Scheme s;
  return s;
}

}  // namespace bitlane::quant
