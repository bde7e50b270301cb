// dense: y = x W^T + b over the last axis. W is [out, in] (torch.nn.Linear).
#include <cmath>
#include <cstring>

#include "core/executor.h"
#include "core/lazy.h"

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
    if (qm_.ready()) {
      const MatmulDest dest = out_q_ ? int_dest(*out[0]) : MatmulDest::rows(out[0]->f32(), out_);
      if (in[0]->dtype() == DType::kF32)
        qm_.run(in[0]->f32(), rows, in_, dest, activation_, ctx);
      else
        run_from_integers(*in[0], rows, dest, ctx);
      return;
    }
    if (em_.ready()) {
      em_.run(in[0]->f32(), rows, in_, out[0]->f32(), out_, ctx);
      apply_activation(activation_, out[0]->f32(), out[0]->size());
      return;
    }
    gemm_f32(in[0]->f32(), rows, in_, float_weights(), b, out[0]->f32(), out_, ctx.ex, {nullptr, 0, activation_});
  }

  void prepare_to_run() override {
    if (!qm_.ready() && !em_.ready()) float_weights();
    else packed_.reset();
  }
  void release_reference_weights() override { qm_.release_reference_weights(); }

  std::string kernel() const override {
    if (qm_.ready()) return qm_.kernel();
    return em_.ready() ? "exponent" : "";
  }
  DType output_dtype(const std::vector<DType>&) const override { return out_q_ ? out_q_->type : DType::kF32; }
  std::optional<QuantizedHandover> quantized_input(int input) const override {
    if (!qm_.ready() || input != 0) return std::nullopt;
    return QuantizedHandover{qm_.activation(), qm_.storage_type(), Layout::kAsShape};
  }
  bool can_emit_quantized(int) const override { return qm_.ready(); }
  void emit_quantized(int, const QuantizedHandover& h) override { out_q_ = h; }

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                const quant::RangeStats&) override {
    plan_ = plan;
    qm_ = QuantizedMatmul();
    em_ = ExpMatmul();
    out_q_.reset();
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
  Lazy<PackedF32> packed_;  // the float path's weights (float_weights)
  QuantizedMatmul qm_;
  ExpMatmul em_;
  quant::LayerPlan plan_;
  Activation activation_ = Activation::kNone;
  std::optional<QuantizedHandover> out_q_;  // integer output for the next layer

  const PackedF32& float_weights() const {
    return packed_.get([&] { return PackedF32::pack(w_->f32(), out_, in_); });
  }

  MatmulDest int_dest(Tensor& y) const {
    MatmulDest d;
    d.kind = MatmulDest::Kind::kInt;
    d.data = y.data();
    d.ld = out_;
    d.type = out_q_->type;
    d.grid = out_q_->grid;
    return d;
  }

  // Rows on this layer's grid from the previous layer: the GEMM reads them
  // as they are, or per task through the scheme's transform.
  void run_from_integers(const Tensor& x, int64_t rows, const MatmulDest& dest, const RunContext& ctx) const {
    const swar::ElemType et = x.dtype() == DType::kU8   ? swar::ElemType::kU8
                              : x.dtype() == DType::kI8 ? swar::ElemType::kI8
                                                        : swar::ElemType::kI16;
    const swar::MatrixView v{x.data(), et, static_cast<size_t>(rows), static_cast<size_t>(in_),
                             static_cast<size_t>(in_)};
    if (!qm_.has_transform()) {
      qm_.run_quantized(v, dest, activation_, ctx);
      return;
    }
    struct Source {
      const Dense* self;
      const Tensor* x;
      LayerStats* stats;
    } src{this, &x, ctx.stats};
    swar::ActivationRows r;
    r.type = et;
    r.rows = static_cast<size_t>(rows);
    r.cols = static_cast<size_t>(in_);
    r.ctx = &src;
    r.produce = [](void* c, size_t r0, size_t r1, void* dst, size_t stride) {
      auto* s = static_cast<Source*>(c);
      const size_t es = dtype_size(s->x->dtype()), in = static_cast<size_t>(s->self->in_);
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = r0; i < r1; ++i) {
        uint8_t* row = d + (i - r0) * stride * es;
        std::memcpy(row, static_cast<const uint8_t*>(s->x->data()) + i * in * es, in * es);
        std::memset(row + in * es, 0, (stride - in) * es);
      }
      const quant::ActivationLayout layout{static_cast<int64_t>(r1 - r0), 1, 1, static_cast<int64_t>(in),
                                           static_cast<int64_t>(stride)};
      int64_t regions = 0, sensitive = 0;
      switch (s->x->dtype()) {
        case DType::kU8: sensitive = s->self->qm_.transform(d, layout, &regions); break;
        case DType::kI8: sensitive = s->self->qm_.transform(reinterpret_cast<int8_t*>(d), layout, &regions); break;
        default: sensitive = s->self->qm_.transform(reinterpret_cast<int16_t*>(d), layout, &regions);
      }
      if (s->stats) {
        s->stats->regions += regions;
        s->stats->sensitive += sensitive;
      }
    };
    qm_.run_rows(r, dest, activation_, ctx);
  }
};

}  // namespace

std::unique_ptr<Op> make_dense(OpBuilder& b) { return std::make_unique<Dense>(b); }

}  // namespace bitlane::ops
