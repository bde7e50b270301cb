// Elementwise activations: relu, relu6, clip(min, max), sigmoid, tanh, and
// identity (also dropout, which is the identity at inference).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

template <class F>
class Unary : public Op {
 public:
  Unary(OpBuilder& b, const char* type, F f) : where_(b.where()), type_(type), f_(f) {}
  const char* type() const override { return type_; }
  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    return {in[0]};
  }
  ChannelsLast channels_last() const override { return ChannelsLast::kFollows; }  // elementwise
  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const float* x = in[0]->f32();
    float* y = out[0]->f32();
    for (int64_t i = 0; i < in[0]->size(); ++i) y[i] = f_(x[i]);
    out[0]->set_layout(in[0]->layout());
  }

 private:
  std::string where_;
  const char* type_;
  F f_;
};

template <class F>
std::unique_ptr<Op> unary(OpBuilder& b, const char* type, F f) {
  return std::make_unique<Unary<F>>(b, type, f);
}

// Identity passes int32 tensors through as well.
class Identity : public Op {
 public:
  explicit Identity(OpBuilder& b) : where_(b.where()) {}
  const char* type() const override { return "identity"; }
  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    return {in[0]};
  }
  DType output_dtype(const std::vector<DType>& in) const override { return in[0]; }
  bool accepts(const std::vector<DType>&) const override { return true; }
  ChannelsLast channels_last() const override { return ChannelsLast::kFollows; }
  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    std::memcpy(out[0]->i32(), in[0]->i32(), static_cast<size_t>(in[0]->size()) * 4);
    out[0]->set_layout(in[0]->layout());
  }

 private:
  std::string where_;
};

}  // namespace

std::unique_ptr<Op> make_relu(OpBuilder& b) {
  return unary(b, "relu", [](float x) { return x > 0.f ? x : 0.f; });
}
std::unique_ptr<Op> make_relu6(OpBuilder& b) {
  return unary(b, "relu6", [](float x) { return std::clamp(x, 0.f, 6.f); });
}
std::unique_ptr<Op> make_clip(OpBuilder& b) {
  const float lo = static_cast<float>(b.get_float("min", -INFINITY));
  const float hi = static_cast<float>(b.get_float("max", INFINITY));
  if (!(lo <= hi)) b.error("min", "must not exceed max");
  return unary(b, "clip", [lo, hi](float x) { return std::clamp(x, lo, hi); });
}
std::unique_ptr<Op> make_sigmoid(OpBuilder& b) {
  return unary(b, "sigmoid", [](float x) { return 1.f / (1.f + std::exp(-x)); });
}
std::unique_ptr<Op> make_tanh(OpBuilder& b) {
  return unary(b, "tanh", [](float x) { return std::tanh(x); });
}
std::unique_ptr<Op> make_identity(OpBuilder& b) { return std::make_unique<Identity>(b); }

}  // namespace bitlane::ops
