#include "core/scratch.h"
#include "ops/quantized_matmul.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>

#include "core/error.h"
#include "core/executor.h"
#include "ops/kernels/epilogue.h"

namespace bitlane::ops {

void QuantizedMatmul::prepare(const float* w, int64_t out, int64_t in, const float* bias,
                              const quant::LayerPlan& plan, const quant::Affine& act, int64_t segment,
                              const Gathered& gathered) {
  const std::vector<uint8_t>* gather_padding = gathered.padding;
  out_ = out;
  in_ = counted_in_ = in;
  act_ = act;
  const quant::Scheme& scheme = plan.scheme();
  storage_ = scheme.activation_storage(act, plan);
  transform_ = scheme.transform(plan, act);
  qw_ = scheme.quantize_weights(w, out, in, segment > 0 ? segment : in, plan);
  // Term accounting: per input column, the terms of all its weights (the
  // scheme's integers, before any re-expression below).
  cost_encoding_ = scheme.cost_encoding(plan);
  // One table of terms per magnitude serves both sides: the activations'
  // (every magnitude of their storage) and the weights' (up to the largest;
  // term_count per weight was 8% of building the MLP's 4-bit engine).
  int max_weight = 0;
  for (const int v : qw_.q) max_weight = std::max(max_weight, v < 0 ? -v : v);
  const int64_t magnitudes = int64_t{1} << std::min(storage_.bits, 16);
  std::vector<uint8_t> terms(static_cast<size_t>(std::max<int64_t>(magnitudes, int64_t{max_weight} + 1)));
  for (size_t m = 0; m < terms.size(); ++m)
    terms[m] = static_cast<uint8_t>(quant::term_count(static_cast<uint32_t>(m), cost_encoding_));
  weight_terms_.assign(static_cast<size_t>(in), 0);
  for (int64_t c = 0; c < out; ++c)
    for (int64_t k = 0; k < in; ++k) {
      const int v = qw_.q[static_cast<size_t>(c * in + k)];
      weight_terms_[static_cast<size_t>(k)] += terms[static_cast<size_t>(v < 0 ? -v : v)];
    }
  act_terms_.assign(terms.begin(), terms.begin() + magnitudes);
  swar::GemmMethod method, many_rows_method;
  swar::GemmShape shape{static_cast<size_t>(in), static_cast<size_t>(out)};
  if (gather_padding) {
    shape.gathered_run = gathered.run;
    shape.in_place_speedup = gathered.in_place_speedup;
    method = swar::choose_method_in_place(storage_, qw_.format, shape);
    if (swar::method_reads_gathered(method)) express_for_gather(*gather_padding);
  } else {
    // A call may bring one row (a GEMV) or many. Where the best methods for
    // the two differ (GEMVs read each weight once, so the methods with the
    // fewest weight bytes gain: 1 x 1 bits on AVX2, bit-serial against int7
    // or AVX-VNNI's int8; on Intel's AVX-512 cores bit-serial or the
    // column-paired nibbles against int8; swar/kernels/dot_u8s8.cc,
    // gemv_share, and nibble_columns.cc), both packings are kept and each
    // call takes the one for its rows (run_gemm): the weights' bytes grow by
    // the second packing, the choice no longer waits for a batch size.
    shape.rows = swar::GemmShape::Rows::kOne;
    method = swar::choose_method(storage_, qw_.format, shape);
    shape.rows = swar::GemmShape::Rows::kMany;
    many_rows_method = swar::choose_method(storage_, qw_.format, shape);
  }
  const swar::MatrixView wq = swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out), static_cast<size_t>(in));
  packed_ = swar::PackedWeights::pack(wq, qw_.format, storage_, method);
  many_rows_packed_.reset();
  if (!many_rows_method.automatic() && many_rows_method != method)
    many_rows_packed_ = swar::PackedWeights::pack(wq, qw_.format, storage_, many_rows_method);
  // Padded: the epilogue kernels load whole vectors (ops/kernels/epilogue.h).
  scale_.assign(static_cast<size_t>(out) + 64, 0.f);
  offset_.assign(static_cast<size_t>(out) + 64, 0.f);
  row_scale_.assign(static_cast<size_t>(out) + 64, 0.f);
  need_row_sums_ = false;
  const int64_t ma = act_.mul, oa = act_.offset;
  // Columns that only pad a gathered layout meet activations of integer 0
  // and stand for nothing: the zero-point terms count the real columns
  // alone, so their weights may hold any integer (a binary grid has no 0;
  // bit-serial reads gathered rows with the weights as they quantized).
  int64_t real_in = in;
  std::vector<int64_t> real_sum = qw_.row_sum;
  if (gather_padding)
    for (int64_t k = 0; k < in; ++k)
      if ((*gather_padding)[static_cast<size_t>(k)]) {
        --real_in;
        for (int64_t c = 0; c < out; ++c) real_sum[static_cast<size_t>(c)] -= qw_.q[static_cast<size_t>(c * in + k)];
      }
  for (int64_t c = 0; c < out; ++c) {
    const quant::Affine& wa = qw_.affine[static_cast<size_t>(c)];
    const double s = static_cast<double>(act_.scale) * wa.scale;
    const int64_t constant = real_in * oa * wa.offset - wa.mul * oa * real_sum[static_cast<size_t>(c)];
    scale_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(ma * wa.mul));
    offset_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(constant) + (bias ? bias[c] : 0.f));
    row_scale_[static_cast<size_t>(c)] = static_cast<float>(s * static_cast<double>(ma * wa.offset));
    need_row_sums_ |= wa.offset != 0;
  }
  const long double bound = static_cast<long double>(in) * act_.format.max_magnitude() *
                            qw_.format.max_magnitude();
  wide_ = bound > std::numeric_limits<int32_t>::max();
  acc_bound_ = wide_ ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(bound);
  steps_cache_ = std::make_shared<StepsCache>();
}

