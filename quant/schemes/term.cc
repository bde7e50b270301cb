// term: term quantization / term revealing (quant/terms.h). Weights follow
// the papers' quantizer (symmetric, scale = max|w| / 2^(b-1), magnitude =
// min(round_half_away(|w| / scale), 2^b - 1); b = weight_bits magnitude bits,
// per tensor or per channel) and keep `budget` terms per group of `group`
// values along the reduction axis; activations get `activation_bits`
// magnitude bits (plus a sign when they can be negative) and keep their
// `activation_terms` largest terms (or `activation_budget` per group of
// `activation_group`). Cost: (k / g) x s term pairs per MAC.
#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/scheme.h"

namespace bitlane::quant {
namespace {

const char* const kEncodings[] = {"binary", "hese", nullptr};

bool grouped(const LayerPlan& p) { return p.get<TermOptions>().activation_group > 1; }

const Setting kSettings[] = {
    choice_setting<&TermOptions::encoding>("encoding", "enc", kEncodings),
    int_setting<&TermOptions::group>("group", "g", 1, 4096),
    int_setting<&TermOptions::budget>("budget", "k", 0, 4096),
    int_setting<&TermOptions::activation_terms>("activation_terms", "s", 0, 4096),
    listed_if(int_setting<&TermOptions::activation_group>("activation_group", "ga", 1, 4096), grouped),
    listed_if(int_setting<&TermOptions::activation_budget>("activation_budget", "ka", 0, 4096), grouped),
};

int ceil_log2(int64_t x) {
  int r = 0;
  while ((int64_t{1} << r) < x) ++r;
  return r;
}

// Each value keeps its own s largest terms, by table.
class ValueTruncation final : public ActivationTransformBase<ValueTruncation> {
 public:
  ValueTruncation(int bits, int s, TermEncoding e) : table_(bits, s, e) {}
  template <typename T>
  int64_t run(T* data, const ActivationLayout& l, int64_t*) const {
    const int64_t n = l.height * l.width * l.channels;
    for (int64_t it = 0; it < l.items; ++it) {
      T* item = data + it * l.item_stride;
      for (int64_t i = 0; i < n; ++i) {
        const int32_t v = item[i];
        const int32_t t = table_.value[static_cast<size_t>(v < 0 ? -v : v)];
        item[i] = static_cast<T>(v < 0 ? -t : t);
      }
    }
    return 0;
  }

 private:
  TruncationTable table_;
};

// Groups of `group` channels at each position keep `budget` terms.
class GroupTruncation final : public ActivationTransformBase<GroupTruncation> {
 public:
  GroupTruncation(int bits, TermEncoding e, int group, int budget)
      : truncator_(bits, e), group_(group), budget_(budget) {}
  template <typename T>
  int64_t run(T* data, const ActivationLayout& l, int64_t*) const {
    const int64_t positions = l.height * l.width, ch = l.channels;
    for (int64_t it = 0; it < l.items; ++it) {
      T* item = data + it * l.item_stride;
      for (int64_t p = 0; p < positions; ++p)
        for (int64_t c0 = 0; c0 < ch; c0 += group_)
          truncator_.apply(item + p * ch + c0, static_cast<int>(std::min<int64_t>(group_, ch - c0)), budget_);
    }
    return 0;
  }

 private:
  GroupTruncator truncator_;
  int group_, budget_;
};

class TermScheme final : public Scheme {
 public:
  const char* name() const override { return "term"; }
  SchemeOptions defaults() const override { return TermOptions{}; }
  std::span<const Setting> settings() const override { return kSettings; }
  Execution execution() const override { return Execution::kInteger; }

  void finish(LayerPlan& p, const std::string&) const override {
    TermOptions& t = p.get<TermOptions>();
    if (t.activation_group <= 1) {  // per value: the group settings mean nothing
      t.activation_group = 1;
      t.activation_budget = 0;
    } else if (t.activation_budget == 0) {
      t.activation_budget = t.activation_terms * t.activation_group;
    }
  }

  std::string describe(const LayerPlan& p) const override {
    const TermOptions& t = p.get<TermOptions>();
    std::string s = Scheme::describe(p) + " " + kEncodings[static_cast<int>(t.encoding)] + " g" +
                    std::to_string(t.group) + " k" + std::to_string(t.budget) + " s" +
                    std::to_string(t.activation_terms);
    if (t.activation_group > 1)
      s += " ga" + std::to_string(t.activation_group) + " ka" + std::to_string(t.activation_budget);
    return s + " " + calibration_name(p.calibration);
  }

