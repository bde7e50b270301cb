#include "core/scratch.h"
#include "ops/exp_matmul.h"

#include <span>

#include "core/executor.h"

namespace bitlane::ops {

void ExpMatmul::prepare(const float* w, int64_t out, int64_t in, const float* bias,
                        const quant::LayerPlan& plan, const std::vector<float>& activation_samples) {
  out_ = out;
  in_ = in;
  const quant::ExpOptions& o = plan.get<quant::ExpOptions>();
  histogram_ = o.histogram;
  const quant::ExpSearch s = quant::search_exponential(std::span<const float>(w, static_cast<size_t>(out * in)),
                                                       activation_samples, o.threshold, o.min_bits, o.max_bits, o.base);
  pw_ = s.weights;
  px_ = s.activations;
  codec_x_ = quant::ExpCodec(px_);
  codes_.resize(static_cast<size_t>(out * in));
  std::vector<float> decoded(codes_.size());
  for (size_t i = 0; i < codes_.size(); ++i) {
    codes_[i] = quant::exp_encode(w[i], pw_);
    decoded[i] = quant::exp_decode(codes_[i], pw_);
  }
  decoded_ = PackedF32::pack(decoded.data(), out, in);
  nonzero_weights_.assign(static_cast<size_t>(in), 0);
  for (int64_t c = 0; c < out; ++c)
    for (int64_t k = 0; k < in; ++k) nonzero_weights_[static_cast<size_t>(k)] += codes_[static_cast<size_t>(c * in + k)] != 0;
  bias_.assign(static_cast<size_t>(out), 0.f);
  if (bias) bias_.assign(bias, bias + out);
}

void ExpMatmul::run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy,
                    const RunContext& ctx) const {
  // Codes are needed by the histogram path and for counting pairs; the
  // decoded path goes straight from x to the nearest level's value.
  thread_local std::vector<int16_t> cx;
  thread_local std::vector<float> dx;
  const bool need_codes = histogram_ || ctx.stats;
  if (need_codes) grow_scratch(cx, static_cast<size_t>(m * in_));
  if (!histogram_) grow_scratch(dx, static_cast<size_t>(m * in_));
  int16_t* codes = cx.data();
  float* values = dx.data();
  auto encode_rows = [&](size_t r0, size_t r1) {
    thread_local std::vector<float> scratch;  // decoded values the histogram path does not need
    if (histogram_) grow_scratch(scratch, static_cast<size_t>(in_));
    for (size_t r = r0; r < r1; ++r) {
      const float* xr = x + static_cast<int64_t>(r) * ldx;
      const size_t base = r * static_cast<size_t>(in_);
      codec_x_.encode_decode(xr, static_cast<size_t>(in_), histogram_ ? scratch.data() : values + base,
                             need_codes ? codes + base : nullptr);
    }
  };
  if (m * in_ < (int64_t{1} << 15))
    encode_rows(0, static_cast<size_t>(m));
  else
    ctx.ex.parallel_for(static_cast<size_t>(m), 4, encode_rows);
  if (ctx.stats) {  // a pair per non-zero product: one exponent sum each
    int64_t pairs = 0;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t k = 0; k < in_; ++k)
        if (codes[r * in_ + k]) pairs += nonzero_weights_[static_cast<size_t>(k)];
    ctx.stats->pairs += pairs;
    ctx.stats->macs += m * in_ * out_;
  }
  if (histogram_) {
    ctx.ex.parallel_for(static_cast<size_t>(m), 1, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        const std::span<const int16_t> xr(codes + r * static_cast<size_t>(in_), static_cast<size_t>(in_));
        for (int64_t c = 0; c < out_; ++c) {
          const std::span<const int16_t> wc(codes_.data() + c * in_, static_cast<size_t>(in_));
          y[static_cast<int64_t>(r) * ldy + c] =
              static_cast<float>(quant::exp_dot(wc, pw_, xr, px_)) + bias_[static_cast<size_t>(c)];
        }
      }
    });
    return;
  }
  gemm_f32(values, m, in_, decoded_, bias_.data(), y, ldy, ctx.ex);
}

}  // namespace bitlane::ops