// Binary weights (q in {0, 1} meaning -s / +s: mul 2, offset 1) become the
// signed integers -1 / +1 they stand for (mul 1, offset 0): the same values,
// but a dot-product kernel then needs no row sums of the activations, so it
// can read them gathered in place. The padding columns' weights become 0:
// their activations are integer 0, which is the value 0 only without a zero
// point, and with weight 0 the zero-point correction needs no row sums either.
void QuantizedMatmul::express_for_gather(const std::vector<uint8_t>& padding) {
  bool binary = qw_.format.bits == 1 && !qw_.format.is_signed;
  for (const quant::Affine& a : qw_.affine) binary &= a.mul == 2 && a.offset == 1;
  if (binary) {
    for (int16_t& q : qw_.q) q = static_cast<int16_t>(2 * q - 1);
    for (quant::Affine& a : qw_.affine) {
      a.mul = 1;
      a.offset = 0;
      a.format = {2, true};
      a.qmin = -1;
      a.qmax = 1;
    }
    qw_.format = {2, true};
  }
  if (!zero_weight_is_zero()) return;  // zero points: padding weights must stay what they quantized to
  for (int64_t c = 0; c < out_; ++c) {
    int64_t sum = 0;
    for (int64_t k = 0; k < in_; ++k) {
      int16_t& q = qw_.q[static_cast<size_t>(c * in_ + k)];
      if (padding[static_cast<size_t>(k)]) q = 0;
      sum += q;
    }
    qw_.row_sum[static_cast<size_t>(c)] = sum;
  }
}

std::string QuantizedMatmul::kernel() const {
  auto name = [&](const swar::PackedWeights& p) -> std::string {
    const swar::GemmMethod m = p.method();
    return swar::method_name(swar::method_runs_here(m) ? m : swar::choose_method(storage_, qw_.format, {p.k(), p.n()}));
  };
  if (!many_rows_packed_) return name(packed_);
  return name(*many_rows_packed_) + " (1 row: " + name(packed_) + ")";
}

int64_t QuantizedMatmul::weight_bytes() const {
  return (out_ * in_ * qw_.format.bits + 7) / 8;
}

DType storage_dtype(const swar::IntFormat& f) {
  if (f.bits <= 8) return f.is_signed ? DType::kI8 : DType::kU8;
  return DType::kI16;
}

DType QuantizedMatmul::storage_type() const { return storage_dtype(storage_); }

// The state of one call that the per-tile epilogue needs.
struct QuantizedMatmul::Call {
  const QuantizedMatmul* self = nullptr;
  const MatmulDest* out;
  bool wide = false;  // int64 sums (wide formats, the reference path); else int32
  size_t ldc = 0;
  const float* ra = nullptr;  // row sums of the activations, by row (zero-point correction)
  detail::EpilogueParams params;
  detail::RequantParams rq{};
  std::shared_ptr<const detail::EpilogueSteps> steps;  // thresholds instead of rq, if any
};

