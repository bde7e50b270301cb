// exponential: DNA-TEQ (quant/exponential.h). Weights and activations of a
// layer share a base and a bit width found by a search at load time; the
// layer runs on decoded values or in the exponent domain (ops/exp_matmul.h).
// Cost: one exponent-sum count per MAC; storage: the searched width (the
// plan knows only the search's upper bound).
#include <cstdio>

#include "core/error.h"
#include "quant/scheme.h"

namespace bitlane::quant {
namespace {

const char* const kPaths[] = {"decoded", "histogram", nullptr};

const char* positive(double v) { return v > 0 ? nullptr : "must be positive"; }
const char* search_or_base(double v) {
  return v == 0 || v > 1 ? nullptr : "base must be greater than 1 (0 = search)";
}

const Setting kSettings[] = {
    number_setting<&ExpOptions::threshold>("exp_threshold", "thr", positive),
    listed_if(number_setting<&ExpOptions::base>("exp_base", "base", search_or_base),
              [](const LayerPlan& p) { return p.get<ExpOptions>().base > 0; }),
    int_setting<&ExpOptions::min_bits>("exp_min_bits", "minbits", 2, 12),
    int_setting<&ExpOptions::max_bits>("exp_max_bits", "maxbits", 2, 12),
    listed_if(bool_setting<&ExpOptions::histogram>("exp_histogram", "path", kPaths),
              [](const LayerPlan& p) { return p.get<ExpOptions>().histogram; }),
};

class ExponentialScheme final : public Scheme {
 public:
  const char* name() const override { return "exponential"; }
  SchemeOptions defaults() const override { return ExpOptions{}; }
  std::span<const Setting> settings() const override { return kSettings; }
  Execution execution() const override { return Execution::kExponent; }

  void finish(LayerPlan& p, const std::string& where) const override {
    const ExpOptions& e = p.get<ExpOptions>();
    if (e.min_bits > e.max_bits) fail(where, "exponential bit range must lie in 2..12, min <= max");
  }

  std::string describe(const LayerPlan& p) const override {
    const ExpOptions& e = p.get<ExpOptions>();
    char buf[96];
    std::snprintf(buf, sizeof(buf), " err<=%g bits %d..%d%s", e.threshold, e.min_bits, e.max_bits,
                  e.histogram ? " histogram" : "");
    std::string s = buf;  // widths come from the search
    if (e.base > 0) s += " base " + std::to_string(e.base);
    return s;
  }

  double pairs_per_mac(const LayerPlan&, double) const override { return 1; }
  double weight_bits_per_param(const LayerPlan& p) const override { return p.get<ExpOptions>().max_bits; }
  PeWork pe_work(const LayerPlan& p, UniformPe, double) const override {
    PeWork s;
    s.kind = "exponent";
    s.exp_ops = 1;
    s.weight_bits = p.weight_bits;
    s.activation_bits = p.activation_bits;
    return s;
  }
};

}  // namespace

const Scheme& exponential_scheme() {
  static const ExponentialScheme s;
  return s;
}

}  // namespace bitlane::quant
