// flatten (axis 1: [N, ...] -> [N, rest]) and reshape (target shape without
// the batch axis, one -1 allowed).
#include <algorithm>
#include <cstring>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Reshape : public Op {
 public:
  Reshape(OpBuilder& b, bool flatten) : where_(b.where()), flatten_(flatten) {
    if (flatten) {
      if (b.get_int("axis", 1) != 1) b.error("axis", "only axis 1 (keep the batch axis) is supported");
    } else {
      shape_ = b.get_ints("shape", {});
      if (!b.has("shape")) b.error("shape", "is required");
      int unknown = 0;
      for (int64_t d : shape_) {
        if (d == -1) ++unknown;
        else if (d < 1) b.error("shape", "dimensions must be positive or a single -1");
      }
      if (unknown > 1) b.error("shape", "at most one dimension may be -1");
    }
  }
  const char* type() const override { return flatten_ ? "flatten" : "reshape"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    if (in[0].empty()) fail(where_, "input has no batch axis");
    const int64_t n = in[0][0];
    const int64_t per_item = n ? numel(in[0]) / n : 0;
    if (flatten_) return {{n, per_item}};
    Shape o{n};
    int64_t known = 1, at = -1;
    for (size_t i = 0; i < shape_.size(); ++i) {
      if (shape_[i] == -1) at = static_cast<int64_t>(i) + 1;
      else known *= shape_[i];
      o.push_back(shape_[i]);
    }
    if (at >= 0) {
      if (known == 0 || per_item % known)
        fail(where_, "cannot reshape input shape " + shape_str(in[0]) + " to " + shape_str(shape_));
      o[static_cast<size_t>(at)] = per_item / known;
    } else if (known != per_item) {
      fail(where_, "cannot reshape input shape " + shape_str(in[0]) + " (" + std::to_string(per_item) +
                       " values per item) to " + shape_str(shape_));
    }
    return {o};
  }
  DType output_dtype(const std::vector<DType>& in) const override { return in[0]; }
  bool accepts(const std::vector<DType>&) const override { return true; }

  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Tensor& x = *in[0];
    const size_t es = dtype_size(x.dtype());
    if (x.layout() == Layout::kChannelsLast) {  // integers from a convolution: back to NCHW order
      const int64_t n = x.dim(0), c = x.dim(1), hw = x.size() / std::max<int64_t>(1, n * c);
      auto reorder = [&](const auto* src, auto* dst) {
        for (int64_t b = 0; b < n; ++b)
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < hw; ++p) dst[(b * c + ch) * hw + p] = src[(b * hw + p) * c + ch];
      };
      if (es == 1) reorder(x.as<uint8_t>(), out[0]->as<uint8_t>());
      else if (es == 2) reorder(x.as<int16_t>(), out[0]->as<int16_t>());
      else reorder(x.as<int32_t>(), out[0]->as<int32_t>());
      return;
    }
    std::memcpy(out[0]->data(), x.data(), static_cast<size_t>(x.size()) * es);
  }

  // A flatten reads channels-last images too (and reorders them).
  ChannelsLast channels_last() const override { return flatten_ ? ChannelsLast::kChooses : ChannelsLast::kNo; }

  // Integers pass through: a flatten reorders channels-last images into the
  // NCHW order of its output; a reshape of rows keeps them as they are.
  std::optional<QuantizedHandover> passes_through(const QuantizedHandover& out,
                                                  const std::vector<Shape>& in) const override {
    if (out.layout != Layout::kAsShape) return std::nullopt;
    QuantizedHandover h = out;
    if (in[0].size() == 4) {
      if (!flatten_) return std::nullopt;
      h.layout = Layout::kChannelsLast;
    }
    return h;
  }

 private:
  std::string where_;
  bool flatten_;
  std::vector<int64_t> shape_;
};

}  // namespace

std::unique_ptr<Op> make_flatten(OpBuilder& b) { return std::make_unique<Reshape>(b, true); }
std::unique_ptr<Op> make_reshape(OpBuilder& b) { return std::make_unique<Reshape>(b, false); }

}  // namespace bitlane::ops
