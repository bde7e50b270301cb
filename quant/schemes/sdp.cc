// sdp: structured dynamic precision (quant/sdp.h). Uniform weights; 8-bit
// activation magnitudes (plus a sign) whose 4-bit parts are kept `keep` per
// group of `group` values at run time. Cost: b_w x 4 x K / G term pairs per
// MAC; on the array, a group of G in K part-product cycles.
#include <algorithm>

#include "quant/scheme.h"
#include "quant/sdp.h"
#include "quant/sdp_kernels.h"

namespace bitlane::quant {
namespace {

const Setting kSettings[] = {
    int_setting<&SdpOptions::group>("sdp_group", "sdp_g", 1, 4096),
    int_setting<&SdpOptions::keep>("sdp_keep", "sdp_k", 0, 4096),
};

class PartSelection final : public ActivationTransformBase<PartSelection> {
 public:
  PartSelection(int group, int keep) : group_(group), keep_(keep) {}
  template <typename T>
  int64_t run(T* data, const ActivationLayout& l, int64_t*) const {
    const int64_t positions = l.height * l.width, ch = l.channels;
    for (int64_t it = 0; it < l.items; ++it) {
      T* item = data + it * l.item_stride;
      if (group_ == 4 && ch % 4 == 0) {  // the vectorized common case, all positions at once
        detail::sdp_groups4(item, static_cast<size_t>(positions * ch / 4), keep_);
        continue;
      }
      for (int64_t p = 0; p < positions; ++p)
        for (int64_t c0 = 0; c0 < ch; c0 += group_)
          sdp_truncate(item + p * ch + c0, static_cast<int>(std::min<int64_t>(group_, ch - c0)), keep_);
    }
    return 0;
  }

 private:
  int group_, keep_;
};

class SdpScheme final : public Scheme {
 public:
  const char* name() const override { return "sdp"; }
  SchemeOptions defaults() const override { return SdpOptions{}; }
  std::span<const Setting> settings() const override { return kSettings; }
  Execution execution() const override { return Execution::kInteger; }
  // SDP splits 8-bit magnitudes into two 4-bit parts.
  void finish(LayerPlan& p, const std::string&) const override { p.activation_bits = 8; }
  std::string describe(const LayerPlan& p) const override {
    const SdpOptions& o = p.get<SdpOptions>();
    return Scheme::describe(p) + " G" + std::to_string(o.group) + " K" + std::to_string(o.keep) + " " +
           calibration_name(p.calibration);
  }
  std::shared_ptr<const ActivationTransform> transform(const LayerPlan& p, const Affine&) const override {
    const SdpOptions& o = p.get<SdpOptions>();
    return std::make_shared<PartSelection>(o.group, o.keep);
  }
  double pairs_per_mac(const LayerPlan& p, double) const override {
    const SdpOptions& o = p.get<SdpOptions>();
    return static_cast<double>(p.weight_bits) * 4.0 * o.keep / o.group;
  }
  // K kept parts of a group of G, one 4-bit part x b_w-bit weight per cycle.
  PeWork pe_work(const LayerPlan& p, UniformPe, double) const override {
    const SdpOptions& o = p.get<SdpOptions>();
    PeWork s;
    s.kind = "SDP part";
    s.values = o.group;
    s.cycles = std::max(1, o.keep);
    s.mac8 = 4.0 * p.weight_bits / 64 * s.cycles;
    s.weight_bits = p.weight_bits;
    s.activation_bits = p.activation_bits;
    return s;
  }
};

}  // namespace

const Scheme& sdp_scheme() {
  static const SdpScheme s;
  return s;
}

}  // namespace bitlane::quant