struct QuantizedMatmul::StepsCache {
  struct Entry {
    detail::EpilogueAct act;
    detail::RequantParams rq;
    detail::EpilogueSteps steps;
  };
  std::atomic<std::shared_ptr<const Entry>> last;
};

// Where the sums alone decide a 1- or 2-bit output, its thresholds
// (detail::EpilogueSteps): computed for the first call with this grid and
// activation (out x levels bisections over the sums' range) and kept.
void QuantizedMatmul::attach_steps(Call& call) const {
  const MatmulDest& d = *call.out;
  if (d.kind != MatmulDest::Kind::kInt || d.residual || call.params.row_scale || call.wide ||
      (d.type != DType::kU8 && d.type != DType::kI8) || call.rq.hi - call.rq.lo > 3 || !steps_cache_)
    return;
  const detail::RequantParams& q = call.rq;
  auto same = [&](const StepsCache::Entry& e) {
    return e.act == call.params.act && e.rq.inv_scale == q.inv_scale && e.rq.offset == q.offset &&
           e.rq.half == q.half && e.rq.lo == q.lo && e.rq.hi == q.hi;
  };
  std::shared_ptr<const StepsCache::Entry> e = steps_cache_->last.load();
  if (!e || !same(*e)) {
    e = std::make_shared<const StepsCache::Entry>(StepsCache::Entry{
        call.params.act, q, detail::epilogue_steps(call.params, q, static_cast<size_t>(out_), acc_bound_)});
    steps_cache_->last.store(e);
  }
  if (!e->steps.empty()) call.steps = std::shared_ptr<const detail::EpilogueSteps>(e, &e->steps);
}

namespace {

detail::EpilogueAct epilogue_act(Activation a) {
  switch (a) {
    case Activation::kRelu: return detail::EpilogueAct::kRelu;
    case Activation::kRelu6: return detail::EpilogueAct::kRelu6;
    default: return detail::EpilogueAct::kNone;
  }
}

// epilogue_value for int64 sums (wide formats, the reference path).
float epilogue_value64(int64_t acc, size_t c, float ra, const detail::EpilogueParams& p, const float* res) {
  float y = static_cast<float>(acc) * p.scale[c] + p.offset[c];
  if (p.row_scale) y = y - ra * p.row_scale[c];
  if (res) y = y + res[c];
  switch (p.act) {
    case detail::EpilogueAct::kRelu: return y > 0.f ? y : 0.f;
    case detail::EpilogueAct::kRelu6: return y < 0.f ? 0.f : y > 6.f ? 6.f : y;
    default: return y;
  }
}

// The next layer's quantizer (quant::quantize's operations) as the epilogue takes it.
detail::RequantParams requant_params(const quant::Affine& g) {
  return {1.f / g.scale, static_cast<float>(g.offset), g.mul == 2 ? 0.5f : 1.f, static_cast<float>(g.lowest()),
          static_cast<float>(g.highest())};
}

template <typename T>
T requantize(float y, const detail::RequantParams& q) {
  return static_cast<T>(detail::requantized_value(y, q));
}

}  // namespace

