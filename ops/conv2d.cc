// conv2d: NCHW convolution with stride, padding [top, left, bottom, right],
// dilation and groups (depthwise when groups == channels). Lowered to GEMM:
// im2col rows (n, oh, ow) x columns (c, kh, kw) times W [Cout, Cin/g, kh, kw].
// Quantized, the input is quantized once and im2col runs on the integers,
// padding with the integer that stands for 0.
#include <algorithm>

#include "core/executor.h"
#include "swar/int_format.h"
#include "ops/factories.h"
#include "ops/kernels/gemm_f32.h"
#include "ops/quantized_matmul.h"
#include "ops/shape_check.h"
#include "quant/calibration.h"

namespace bitlane::ops {
namespace {

struct Geometry {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

// Patch matrix of images [n0, n1) and channel group [c0, c0 + cg): row
// (n, y, x), column (c, i, j), matching the weight layout [Cout, Cin/g, kh, kw].
// Rows are `ld` >= K elements apart; the elements after K are zero.
template <typename T>
void im2col(const T* x, const Geometry& geo, int64_t n0, int64_t n1, int64_t c0, int64_t cg, T pad,
            T* cols, int64_t ld) {
  // Locals, not geo's fields: stores to `cols` could alias them otherwise.
  const int64_t h = geo.h, w = geo.w, kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw;
  const int64_t dh = geo.dh, dw = geo.dw, pt = geo.pt, pl = geo.pl, oh = geo.oh, ow = geo.ow;
  const int64_t k = cg * kh * kw;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T* row = cols + (((n - n0) * oh + oy) * ow + ox) * ld;
        for (int64_t i = k; i < ld; ++i) row[i] = T{0};
        const int64_t x0 = ox * sw - pl;
        // Columns j with 0 <= x0 + j*dw < w, computed once per row.
        int64_t j0 = 0, j1 = kw;
        while (j0 < kw && x0 + j0 * dw < 0) ++j0;
        while (j1 > j0 && x0 + (j1 - 1) * dw >= w) --j1;
        for (int64_t c = 0; c < cg; ++c) {
          const T* plane = x + (n * geo.c + c0 + c) * h * w;
          for (int64_t i = 0; i < kh; ++i, row += kw) {
            const int64_t y = oy * sh - pt + i * dh;
            if (y < 0 || y >= h) {
              for (int64_t j = 0; j < kw; ++j) row[j] = pad;
              continue;
            }
            const T* src = plane + y * w + x0;
            for (int64_t j = 0; j < j0; ++j) row[j] = pad;
            if (dw == 1) {
              for (int64_t j = j0; j < j1; ++j) row[j] = src[j];
            } else {
              for (int64_t j = j0; j < j1; ++j) row[j] = src[j * dw];
            }
            for (int64_t j = j1; j < kw; ++j) row[j] = pad;
          }
        }
      }
}

class Conv2d : public Op {
 public:
  explicit Conv2d(OpBuilder& b) : where_(b.where()) {
    w_ = b.weight("weight");
    bias_ = b.optional_weight("bias");
    if (w_->rank() != 4) b.error("weight", "must be [Cout, Cin/groups, kh, kw], got " + shape_str(w_->shape()));
    groups_ = b.get_int("groups", 1);
    stride_ = b.get_ints("stride", {1, 1});
    dilation_ = b.get_ints("dilation", {1, 1});
    padding_ = b.get_ints("padding", {0, 0, 0, 0});
    if (padding_.size() == 2) padding_ = {padding_[0], padding_[1], padding_[0], padding_[1]};
    if (stride_.size() != 2 || stride_[0] < 1 || stride_[1] < 1) b.error("stride", "must be two positive integers");
    if (dilation_.size() != 2 || dilation_[0] < 1 || dilation_[1] < 1) b.error("dilation", "must be two positive integers");
    if (padding_.size() != 4 || *std::min_element(padding_.begin(), padding_.end()) < 0)
      b.error("padding", "must be [top, left, bottom, right] of non-negative integers");
    cout_ = w_->dim(0);
    if (groups_ < 1 || cout_ % groups_) b.error("groups", "must divide the output channels " + std::to_string(cout_));
    if (bias_ && bias_->shape() != Shape{cout_})
      b.error("bias", "must be [" + std::to_string(cout_) + "], got " + shape_str(bias_->shape()));
    const int64_t cog = cout_ / groups_, k = w_->dim(1) * w_->dim(2) * w_->dim(3);
    for (int64_t g = 0; g < groups_; ++g) packed_.push_back(PackedF32::pack(w_->f32() + g * cog * k, cog, k));
  }
  const char* type() const override { return "conv2d"; }

