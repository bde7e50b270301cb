#include "ops/quantized_matmul.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/executor.h"

namespace bitlane::ops {
namespace {

// Element type holding a quantized activation of format f.
swar::ElemType elem_for(const swar::IntFormat& f) {
  if (f.bits <= 8) return f.is_signed ? swar::ElemType::kI8 : swar::ElemType::kU8;
  return swar::ElemType::kI16;
}
size_t elem_size(swar::ElemType t) {
  return t == swar::ElemType::kI16 ? 2 : 1;
}

}  // namespace

void QuantizedMatmul::prepare(const float* w, int64_t out, int64_t in, const quant::LayerPlan& plan,
                              const quant::Affine& act) {
  out_ = out;
  in_ = in;
  act_ = act;
  qw_ = quant::quantize_weights(w, out, in, plan);
  packed_ = swar::PackedWeights::pack(swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out),
                                                           static_cast<size_t>(in)),
                                      qw_.format, act_.format);
  scale_.resize(static_cast<size_t>(out));
  need_row_sums_ = false;
  for (int64_t c = 0; c < out; ++c) {
    scale_[static_cast<size_t>(c)] = act_.scale * qw_.affine[static_cast<size_t>(c)].scale;
    need_row_sums_ |= qw_.affine[static_cast<size_t>(c)].offset != 0;
  }
  const long double bound = static_cast<long double>(in) * act_.format.max_magnitude() *
                            qw_.format.max_magnitude();
  wide_ = bound > std::numeric_limits<int32_t>::max();
}

int64_t QuantizedMatmul::weight_bytes() const {
  return (out_ * in_ * qw_.format.bits + 7) / 8;
}

void QuantizedMatmul::quantize_rows(const float* x, int64_t m, int64_t ldx,
                                    std::vector<uint8_t>& buf, swar::MatrixView& view,
                                    const Executor& ex) const {
  const swar::ElemType t = elem_for(act_.format);
  buf.resize(static_cast<size_t>(m * in_) * elem_size(t));
  auto rows = [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) {
      const float* src = x + static_cast<int64_t>(r) * ldx;
      switch (t) {
        case swar::ElemType::kU8:
          quant::quantize(src, in_, act_, buf.data() + r * in_);
          break;
        case swar::ElemType::kI8:
          quant::quantize(src, in_, act_, reinterpret_cast<int8_t*>(buf.data()) + r * in_);
          break;
        default:
          quant::quantize(src, in_, act_, reinterpret_cast<int16_t*>(buf.data()) + r * in_);
      }
    }
  };
  if (m * in_ < (int64_t{1} << 16))
    rows(0, static_cast<size_t>(m));
  else
    ex.parallel_for(static_cast<size_t>(m), 16, rows);
  view = {buf.data(), t, static_cast<size_t>(m), static_cast<size_t>(in_), static_cast<size_t>(in_)};
}

void QuantizedMatmul::run_quantized(const swar::MatrixView& q, float* y, int64_t ldy,
                                    const float* bias, const RunContext& ctx) const {
  const int64_t m = static_cast<int64_t>(q.rows);
  thread_local std::vector<int64_t> acc64;
  thread_local std::vector<int32_t> acc32;
  const bool wide = wide_ || ctx.reference;
  if (ctx.reference) {
    acc64.resize(static_cast<size_t>(m * out_));
    swar::gemm_reference(q, swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out_),
                                                 static_cast<size_t>(in_)),
                         acc64.data(), static_cast<size_t>(out_));
  } else if (wide) {
    acc64.resize(static_cast<size_t>(m * out_));
    swar::gemm(q, packed_, acc64.data(), static_cast<size_t>(out_), ctx.ex);
  } else {
    acc32.resize(static_cast<size_t>(m * out_));
    swar::gemm(q, packed_, acc32.data(), static_cast<size_t>(out_), ctx.ex);
  }
  // Integer correction, then one multiply and one add per output:
  //   ma mw S - ma ow Ra - mw oa Cw + K oa ow
  const int64_t ma = act_.mul, oa = act_.offset, k = in_;
  std::vector<int64_t> ra;
  if (need_row_sums_) {
    ra.assign(static_cast<size_t>(m), 0);
    for (int64_t r = 0; r < m; ++r) {
      int64_t s = 0;
      for (int64_t i = 0; i < k; ++i) s += q.at(static_cast<size_t>(r), static_cast<size_t>(i));
      ra[static_cast<size_t>(r)] = s;
    }
  }
  for (int64_t r = 0; r < m; ++r) {
    float* dst = y + r * ldy;
    for (int64_t c = 0; c < out_; ++c) {
      const quant::Affine& wa = qw_.affine[static_cast<size_t>(c)];
      const int64_t s = wide ? acc64[static_cast<size_t>(r * out_ + c)]
                             : acc32[static_cast<size_t>(r * out_ + c)];
      int64_t corr = ma * wa.mul * s - wa.mul * oa * qw_.row_sum[static_cast<size_t>(c)] +
                     k * oa * wa.offset;
      if (wa.offset) corr -= ma * wa.offset * ra[static_cast<size_t>(r)];
      dst[c] = static_cast<float>(corr) * scale_[static_cast<size_t>(c)] + (bias ? bias[c] : 0.f);
    }
  }
}

void QuantizedMatmul::run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy,
                          const float* bias, const RunContext& ctx) const {
  thread_local std::vector<uint8_t> buf;
  swar::MatrixView view;
  quantize_rows(x, m, ldx, buf, view, ctx.ex);
  run_quantized(view, y, ldy, bias, ctx);
}

}  // namespace bitlane::ops