void QuantizedMatmul::epilogue(const Call& call, const void* sums, size_t m0, size_t m1, size_t c0,
                               size_t c1) const {
  // Row r's sums at (r - m0) * ldc: the GEMM's per-task buffer, or the call's.
  const auto* acc32 = static_cast<const int32_t*>(sums);
  const auto* acc64 = static_cast<const int64_t*>(sums);
  const MatmulDest& d = *call.out;
  if (d.rows_done && (c0 != 0 || c1 != static_cast<size_t>(out_) || d.twin || d.kind != MatmulDest::Kind::kF32Rows))
    fail("QuantizedMatmul", "rows_done needs float rows computed whole (one thread)");
  auto store_int = [&](float y, void* base, size_t i) {
    if (d.type == DType::kU8) static_cast<uint8_t*>(base)[i] = requantize<uint8_t>(y, call.rq);
    else if (d.type == DType::kI8) static_cast<int8_t*>(base)[i] = requantize<int8_t>(y, call.rq);
    else static_cast<int16_t*>(base)[i] = requantize<int16_t>(y, call.rq);
  };
  if (call.wide) {  // scalar: wide sums and the reference path
    for (size_t r = m0; r < m1; ++r) {
      const float ra = call.ra ? call.ra[r] : 0.f;
      const float* res = d.residual ? d.residual + static_cast<int64_t>(r) * d.residual_ld : nullptr;
      for (size_t c = c0; c < c1; ++c) {
        const float y = epilogue_value64(acc64[(r - m0) * call.ldc + c], c, ra, call.params, res);
        switch (d.kind) {
          case MatmulDest::Kind::kF32Rows:
            d.f32[static_cast<int64_t>(r) * d.ld + static_cast<int64_t>(c)] = y;
            if (d.twin) store_int(y, d.twin, r * static_cast<size_t>(d.ld) + c);
            break;
          case MatmulDest::Kind::kF32Planes: {
            const int64_t n = static_cast<int64_t>(r) / d.plane, px = static_cast<int64_t>(r) % d.plane;
            d.f32[(n * d.channels + static_cast<int64_t>(c)) * d.plane + px] = y;
            break;
          }
          case MatmulDest::Kind::kInt: store_int(y, d.data, r * static_cast<size_t>(d.ld) + c); break;
        }
      }
    }
    if (d.rows_done) d.rows_done(d.rows_done_ctx, static_cast<int64_t>(m0), static_cast<int64_t>(m1));
    return;
  }
  // Rows [r0, r1) of the sums as an epilogue tile.
  auto tile = [&](size_t r0, size_t r1) {
    detail::EpilogueTile t{acc32 + (r0 - m0) * call.ldc + c0, call.ldc, r1 - r0, c0, c1,
                           call.ra ? call.ra + r0 : nullptr};
    if (d.residual) {
      t.res = d.residual + static_cast<int64_t>(r0) * d.residual_ld;
      t.ldr = static_cast<size_t>(d.residual_ld);
    }
    return t;
  };
  const detail::EpilogueTile t = tile(m0, m1);
  switch (d.kind) {
    case MatmulDest::Kind::kF32Rows: {
      float* f = d.f32 + static_cast<int64_t>(m0) * d.ld;
      const size_t ld = static_cast<size_t>(d.ld);
      if (d.rows_done && !d.twin) {
        for (size_t r = m0; r < m1; r += 8) {
          const size_t r1 = std::min(m1, r + 8);
          detail::epilogue_to_f32(tile(r, r1), call.params, d.f32 + static_cast<int64_t>(r) * d.ld, ld);
          d.rows_done(d.rows_done_ctx, static_cast<int64_t>(r), static_cast<int64_t>(r1));
        }
        return;
      }
      if (!d.twin) {
        detail::epilogue_to_f32(t, call.params, f, ld);
        return;
      }
      const detail::IntType it = d.type == DType::kU8   ? detail::IntType::kU8
                                 : d.type == DType::kI8 ? detail::IntType::kI8
                                                        : detail::IntType::kI16;
      detail::epilogue_to_f32_and_int(t, call.params, call.rq, f, ld, it,
                                      static_cast<uint8_t*>(d.twin) + m0 * ld * dtype_size(d.type), ld);
      return;
    }
    case MatmulDest::Kind::kF32Planes: {
      // Tile rows may span images: one call per image.
      const size_t plane = static_cast<size_t>(d.plane);
      for (size_t r = m0; r < m1;) {
        const size_t n = r / plane, end = std::min(m1, (n + 1) * plane);
        detail::epilogue_to_f32_planes(tile(r, end), call.params, d.f32 + static_cast<int64_t>(n) * d.channels * d.plane +
                                                            static_cast<int64_t>(r - n * plane),
                                       plane);
        r = end;
      }
      return;
    }
    case MatmulDest::Kind::kInt: {
      const size_t ld = static_cast<size_t>(d.ld);
      if (call.steps && d.type == DType::kU8)
        detail::epilogue_steps_to_u8(t, *call.steps, static_cast<uint8_t*>(d.data) + m0 * ld, ld);
      else if (call.steps)
        detail::epilogue_steps_to_i8(t, *call.steps, static_cast<int8_t*>(d.data) + m0 * ld, ld);
      else if (d.type == DType::kU8)
        detail::epilogue_to_u8(t, call.params, call.rq, static_cast<uint8_t*>(d.data) + m0 * ld, ld);
      else if (d.type == DType::kI8)
        detail::epilogue_to_i8(t, call.params, call.rq, static_cast<int8_t*>(d.data) + m0 * ld, ld);
      else
        detail::epilogue_to_i16(t, call.params, call.rq, static_cast<int16_t*>(d.data) + m0 * ld, ld);
      return;
    }
  }
}