  Geometry geometry(const Shape& s) const {
    Geometry g{};
    g.n = s[0]; g.c = s[1]; g.h = s[2]; g.w = s[3];
    g.kh = w_->dim(2); g.kw = w_->dim(3);
    g.sh = stride_[0]; g.sw = stride_[1]; g.dh = dilation_[0]; g.dw = dilation_[1];
    g.pt = padding_[0]; g.pl = padding_[1];
    g.oh = (g.h + padding_[0] + padding_[2] - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = (g.w + padding_[1] + padding_[3] - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    return g;
  }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    expect_rank(where_, in[0], 4, "input (N, C, H, W)");
    if (in[0][1] != w_->dim(1) * groups_)
      fail(where_, "input shape " + shape_str(in[0]) + " has " + std::to_string(in[0][1]) +
                       " channels; weight shape " + shape_str(w_->shape()) + " with groups " +
                       std::to_string(groups_) + " needs " + std::to_string(w_->dim(1) * groups_));
    const Geometry g = geometry(in[0]);
    if (g.oh < 1 || g.ow < 1)
      fail(where_, "input shape " + shape_str(in[0]) + " is smaller than the kernel " +
                       shape_str(w_->shape()));
    return {{g.n, cout_, g.oh, g.ow}};
  }

  // Images are processed in chunks whose patch matrix stays cache-sized
  // (about 1 MB); chunks run in parallel, each writing its own images.
  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Geometry g = geometry(in[0]->shape());
    const int64_t cg = g.c / groups_, k = cg * g.kh * g.kw, plane = g.oh * g.ow;
    const int64_t per_chunk = std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(1, plane * k), 1, g.n);
    const int64_t chunks = (g.n + per_chunk - 1) / per_chunk;
    // Quantized layers quantize the whole input once.
    thread_local std::vector<uint8_t> qx_storage;
    std::vector<uint8_t>& qx = qx_storage;
    if (!qm_.empty()) {
      const quant::Affine& a = qm_[0].activation();
      qx.resize(static_cast<size_t>(in[0]->size()) * (a.format.bits <= 8 ? 1 : 2));
      quantize_any(in[0]->f32(), in[0]->size(), a, qx.data());
    }
    static const Executor inline_ex(1);
    auto body = [&](size_t b, size_t e) {
      const RunContext inner{chunks > 1 ? inline_ex : ctx.ex, ctx.state, ctx.reference};
      for (size_t ch = b; ch < e; ++ch) {
        const int64_t n0 = static_cast<int64_t>(ch) * per_chunk, n1 = std::min(g.n, n0 + per_chunk);
        run_chunk(inner, g, in[0]->f32(), qx.data(), n0, n1, out[0]->f32());
      }
    };
    if (chunks > 1)
      ctx.ex.parallel_for(static_cast<size_t>(chunks), 1, body);
    else
      body(0, 1);
  }

