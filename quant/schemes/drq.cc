// drq: DRQ-style region precision (quant/drq.h). Uniform weights; 8-bit
// activation magnitudes (plus a sign), rounded to 4 bits in regions whose
// mean stays below the threshold. Cost: b_w x (8 f + 4 (1 - f)) term pairs
// per MAC with f the sensitive share; on the array, bit-serial data.
#include <cmath>
#include <cstdio>

#include "quant/drq.h"
#include "quant/scheme.h"

namespace bitlane::quant {
namespace {

const char* unit_interval(double v) { return v >= 0 && v <= 1 ? nullptr : "must lie in [0, 1]"; }

const Setting kSettings[] = {
    int_setting<&DrqOptions::region>("drq_region", "drq_r", 1, 4096),
    number_setting<&DrqOptions::threshold>("drq_threshold", "drq_t", unit_interval),
};

class RegionPrecision final : public ActivationTransformBase<RegionPrecision> {
 public:
  explicit RegionPrecision(DrqRegions r) : r_(r) {}
  template <typename T>
  int64_t run(T* data, const ActivationLayout& l, int64_t* regions) const {
    return drq_apply(data, l.items, l.height, l.width, l.channels, l.item_stride, r_, regions);
  }

 private:
  DrqRegions r_;
};

class DrqScheme final : public Scheme {
 public:
  const char* name() const override { return "drq"; }
  SchemeOptions defaults() const override { return DrqOptions{}; }
  std::span<const Setting> settings() const override { return kSettings; }
  Execution execution() const override { return Execution::kInteger; }
  // 8 bits, or 4 in insensitive regions.
  void finish(LayerPlan& p, const std::string&) const override { p.activation_bits = 8; }
  std::string describe(const LayerPlan& p) const override {
    const DrqOptions& o = p.get<DrqOptions>();
    char buf[64];
    std::snprintf(buf, sizeof(buf), " region %d threshold %g", o.region, o.threshold);
    return Scheme::describe(p) + buf + " " + calibration_name(p.calibration);
  }
  std::shared_ptr<const ActivationTransform> transform(const LayerPlan& p, const Affine& a) const override {
    const DrqOptions& o = p.get<DrqOptions>();
    const int64_t qmax = (int64_t{1} << a.format.bits) - 1;
    return std::make_shared<RegionPrecision>(
        DrqRegions{o.region, static_cast<int64_t>(std::ceil(o.threshold * static_cast<double>(qmax)))});
  }
  double pairs_per_mac(const LayerPlan& p, double f) const override {
    return p.weight_bits * (8.0 * f + 4.0 * (1 - f));
  }
  // Bit-serial data: 8 cycles in sensitive regions, 4 elsewhere.
  PeWork pe_work(const LayerPlan& p, UniformPe, double f) const override {
    PeWork s;
    s.kind = "DRQ serial data";
    s.cycles = 8 * f + 4 * (1 - f);
    s.bit_cycles = p.weight_bits * s.cycles;
    s.weight_bits = p.weight_bits;
    s.activation_bits = p.activation_bits;
    return s;
  }
};

}  // namespace

const Scheme& drq_scheme() {
  static const DrqScheme s;
  return s;
}

}  // namespace bitlane::quant