void QuantizedMatmul::quantize_into(const float* x, int64_t rows, int64_t ldx, void* dst, size_t stride,
                                    int64_t* regions, int64_t* sensitive) const {
  const quant::ActivationLayout layout{rows, 1, 1, in_, static_cast<int64_t>(stride)};
  auto go = [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    for (int64_t r = 0; r < rows; ++r) {
      T* row = out + r * static_cast<int64_t>(stride);
      quant::quantize(x + r * ldx, in_, act_, row);
      std::fill(row + in_, row + stride, T{0});
    }
    *sensitive += transform(out, layout, regions);
  };
  switch (storage_type()) {
    case DType::kU8: go(static_cast<uint8_t*>(dst)); break;
    case DType::kI8: go(static_cast<int8_t*>(dst)); break;
    default: go(static_cast<int16_t*>(dst)); break;
  }
}

void QuantizedMatmul::count_pairs(const swar::MatrixView& q, LayerStats& stats) const {
  int64_t pairs = 0;
  const int64_t top = static_cast<int64_t>(act_terms_.size()) - 1;
  for (size_t r = 0; r < q.rows; ++r)
    for (int64_t i = 0; i < in_; ++i) {
      const int32_t v = q.at(r, static_cast<size_t>(i));
      pairs += act_terms_[static_cast<size_t>(std::min<int64_t>(v < 0 ? -v : v, top))] *
               weight_terms_[static_cast<size_t>(i)];
    }
  stats.pairs += pairs;
  stats.macs += static_cast<int64_t>(q.rows) * counted_in_ * out_;
}

void QuantizedMatmul::release_reference_weights() { std::vector<int16_t>().swap(qw_.q); }

bool QuantizedMatmul::zero_weight_is_zero() const {
  for (const quant::Affine& a : qw_.affine)
    if (a.offset != 0 || a.mul != 1) return false;
  return true;
}

bool QuantizedMatmul::takes_gathered_rows() const {
  if (wide_) return false;
  return (zero_weight_is_zero() && swar::reads_gathered(packed_)) || swar::packs_gathered(packed_);
}

void QuantizedMatmul::run_gather(const swar::ActivationGather& g, const MatmulDest& out, Activation act,
                                 const RunContext& ctx) const {
  if (ctx.stats || ctx.reference || !takes_gathered_rows()) {  // rows copied out
    thread_local std::vector<uint8_t> buf;
    const size_t k = g.segments * g.run;
    grow_scratch(buf, std::max<size_t>(1, g.rows * k));
    for (size_t r = 0; r < g.rows; ++r)
      for (size_t s = 0; s < g.segments; ++s)
        std::memcpy(buf.data() + r * k + s * g.run, g.base + g.row_offset[r] + s * g.segment_stride, g.run);
    run_quantized({buf.data(), swar::ElemType::kU8, g.rows, k, k}, out, act, ctx);
    return;
  }
  const size_t m = g.rows;
  if (m == 0) return;
  const size_t ldc = (static_cast<size_t>(out_) + 15) / 16 * 16;
  Call call = plain_call(out, act, ldc);
  swar::ActivationGather gather = g;
  thread_local std::vector<float> ra;
  if (need_row_sums_) {  // the GEMM sums each row as it packs it
    grow_scratch(ra, m);
    gather.row_sums = ra.data();
    call.ra = ra.data();
    call.params.row_scale = row_scale_.data();
  }
  attach_steps(call);
  swar::GemmOptions options;
  options.c_block_padded = true;
  options.epilogue = {[](void* state_ptr, const void* c, size_t m0, size_t m1, size_t c0, size_t c1) {
                        const auto* state = static_cast<const Call*>(state_ptr);
                        state->self->epilogue(*state, c, m0, m1, c0, c1);
                      },
                      &call};
  options.c_per_task = true;  // sums in the GEMM's per-task buffers: no C
  int32_t* no_c = nullptr;
  swar::gemm(gather, packed_, no_c, ldc, ctx.ex, options);
}

