// dense: y = x W^T + b over the last axis. W is [out, in] (torch.nn.Linear).
#include "core/executor.h"
#include <cmath>

#include "ops/exp_matmul.h"
#include "ops/factories.h"
#include "ops/fused_activation.h"
#include "ops/kernels/gemm_f32.h"
#include "ops/quantized_matmul.h"
#include "ops/shape_check.h"
#include "quant/calibration.h"

namespace bitlane::ops {
namespace {

class Dense : public Op {
 public:
  explicit Dense(OpBuilder& b) : where_(b.where()) {
    w_ = b.weight("weight");
    bias_ = b.optional_weight("bias");
    if (w_->rank() != 2) b.error("weight", "must be [out, in], got " + shape_str(w_->shape()));
    out_ = w_->dim(0);
    in_ = w_->dim(1);
    if (bias_ && bias_->shape() != Shape{out_})
      b.error("bias", "must be [" + std::to_string(out_) + "], got " + shape_str(bias_->shape()));
    packed_ = PackedF32::pack(w_->f32(), out_, in_);
    activation_ = parse_activation(b);
  }
  const char* type() const override { return "dense"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    const Shape& s = in[0];
    if (s.size() < 2 || s.back() != in_)
      fail(where_, "input shape " + shape_str(s) + " does not match weight shape " +
                       shape_str(w_->shape()) + " (last axis must be " + std::to_string(in_) + ")");
    Shape o = s;
    o.back() = out_;
    return {o};
  }

  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const int64_t rows = in[0]->size() / in_;
    const float* b = bias_ ? bias_->f32() : nullptr;
    if (em_.ready())
      em_.run(in[0]->f32(), rows, in_, out[0]->f32(), out_, ctx);
    else if (qm_.ready())
      qm_.run(in[0]->f32(), rows, in_, out[0]->f32(), out_, ctx);
    else
      gemm_f32(in[0]->f32(), rows, in_, packed_, b, out[0]->f32(), out_, ctx.ex);
    apply_activation(activation_, out[0]->f32(), out[0]->size());
  }

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                const quant::RangeStats&) override {
    plan_ = plan;
    qm_ = QuantizedMatmul();
    em_ = ExpMatmul();
    const float* bias = bias_ ? bias_->f32() : nullptr;
    if (plan.scheme().execution() == quant::Execution::kExponent) {
      em_.prepare(w_->f32(), out_, in_, bias, plan, input.samples());
    } else if (plan.quantized()) {
      const auto [lo, hi] = input.choose(plan);
      qm_.prepare(w_->f32(), out_, in_, bias, plan, plan.scheme().activation_affine(lo, hi, plan));
    }
  }
  double weight_bits() const override {
    return em_.ready() ? em_.bits() : plan_.scheme().weight_bits_per_param(plan_);
  }
  const quant::LayerPlan* plan() const override { return &plan_; }

  OpCost cost(const std::vector<Shape>& in) const override {
    const double rows = static_cast<double>(numel(in[0]) / in[0][0] / in_);
    return {rows * static_cast<double>(in_ * out_), in_ * out_ + (bias_ ? out_ : 0), in_,
            static_cast<int64_t>(rows) * out_, in_ * out_};
  }
  std::vector<GemmShape> gemms(const std::vector<Shape>& in) const override {
    return {{numel(in[0]) / in[0][0] / in_, out_, in_, 1}};
  }
  int64_t weight_bytes() const override {
    return static_cast<int64_t>(std::ceil(static_cast<double>(in_ * out_) * weight_bits() / 8));
  }

 private:
  std::string where_;
  std::shared_ptr<const Tensor> w_, bias_;
  int64_t in_ = 0, out_ = 0;
  PackedF32 packed_;
  QuantizedMatmul qm_;
  ExpMatmul em_;
  quant::LayerPlan plan_;
  Activation activation_ = Activation::kNone;
};

}  // namespace

std::unique_ptr<Op> make_dense(OpBuilder& b) { return std::make_unique<Dense>(b); }

}  // namespace bitlane::ops
