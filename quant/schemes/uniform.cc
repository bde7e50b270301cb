// uniform: b_w-bit weights and b_x-bit activations on a uniform grid
// (quant/uniform.h): per-channel or per-tensor weights, symmetric or with a
// zero point; activations from the calibrated range, unsigned with a zero
// point or symmetric signed. Cost: b_w x b_x term pairs per MAC.
#include "quant/scheme.h"

#include "core/error.h"

namespace bitlane::quant {
namespace {

class UniformScheme final : public Scheme {
 public:
  const char* name() const override { return "uniform"; }
  SchemeOptions defaults() const override { return UniformOptions{}; }
  std::span<const Setting> settings() const override { return {}; }
  Execution execution() const override { return Execution::kInteger; }
  std::string describe(const LayerPlan& p) const override {
    std::string s = Scheme::describe(p);
    s += p.weight_granularity == Granularity::kPerChannel ? " per-channel" : " per-tensor";
    if (!p.weight_symmetric) s += " asymmetric";
    const auto& o = p.get<UniformOptions>();
    if (o.weights || o.activations) s += std::string(" trained grid (") + (o.weights ? "weights" : "") +
                                          (o.weights && o.activations ? ", " : "") + (o.activations ? "activations" : "") + ")";
    return s + " " + calibration_name(p.calibration);
  }
  Affine activation_affine(float lo, float hi, const LayerPlan& p) const override {
    const auto& trained = p.get<UniformOptions>().activations;
    if (trained) return trained->affine(p.activation_bits);
    return quant::activation_affine(lo, hi, p.activation_bits, p.activation_symmetric);
  }
  void finish(LayerPlan& p, const std::string& where) const override {
    const auto& o = p.get<UniformOptions>();
    if (o.weights) o.weights->check(p.weight_bits, where + ": 'weight_grid'");
    if (o.activations) {
      o.activations->check(p.activation_bits, where + ": 'activation_grid'");
      if (o.activations->scale.size() != 1) fail(where + ": 'activation_grid'", "activations take one scale (per tensor)");
    }
  }
  double pairs_per_mac(const LayerPlan& p, double) const override {
    return static_cast<double>(p.weight_bits) * p.activation_bits;
  }
  PeWork pe_work(const LayerPlan& p, UniformPe pe, double) const override { return uniform_pe_work(p, pe); }
};

}  // namespace

const Scheme& uniform_scheme() {
  static const UniformScheme s;
  return s;
}

}  // namespace bitlane::quant