void QuantizedMatmul::finish_sums(const int32_t* sums, size_t ldc, size_t m0, size_t m1, const MatmulDest& out,
                                  Activation act) const {
  if (!uses_plain_sums()) fail("quantized layer", "sums formed outside the GEMM need int32 sums without row sums");
  Call call = plain_call(out, act, ldc);
  attach_steps(call);
  epilogue(call, sums, m0, m1, 0, static_cast<size_t>(out_));
}

QuantizedMatmul::Call QuantizedMatmul::plain_call(const MatmulDest& out, Activation act, size_t ldc) const {
  Call call;
  call.self = this;
  call.out = &out;
  call.ldc = ldc;
  call.params = {scale_.data(), offset_.data(), nullptr, epilogue_act(act)};
  if (out.kind == MatmulDest::Kind::kInt || out.twin) call.rq = requant_params(out.grid);
  return call;
}

namespace {

swar::ElemType elem_of(DType t) {
  return t == DType::kU8 ? swar::ElemType::kU8 : t == DType::kI8 ? swar::ElemType::kI8 : swar::ElemType::kI16;
}

// ra[r] = the sum of row r of v, as a float (zero-point corrections).
void row_sums(const swar::MatrixView& v, float* ra) {
  int64_t sums[64];
  for (size_t r0 = 0; r0 < v.rows; r0 += 64) {
    swar::MatrixView part = v;
    part.data = static_cast<const uint8_t*>(v.data) + r0 * v.stride * swar::elem_bytes(v.type);
    part.rows = std::min<size_t>(64, v.rows - r0);
    swar::sum_rows(part, sums);
    for (size_t r = 0; r < part.rows; ++r) ra[r0 + r] = static_cast<float>(sums[r]);
  }
}

// A producer that also sums each produced row.
struct SummingRows {
  const swar::ActivationRows* inner;
  float* ra;
  static void produce(void* ctx, size_t r0, size_t r1, void* dst, size_t stride) {
    auto* self = static_cast<SummingRows*>(ctx);
    self->inner->produce(self->inner->ctx, r0, r1, dst, stride);
    row_sums({dst, self->inner->type, r1 - r0, self->inner->cols, stride}, self->ra + r0);
  }
};

}  // namespace

void QuantizedMatmul::run_gemm(const swar::MatrixView* view, const swar::ActivationRows* rows,
                               const MatmulDest& out, Activation act, const RunContext& ctx) const {
  const size_t m = view ? view->rows : rows->rows;
  if (m == 0) return;
  const swar::PackedWeights& packed = m >= kManyRows && many_rows_packed_ ? *many_rows_packed_ : packed_;
  thread_local std::vector<int64_t> acc64;
  thread_local std::vector<float> ra;
  Call call;
  call.out = &out;
  // Sums in rows padded to whole blocks of 16 columns (the GEMM's per-task
  // buffers, or the int64 C): whole blocks go straight into them.
  const size_t ldc = (static_cast<size_t>(out_) + 15) / 16 * 16;
  call.ldc = ldc;
  call.params = {scale_.data(), offset_.data(), need_row_sums_ ? row_scale_.data() : nullptr, epilogue_act(act)};
  if (out.kind == MatmulDest::Kind::kInt || out.twin) call.rq = requant_params(out.grid);
  if (need_row_sums_) {
    ra.assign(m, 0.f);
    call.ra = ra.data();
    if (view && ctx.reference)  // the definition, independent of the vectorised sums
      swar::for_each_row(*view, [&](const auto* row, size_t r) {
        int64_t sum = 0;
        for (size_t i = 0; i < view->cols; ++i) sum += row[i];
        ra[r] = static_cast<float>(sum);
      });
    else if (view)
      row_sums(*view, ra.data());
  }
  if (ctx.reference) {  // the definition: scalar GEMM, scalar epilogue
    if (qw_.q.empty()) fail("quantized layer", "the reference kernels need the integer weights this engine released");
    grow_scratch(acc64, m * ldc);
    swar::gemm_reference(*view, swar::MatrixView::of(qw_.q.data(), static_cast<size_t>(out_), static_cast<size_t>(in_)),
                         acc64.data(), ldc);
    call.wide = true;
    epilogue(call, acc64.data(), 0, m, 0, static_cast<size_t>(out_));
    return;
  }
  swar::GemmOptions options;
  options.trusted_range = true;  // our own clamping quantizers made the rows
  options.zero_padded_rows = view && view->stride > view->cols;
  options.c_block_padded = true;
  options.epilogue = {[](void* state_ptr, const void* c, size_t m0, size_t m1, size_t c0, size_t c1) {
                        const auto* state = static_cast<const Call*>(state_ptr);
                        state->self->epilogue(*state, c, m0, m1, c0, c1);
                      },
                      &call};
  options.c_per_task = true;
  call.self = this;
  SummingRows summing{rows, ra.data()};
  swar::ActivationRows summed;
  if (rows && need_row_sums_) {
    summed = *rows;
    summed.produce = SummingRows::produce;
    summed.ctx = &summing;
    rows = &summed;
  }
  if (wide_) {
    grow_scratch(acc64, m * ldc);
    call.wide = true;
    if (view) swar::gemm(*view, packed, acc64.data(), ldc, ctx.ex, options);
    else swar::gemm(*rows, packed, acc64.data(), ldc, ctx.ex, options);
  } else {  // int32 sums only in the GEMM's per-task buffers: no C
    attach_steps(call);
    int32_t* no_c = nullptr;
    if (view) swar::gemm(*view, packed, no_c, ldc, ctx.ex, options);
    else swar::gemm(*rows, packed, no_c, ldc, ctx.ex, options);
  }
}

