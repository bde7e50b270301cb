// uniform: b_w-bit weights and b_x-bit activations on a uniform grid
// (quant/uniform.h): per-channel or per-tensor weights, symmetric or with a
// zero point; activations from the calibrated range, unsigned with a zero
// point or symmetric signed. Cost: b_w x b_x term pairs per MAC.
#include "quant/scheme.h"

#include "core/error.h"

namespace bitlane::quant {
namespace {

const char* const kWeightClips[] = {"max", "mse", nullptr};
// Listed in a plan's JSON only when not max, so plans written before it
// existed read and print as they did.
const Setting kSettings[] = {
    listed_if(choice_setting<&UniformOptions::weight_clip>("weight_clip", "wclip", kWeightClips),
              [](const LayerPlan& p) { return p.get<UniformOptions>().weight_clip != WeightClip::kMax; }),
};

class UniformScheme final : public Scheme {
 public:
  const char* name() const override { return "uniform"; }
  SchemeOptions defaults() const override { return UniformOptions{}; }
  std::span<const Setting> settings() const override { return kSettings; }
  Execution execution() const override { return Execution::kInteger; }
  std::string describe(const LayerPlan& p) const override {
    std::string s = Scheme::describe(p);
    s += p.weight_granularity == Granularity::kPerChannel ? " per-channel" : " per-tensor";
    if (!p.weight_symmetric) s += " asymmetric";
    const auto& o = p.get<UniformOptions>();
    if (o.weights || o.activations) s += std::string(" trained grid (") + (o.weights ? "weights" : "") +
                                          (o.weights && o.activations ? ", " : "") + (o.activations ? "activations" : "") + ")";
    if (!o.weights && o.weight_clip == WeightClip::kMse) s += " wclip=mse";
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
    if (o.weights && o.weight_clip != WeightClip::kMax)
      fail(where + ": 'weight_clip'", "a trained weight grid is not scaled: leave weight_clip at max");
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