  // The papers' weight quantizer, with magnitudes then truncated to k terms per group.
  QuantizedWeights quantize_weights(const float* w, int64_t rows, int64_t cols, int64_t segment,
                                    const LayerPlan& plan) const override {
    const TermOptions& t = plan.get<TermOptions>();
    const int b = plan.weight_bits;
    if (segment <= 0) segment = cols;
    QuantizedWeights out;
    out.rows = rows;
    out.cols = cols;
    out.q.resize(static_cast<size_t>(rows * cols));
    out.affine.resize(static_cast<size_t>(rows));
    out.row_sum.assign(static_cast<size_t>(rows), 0);
    // max|w| maps to 2^(b-1), so magnitudes stay <= 2^(b-1), and truncation
    // never exceeds a value's top digit (HESE digits alternate in sign with
    // falling exponents): b + 1 signed bits hold every kept weight.
    out.format = {b + 1, true};
    const bool per_channel = plan.weight_granularity == Granularity::kPerChannel;
    auto max_abs = [&](int64_t r0, int64_t r1) {
      float m = 0.f;
      for (int64_t i = r0 * cols; i < r1 * cols; ++i) m = std::max(m, std::abs(w[i]));
      return m;
    };
    const float tensor_max = per_channel ? 0.f : max_abs(0, rows);
    std::vector<int32_t> q(static_cast<size_t>(cols)), kept(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      const float m = per_channel ? max_abs(r, r + 1) : tensor_max;
      Affine a;
      a.format = out.format;
      a.scale = m > 0 ? m / static_cast<float>(int64_t{1} << (b - 1)) : 1.f;
      out.affine[static_cast<size_t>(r)] = a;
      const float limit = static_cast<float>((int64_t{1} << b) - 1);
      for (int64_t c = 0; c < cols; ++c) {
        const float x = w[r * cols + c];
        const float mag = std::min(std::round(std::abs(x) / a.scale), limit);  // std::round: half away from zero
        q[static_cast<size_t>(c)] = static_cast<int32_t>(x < 0 ? -mag : mag);
      }
      // Groups of `group` along each segment (short last groups are zero-padded).
      for (int64_t s0 = 0; s0 < cols; s0 += segment) {
        const int64_t len = std::min(segment, cols - s0);
        truncate_rows(std::span<const int32_t>(q).subspan(static_cast<size_t>(s0), static_cast<size_t>(len)), 1, len,
                      t.group, t.budget, t.encoding,
                      std::span<int32_t>(kept).subspan(static_cast<size_t>(s0), static_cast<size_t>(len)));
      }
      int64_t sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        out.q[static_cast<size_t>(r * cols + c)] = static_cast<int16_t>(kept[static_cast<size_t>(c)]);
        sum += kept[static_cast<size_t>(c)];
      }
      out.row_sum[static_cast<size_t>(r)] = sum;
    }
    return out;
  }

  swar::IntFormat activation_storage(const Affine& a, const LayerPlan& p) const override {
    // A HESE truncation can round 2^b - 1 up to 2^b: one more bit.
    if (p.get<TermOptions>().encoding == TermEncoding::kHese) return {a.format.bits + 1, a.format.is_signed};
    return a.format;
  }

  std::shared_ptr<const ActivationTransform> transform(const LayerPlan& p, const Affine&) const override {
    const TermOptions& t = p.get<TermOptions>();
    if (t.activation_group > 1)
      return std::make_shared<GroupTruncation>(p.activation_bits, t.encoding, t.activation_group,
                                               t.activation_budget);
    return std::make_shared<ValueTruncation>(p.activation_bits, t.activation_terms, t.encoding);
  }

  TermEncoding cost_encoding(const LayerPlan& p) const override { return p.get<TermOptions>().encoding; }

  // Terms per activation value: s, or ka / ga with activation groups.
  static double terms_per_value(const TermOptions& t) {
    return t.activation_group > 1 ? static_cast<double>(t.activation_budget) / t.activation_group
                                  : t.activation_terms;
  }

  double pairs_per_mac(const LayerPlan& p, double) const override {
    const TermOptions& t = p.get<TermOptions>();
    return static_cast<double>(t.budget) / t.group * terms_per_value(t);
  }

  // The kept terms as a list (sign, exponent, index in the group), or the
  // truncated values stored plainly (magnitude + sign), whichever is
  // smaller: a tight budget makes the list win, a loose one the values.
  double weight_bits_per_param(const LayerPlan& p) const override {
    const TermOptions& t = p.get<TermOptions>();
    const int per_term = 1 + ceil_log2(p.weight_bits + 2) + ceil_log2(t.group);
    return std::min(static_cast<double>(t.budget) * per_term / t.group, p.weight_bits + 1.0);
  }

  // A weight group of g values in k x s term-pair cycles, every group alike
  // (with activation groups: k x ka / ga pairs on average).
  PeWork pe_work(const LayerPlan& p, UniformPe, double) const override {
    const TermOptions& t = p.get<TermOptions>();
    PeWork s;
    s.kind = "term";
    s.values = t.group;
    s.cycles = std::max(1.0, t.budget * terms_per_value(t));
    s.bit_cycles = s.cycles;
    s.weight_bits = p.weight_bits;
    s.activation_bits = p.activation_bits;
    return s;
  }
};

}  // namespace

const Scheme& term_scheme() {
  static const TermScheme s;
  return s;
}

}  // namespace bitlane::quant