void QuantizedMatmul::run_quantized(const swar::MatrixView& q, const MatmulDest& out, Activation act,
                                    const RunContext& ctx) const {
  if (ctx.stats) count_pairs(q, *ctx.stats);
  run_gemm(&q, nullptr, out, act, ctx);
}

void QuantizedMatmul::run_rows(const swar::ActivationRows& rows, const MatmulDest& out, Activation act,
                               const RunContext& ctx) const {
  if (!ctx.stats && !ctx.reference) {
    run_gemm(nullptr, &rows, out, act, ctx);
    return;
  }
  // Counting and the reference need the whole matrix.
  thread_local std::vector<uint8_t> buf;
  const size_t es = dtype_size(storage_type());
  const size_t stride = static_cast<size_t>(in_ + 3) / 4 * 4 + 32 / es;  // the producer's slack (swar::ActivationRows)
  grow_scratch(buf, std::max<size_t>(1, rows.rows * stride * es));
  rows.produce(rows.ctx, 0, rows.rows, buf.data(), stride);
  const swar::MatrixView v{buf.data(), rows.type, rows.rows, static_cast<size_t>(in_), stride};
  run_quantized(v, out, act, ctx);
}

namespace {
struct FloatRows {
  const QuantizedMatmul* qm;
  const float* x;
  int64_t ldx;
};
}  // namespace

void QuantizedMatmul::run(const float* x, int64_t m, int64_t ldx, const MatmulDest& out, Activation act,
                          const RunContext& ctx) const {
  const DType t = storage_type();
  if (ctx.stats || ctx.reference) {  // the unfused path: quantize everything, then multiply
    thread_local std::vector<uint8_t> buf;
    const size_t stride = static_cast<size_t>(in_ + 3) / 4 * 4;
    grow_scratch(buf, std::max<size_t>(1, static_cast<size_t>(m) * stride * dtype_size(t)));
    int64_t regions = 0, sensitive = 0;
    quantize_into(x, m, ldx, buf.data(), stride, &regions, &sensitive);
    if (ctx.stats) {
      ctx.stats->regions += regions;
      ctx.stats->sensitive += sensitive;
    }
    const swar::MatrixView v{buf.data(), elem_of(t), static_cast<size_t>(m), static_cast<size_t>(in_), stride};
    run_quantized(v, out, act, ctx);
    return;
  }
  FloatRows src{this, x, ldx};
  swar::ActivationRows rows;
  rows.type = elem_of(t);
  rows.rows = static_cast<size_t>(m);
  rows.cols = static_cast<size_t>(in_);
  rows.ctx = &src;
  rows.produce = [](void* c, size_t r0, size_t r1, void* dst, size_t stride) {
    auto* s = static_cast<FloatRows*>(c);
    int64_t regions = 0, sensitive = 0;
    s->qm->quantize_into(s->x + static_cast<int64_t>(r0) * s->ldx, static_cast<int64_t>(r1 - r0), s->ldx, dst,
                         stride, &regions, &sensitive);
  };
  run_gemm(nullptr, &rows, out, act, ctx);
}

}  // namespace bitlane::ops