  void run_chunk(const RunContext& ctx, const Geometry& g, const float* x, const uint8_t* qx,
                 int64_t n0, int64_t n1, float* y) const {
    const int64_t cg = g.c / groups_, cog = cout_ / groups_, k = cg * g.kh * g.kw;
    const int64_t plane = g.oh * g.ow, rows = (n1 - n0) * plane;
    thread_local std::vector<float> cols, res;
    thread_local std::vector<uint8_t> qcols;
    res.resize(static_cast<size_t>(rows * cog));
    for (int64_t grp = 0; grp < groups_; ++grp) {
      const float* b = bias_ ? bias_->f32() + grp * cog : nullptr;
      if (!qm_.empty()) {
        const QuantizedMatmul& qm = qm_[static_cast<size_t>(grp)];
        const quant::Affine& a = qm.activation();
        const int64_t ld = qm.row_stride();
        qcols.resize(static_cast<size_t>(rows * ld) * (a.format.bits <= 8 ? 1 : 2));
        swar::MatrixView view;
        const float zero = 0.f;
        if (a.format.bits > 8) {
          int16_t pad;
          quant::quantize(&zero, 1, a, &pad);
          auto* dst = reinterpret_cast<int16_t*>(qcols.data());
          im2col(reinterpret_cast<const int16_t*>(qx), g, n0, n1, grp * cg, cg, pad, dst, ld);
          view = swar::MatrixView::of(dst, static_cast<size_t>(rows), static_cast<size_t>(k), static_cast<size_t>(ld));
        } else if (a.format.is_signed) {
          int8_t pad;
          quant::quantize(&zero, 1, a, &pad);
          auto* dst = reinterpret_cast<int8_t*>(qcols.data());
          im2col(reinterpret_cast<const int8_t*>(qx), g, n0, n1, grp * cg, cg, pad, dst, ld);
          view = swar::MatrixView::of(dst, static_cast<size_t>(rows), static_cast<size_t>(k), static_cast<size_t>(ld));
        } else {
          uint8_t pad;
          quant::quantize(&zero, 1, a, &pad);
          im2col(qx, g, n0, n1, grp * cg, cg, pad, qcols.data(), ld);
          view = swar::MatrixView::of(qcols.data(), static_cast<size_t>(rows), static_cast<size_t>(k), static_cast<size_t>(ld));
        }
        qm.run_quantized(view, res.data(), cog, ctx);
      } else {
        cols.resize(static_cast<size_t>(rows * k));
        im2col(x, g, n0, n1, grp * cg, cg, 0.f, cols.data(), k);
        gemm_f32(cols.data(), rows, k, packed_[static_cast<size_t>(grp)], b, res.data(), cog, ctx.ex);
      }
      // [n, oh, ow, c] -> [n, grp * cog + c, oh, ow]
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t c = 0; c < cog; ++c) {
          float* dst = y + (n * cout_ + grp * cog + c) * plane;
          const float* src = res.data() + (n - n0) * plane * cog + c;
          for (int64_t p = 0; p < plane; ++p) dst[p] = src[p * cog];
        }
    }
  }

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input) override {
    plan_ = plan;
    qm_.clear();
    if (!plan.quantized()) return;
    const auto [lo, hi] = input.choose(plan);
    const quant::Affine a =
        quant::activation_affine(lo, hi, plan.activation_bits, plan.activation_symmetric);
    const int64_t cog = cout_ / groups_, k = w_->dim(1) * w_->dim(2) * w_->dim(3);
    qm_.resize(static_cast<size_t>(groups_));
    for (int64_t g = 0; g < groups_; ++g)
      qm_[static_cast<size_t>(g)].prepare(w_->f32() + g * cog * k, cog, k,
                                          bias_ ? bias_->f32() + g * cog : nullptr, plan, a);
  }
  const quant::LayerPlan* plan() const override { return &plan_; }

  OpCost cost(const std::vector<Shape>& in) const override {
    const Geometry g = geometry(in[0]);
    const int64_t k = w_->dim(1) * g.kh * g.kw;
    return {static_cast<double>(g.oh * g.ow * cout_ * k), w_->size() + (bias_ ? cout_ : 0), k,
            g.oh * g.ow * cout_};
  }
  int64_t weight_bytes() const override {
    if (qm_.empty()) return w_->size() * 4;
    int64_t bytes = 0;
    for (const auto& q : qm_) bytes += q.weight_bytes();
    return bytes;
  }

 private:
  static void quantize_any(const float* x, int64_t n, const quant::Affine& a, uint8_t* out) {
    if (a.format.bits > 8)
      quant::quantize(x, n, a, reinterpret_cast<int16_t*>(out));
    else if (a.format.is_signed)
      quant::quantize(x, n, a, reinterpret_cast<int8_t*>(out));
    else
      quant::quantize(x, n, a, out);
  }

  std::string where_;
  std::shared_ptr<const Tensor> w_, bias_;
  int64_t groups_ = 1, cout_ = 0;
  std::vector<int64_t> stride_, dilation_, padding_;
  std::vector<PackedF32> packed_;
  std::vector<QuantizedMatmul> qm_;
  quant::LayerPlan plan_;
};

}  // namespace

std::unique_ptr<Op> make_conv2d(OpBuilder& b) { return std::make_unique<Conv2d>(b); }

}  // namespace bitlane::ops
