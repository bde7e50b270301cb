// batch_norm: y = (x - mean) / sqrt(var + epsilon) * scale + bias per channel
// (axis 1). Models normally never run it: loading folds it into the conv or
// dense layer before it (runtime/model.cc); this op serves the other cases.
#include <cmath>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class BatchNorm : public Op {
 public:
  explicit BatchNorm(OpBuilder& b) : where_(b.where()) {
    auto scale = b.weight("scale"), bias = b.weight("bias"), mean = b.weight("mean"), var = b.weight("var");
    const double eps = b.get_float("epsilon", 1e-5);
    if (!(eps >= 0)) b.error("epsilon", "must be non-negative");
    c_ = scale->size();
    for (auto [t, k] : {std::pair{bias, "bias"}, {mean, "mean"}, {var, "var"}})
      if (t->rank() != 1 || t->size() != c_)
        b.error(k, "must have shape [" + std::to_string(c_) + "], got " + shape_str(t->shape()));
    for (int64_t c = 0; c < c_; ++c) {
      if (var->f32()[c] + eps <= 0) b.error("var", "variance plus epsilon must be positive");
      const float inv = scale->f32()[c] / std::sqrt(var->f32()[c] + static_cast<float>(eps));
      mul_.push_back(inv);
      add_.push_back(bias->f32()[c] - mean->f32()[c] * inv);
    }
  }
  const char* type() const override { return "batch_norm"; }
  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    if (in[0].size() < 2 || in[0][1] != c_)
      fail(where_, "input shape " + shape_str(in[0]) + " does not have " + std::to_string(c_) +
                       " channels on axis 1");
    return {in[0]};
  }
  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Shape& s = in[0]->shape();
    int64_t inner = 1;
    for (size_t i = 2; i < s.size(); ++i) inner *= s[i];
    for (int64_t n = 0; n < s[0]; ++n)
      for (int64_t c = 0; c < c_; ++c) {
        const float* x = in[0]->f32() + (n * c_ + c) * inner;
        float* y = out[0]->f32() + (n * c_ + c) * inner;
        for (int64_t i = 0; i < inner; ++i) y[i] = x[i] * mul_[static_cast<size_t>(c)] + add_[static_cast<size_t>(c)];
      }
  }

 private:
  std::string where_;
  int64_t c_ = 0;
  std::vector<float> mul_, add_;
};

}  // namespace

std::unique_ptr<Op> make_batch_norm(OpBuilder& b) { return std::make_unique<BatchNorm>(b); }

}  // namespace bitlane::ops
