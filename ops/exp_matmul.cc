#include "ops/exp_matmul.h"

#include <span>

#include "core/executor.h"

namespace bitlane::ops {

void ExpMatmul::prepare(const float* w, int64_t out, int64_t in, const float* bias,
                        const quant::LayerPlan& plan, const std::vector<float>& activation_samples) {
  out_ = out;
  in_ = in;
  histogram_ = plan.exp_histogram;
  const quant::ExpSearch s =
      quant::search_exponential(std::span<const float>(w, static_cast<size_t>(out * in)), activation_samples,
                                plan.exp_threshold, plan.exp_min_bits, plan.exp_max_bits, plan.exp_base);
  pw_ = s.weights;
  px_ = s.activations;
  codes_.resize(static_cast<size_t>(out * in));
  std::vector<float> decoded(codes_.size());
  for (size_t i = 0; i < codes_.size(); ++i) {
    codes_[i] = quant::exp_encode(w[i], pw_);
    decoded[i] = quant::exp_decode(codes_[i], pw_);
  }
  decoded_ = PackedF32::pack(decoded.data(), out, in);
  bias_.assign(static_cast<size_t>(out), 0.f);
  if (bias) bias_.assign(bias, bias + out);
}

void ExpMatmul::run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy,
                    const RunContext& ctx) const {
  std::vector<int16_t> cx(static_cast<size_t>(m * in_));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t k = 0; k < in_; ++k) cx[static_cast<size_t>(r * in_ + k)] = quant::exp_encode(x[r * ldx + k], px_);
  if (ctx.stats) {  // a pair per non-zero product: one exponent sum each
    std::vector<int64_t> nz(static_cast<size_t>(in_), 0);
    for (int64_t c = 0; c < out_; ++c)
      for (int64_t k = 0; k < in_; ++k) nz[static_cast<size_t>(k)] += codes_[static_cast<size_t>(c * in_ + k)] != 0;
    int64_t pairs = 0;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t k = 0; k < in_; ++k)
        if (cx[static_cast<size_t>(r * in_ + k)]) pairs += nz[static_cast<size_t>(k)];
    ctx.stats->pairs += pairs;
    ctx.stats->macs += m * in_ * out_;
  }
  if (histogram_) {
    ctx.ex.parallel_for(static_cast<size_t>(m), 1, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        const std::span<const int16_t> xr(cx.data() + r * static_cast<size_t>(in_), static_cast<size_t>(in_));
        for (int64_t c = 0; c < out_; ++c) {
          const std::span<const int16_t> wc(codes_.data() + c * in_, static_cast<size_t>(in_));
          y[static_cast<int64_t>(r) * ldy + c] =
              static_cast<float>(quant::exp_dot(wc, pw_, xr, px_)) + bias_[static_cast<size_t>(c)];
        }
      }
    });
    return;
  }
  std::vector<float> dx(cx.size());
  for (size_t i = 0; i < cx.size(); ++i) dx[i] = quant::exp_decode(cx[i], px_);
  gemm_f32(dx.data(), m, in_, decoded_, bias_.data(), y, ldy, ctx.ex);
}

}  // namespace bitlane::ops
