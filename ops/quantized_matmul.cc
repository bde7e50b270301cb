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

void QuantizedMatmul::prepare(const float* w, int64_t out, int64_t in, const float* bias,
                              const quant::LayerPlan& plan, const quant::Affine& act, int64_t segment) {
  out_ = out;
  in_ = in;
  act_ = act;
  const quant::Scheme& scheme = plan.scheme();
  storage_ = scheme.activation_storage(act, plan);
  transform_ = scheme.transform(plan, act);
  qw_ = scheme.quantize_weights(w, out, in, segment > 0 ? segment : in, plan);
  packed_ = swar::PackedWeights::pack(swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out),
                                                           static_cast<size_t>(in)),
                                      qw_.format, storage_);
  row_stride_ = elem_for(storage_) == swar::ElemType::kU8 ? (in + 3) / 4 * 4 : in;
  // Term accounting: per input column, the terms of all its weights.
  cost_encoding_ = scheme.cost_encoding(plan);
  weight_terms_.assign(static_cast<size_t>(in), 0);
  for (int64_t c = 0; c < out; ++c)
    for (int64_t k = 0; k < in; ++k) {
      const int v = qw_.q[static_cast<size_t>(c * in + k)];
      weight_terms_[static_cast<size_t>(k)] += quant::term_count(static_cast<uint32_t>(v < 0 ? -v : v), cost_encoding_);
    }
  const int64_t magnitudes = int64_t{1} << std::min(storage_.bits, 16);
  act_terms_.resize(static_cast<size_t>(magnitudes));
  for (int64_t m = 0; m < magnitudes; ++m)
    act_terms_[static_cast<size_t>(m)] = static_cast<uint8_t>(quant::term_count(static_cast<uint32_t>(m), cost_encoding_));
  scale_.resize(static_cast<size_t>(out));
  offset_.resize(static_cast<size_t>(out));
  row_scale_.resize(static_cast<size_t>(out));
  need_row_sums_ = false;
  const int64_t ma = act_.mul, oa = act_.offset;
  for (int64_t c = 0; c < out; ++c) {
    const quant::Affine& wa = qw_.affine[static_cast<size_t>(c)];
    const double s = static_cast<double>(act_.scale) * wa.scale;
    const int64_t constant = in * oa * wa.offset - wa.mul * oa * qw_.row_sum[static_cast<size_t>(c)];
    scale_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(ma * wa.mul));
    offset_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(constant) + (bias ? bias[c] : 0.f));
    row_scale_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(ma * wa.offset));
    need_row_sums_ |= wa.offset != 0;
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
                                    const Executor& ex, LayerStats* stats) const {
  const swar::ElemType t = elem_for(storage_);
  const size_t es = elem_size(t);
  buf.resize(static_cast<size_t>(m * row_stride_) * es);
  std::atomic<int64_t> regions{0}, sensitive{0};
  auto rows = [&](size_t r0, size_t r1) {
    int64_t reg = 0, sens = 0;
    for (size_t r = r0; r < r1; ++r) {
      const float* src = x + static_cast<int64_t>(r) * ldx;
      uint8_t* dst = buf.data() + r * static_cast<size_t>(row_stride_) * es;
      switch (t) {
        case swar::ElemType::kU8:
          quant::quantize(src, in_, act_, dst);
          std::fill(dst + in_, dst + row_stride_, uint8_t{0});
          sens += transform(dst, {1, 1, 1, in_, row_stride_}, &reg);
          break;
        case swar::ElemType::kI8:
          quant::quantize(src, in_, act_, reinterpret_cast<int8_t*>(dst));
          sens += transform(reinterpret_cast<int8_t*>(dst), {1, 1, 1, in_, row_stride_}, &reg);
          break;
        default:
          quant::quantize(src, in_, act_, reinterpret_cast<int16_t*>(dst));
          sens += transform(reinterpret_cast<int16_t*>(dst), {1, 1, 1, in_, row_stride_}, &reg);
      }
    }
    regions += reg;
    sensitive += sens;
  };
  if (m * in_ < (int64_t{1} << 16))
    rows(0, static_cast<size_t>(m));
  else
    ex.parallel_for(static_cast<size_t>(m), 16, rows);
  view = {buf.data(), t, static_cast<size_t>(m), static_cast<size_t>(in_), static_cast<size_t>(row_stride_)};
  if (stats) {
    stats->regions += regions;
    stats->sensitive += sensitive;
  }
}

void QuantizedMatmul::run_quantized(const swar::MatrixView& q, float* y, int64_t ldy,
                                    const RunContext& ctx) const {
  const int64_t m = static_cast<int64_t>(q.rows);
  thread_local std::vector<int64_t> acc64;
  thread_local std::vector<int32_t> acc32;
  const bool wide = wide_ || ctx.reference;
  // Quantized rows come from our own clamping quantizer, padded with zeros.
  const swar::GemmOptions options{true, q.stride > q.cols};
  if (ctx.reference) {
    acc64.resize(static_cast<size_t>(m * out_));
    swar::gemm_reference(q, swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out_),
                                                 static_cast<size_t>(in_)),
                         acc64.data(), static_cast<size_t>(out_));
  } else if (wide) {
    acc64.resize(static_cast<size_t>(m * out_));
    swar::gemm(q, packed_, acc64.data(), static_cast<size_t>(out_), ctx.ex, options);
  } else {
    acc32.resize(static_cast<size_t>(m * out_));
    swar::gemm(q, packed_, acc32.data(), static_cast<size_t>(out_), ctx.ex, options);
  }
  if (ctx.stats) {  // the term pairs these rows cost
    int64_t pairs = 0;
    const int64_t top = static_cast<int64_t>(act_terms_.size()) - 1;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t i = 0; i < in_; ++i) {
        const int32_t v = q.at(static_cast<size_t>(r), static_cast<size_t>(i));
        pairs += act_terms_[static_cast<size_t>(std::min<int64_t>(v < 0 ? -v : v, top))] * weight_terms_[static_cast<size_t>(i)];
      }
    ctx.stats->pairs += pairs;
    ctx.stats->macs += m * in_ * out_;
  }
  const float* scale = scale_.data();
  const float* offset = offset_.data();
  const float* row_scale = row_scale_.data();
  for (int64_t r = 0; r < m; ++r) {
    float* dst = y + r * ldy;
    float ra = 0.f;
    if (need_row_sums_) {
      int64_t sum = 0;
      for (int64_t i = 0; i < in_; ++i) sum += q.at(static_cast<size_t>(r), static_cast<size_t>(i));
      ra = static_cast<float>(sum);
    }
    if (wide) {
      const int64_t* s = acc64.data() + r * out_;
      for (int64_t c = 0; c < out_; ++c) dst[c] = static_cast<float>(s[c]) * scale[c] + offset[c] - ra * row_scale[c];
    } else {
      const int32_t* s = acc32.data() + r * out_;
      for (int64_t c = 0; c < out_; ++c) dst[c] = static_cast<float>(s[c]) * scale[c] + offset[c] - ra * row_scale[c];
    }
  }
}

void QuantizedMatmul::run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy,
                          const RunContext& ctx) const {
  thread_local std::vector<uint8_t> buf;
  swar::MatrixView view;
  quantize_rows(x, m, ldx, buf, view, ctx.ex, ctx.stats);
  run_quantized(view, y, ldy, ctx);
}

}  // namespace bitlane::ops
