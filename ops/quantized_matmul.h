// The integer core of dense, conv2d and lstm layers: y = x W^T + b with x and
// W quantized (quant/uniform.h), the dot products on swar::gemm, and the
// exact integer correction for zero points / binary grids before one float
// multiply per output. With RunContext::reference the same arithmetic runs
// on swar::gemm_reference and a scalar epilogue, which must agree bit for bit.
//
// The fast path is fused: activations are quantized (or unfolded, by the
// caller's producer) per GEMM task into the packed layout, and each finished
// tile goes through the epilogue (ops/kernels/epilogue.h) -- scaling, bias,
// activation, and either float output or requantization onto the next
// layer's grid -- while it is in cache.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "ops/fused_activation.h"
#include "ops/op.h"
#include "quant/scheme.h"
#include "quant/uniform.h"
#include "swar/gemm.h"

namespace bitlane::ops {

// Where a layer's outputs go. Output column c of GEMM row r lands at:
//   kF32Rows    f32[r * ld + c]
//   kF32Planes  rows are pixels of images of `plane` pixels; image n, pixel p:
//               f32[(n * channels + c) * plane + p]   (NCHW, c counts from the
//               start of `f32`, which points at the group's first channel)
//   kInt        data[r * ld + c] of `type` on `grid` (the next layer's input)
// and with kF32Rows and a twin, also twin[r * ld + c] as kInt would (the
// float tensor's integer twin, ops/op.h).
struct MatmulDest {
  enum class Kind { kF32Rows, kF32Planes, kInt };
  Kind kind = Kind::kF32Rows;
  float* f32 = nullptr;
  void* data = nullptr;
  int64_t ld = 0;
  int64_t plane = 0, channels = 0;
  DType type = DType::kU8;
  quant::Affine grid;
  // Added to every output before the activation (a fused residual add):
  // residual[r * residual_ld + c], or none.
  const float* residual = nullptr;
  int64_t residual_ld = 0;
  void* twin = nullptr;  // kF32Rows: the same values on `grid` as `type`, or none
  // kF32Rows: told of rows as they are finished, every column written --
  // rows_done(rows_done_ctx, r0, r1), blocks of at most 8 rows while they
  // are in L1, from the task that computed them -- so a consumer (the LSTM
  // cell) reads them there. The call's tiles must span every column, which
  // they do on one thread (swar/gemm.cc) and in the reference path; a
  // partial tile is an error.
  void (*rows_done)(void* ctx, int64_t r0, int64_t r1) = nullptr;
  void* rows_done_ctx = nullptr;

  static MatmulDest rows(float* y, int64_t ld) {
    MatmulDest d;
    d.f32 = y;
    d.ld = ld;
    return d;
  }
};

// How a layer's activations will be gathered (QuantizedMatmul::prepare).
struct GatheredLayout {
  const std::vector<uint8_t>* padding = nullptr;
  size_t run = 0;
  double in_place_speedup = 1.0;
};

class QuantizedMatmul {
 public:
  // W is [out, in] fp32, bias [out] or null; act describes how inputs will
  // be quantized. The plan's scheme (uniform, term, sdp, drq) decides the
  // weight integers and the run-time transform of the activations; term
  // groups stay within segments of `segment` weights (conv: the channels of
  // one kernel position; default: the whole row). gathered.padding: the
  // activations will come through run_gather (an implicit im2col), with
  // the columns marked 1 only padding the layout (their activations always
  // integer 0), in runs of gather_run values; the method and the weights'
  // integers are chosen for that (swar::choose_method_in_place,
  // express_for_gather), the methods that read the rows in place counted
  // in_place_speedup times faster (the caller's Winograd).
  using Gathered = GatheredLayout;
  void prepare(const float* w, int64_t out, int64_t in, const float* bias,
               const quant::LayerPlan& plan, const quant::Affine& act, int64_t segment = 0,
               const Gathered& gathered = {});
  bool ready() const { return out_ > 0; }
  const quant::Affine& activation() const { return act_; }
  // The integer format of activations after the transform, as packed, and
  // the tensor type that holds them.
  const swar::IntFormat& storage() const { return storage_; }
  DType storage_type() const;
  // The scheme's run-time transform of quantized activations, applied before
  // the GEMM (conv applies it to the image, before im2col; the row paths
  // apply it themselves). Returns the regions kept at full precision (DRQ)
  // and adds the regions seen to *regions.
  template <typename T>
  int64_t transform(T* data, const quant::ActivationLayout& layout, int64_t* regions) const {
    return transform_ ? transform_->apply(data, layout, regions) : 0;
  }
  bool has_transform() const { return transform_ != nullptr; }
  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  int64_t weight_bytes() const;  // integer weights at their bit width

  // y = x W^T + b, then `act`, for m rows of `in` floats (row stride ldx):
  // each GEMM task quantizes (and transforms) its rows into the packed layout.
  void run(const float* x, int64_t m, int64_t ldx, const MatmulDest& out, Activation act,
           const RunContext& ctx) const;
  // The same from rows already on this layer's grid and transformed (the
  // previous layer's fused output).
  void run_quantized(const swar::MatrixView& q, const MatmulDest& out, Activation act, const RunContext& ctx) const;
  // The same from rows a producer writes per task (conv: im2col), already
  // on this layer's grid and transformed. Rows sums for zero-point
  // corrections are computed here.
  void run_rows(const swar::ActivationRows& rows, const MatmulDest& out, Activation act,
                const RunContext& ctx) const;

  // The same from unsigned bytes gathered in place (conv: an implicit
  // im2col; swar::ActivationGather), already on this layer's grid.
  // takes_gathered_rows: whether its GEMM reads them there (or its method
  // packs them from there) -- else run_gather copies them out into rows, and
  // a layer is better off with its own im2col.
  bool takes_gathered_rows() const;
  void run_gather(const swar::ActivationGather& rows, const MatmulDest& out, Activation act,
                  const RunContext& ctx) const;

  // The epilogue every path above ends in, for int32 sums a caller formed
  // itself (conv's Winograd path): rows [m0, m1) of the output from
  // sums[(r - m0) * ldc + c], the exact integer dot products the GEMM would
  // have given (ldc a multiple of 16, the columns past out() readable).
  // Only for layers whose sums need no activation row sums and fit int32
  // (uses_plain_sums).
  void finish_sums(const int32_t* sums, size_t ldc, size_t m0, size_t m1, const MatmulDest& out,
                   Activation act) const;
  bool uses_plain_sums() const { return !wide_ && !need_row_sums_; }
  // The integer weights (out x in), until release_reference_weights.
  const std::vector<int16_t>& integer_weights() const { return qw_.q; }

  // The weights as packed for calls of one row; calls of kManyRows rows or
  // more take many_rows_packed() where it is set (prepare).
  const swar::PackedWeights& packed() const { return packed_; }
  const std::optional<swar::PackedWeights>& many_rows_packed() const { return many_rows_packed_; }
  // Rows from which a call's activation rows are "many": at 1 x 1 bits on
  // AVX2, int7 beat bit-serial from 2 rows on (2..32 x 784 x 512: 1.06-1.13x,
  // 0.83x at 1 row), AVX-VNNI's int8 was level at 2 rows and 1.18x at 4
  // (0.74x at 1); on Emerald Rapids' AVX-512 int8 ran 4 x 784 x 512 at 2 x 2
  // bits 1.77x bit-serial (0.75x at 1 row; bench/README.md, thirty-ninth
  // session).
  static constexpr size_t kManyRows = 2;
  // The GEMM method that runs it here ("int8", ...; its fallback's name when
  // this target lacks the method's instructions); "int7 (1 row: bitserial)"
  // where calls of one row take another.
  std::string kernel() const;
  // Whether a weight of integer 0 means 0 in every row (symmetric grids with
  // mul 1): then columns of zero weights may pad K without changing a sum.
  bool zero_weight_is_zero() const;
  // K as counted in statistics, when K is padded with zero columns.
  void set_counted_in(int64_t k) { counted_in_ = k; }
  // Frees the unpacked integer weights (2 bytes per weight: four times what
  // a 4-bit layer's packed weights take), which only the scalar reference
  // GEMM (RunContext::reference) reads. Engines built without reference
  // kernels call it once the layer is prepared; running the reference
  // afterwards is an error.
  void release_reference_weights();

  // The unfused float path of the old interface: y (m x out, ldy) from float rows.
  void run(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, const RunContext& ctx) const {
    run(x, m, ldx, MatmulDest::rows(y, ldy), Activation::kNone, ctx);
  }

 private:
  void express_for_gather(const std::vector<uint8_t>& padding);
  struct Call;
  void run_gemm(const swar::MatrixView* view, const swar::ActivationRows* rows, const MatmulDest& out,
                Activation act, const RunContext& ctx) const;
  // The epilogue's parameters for sums that need no row sums (finish_sums; run_gather adds them).
  Call plain_call(const MatmulDest& out, Activation act, size_t ldc) const;
  // Rows [m0, m1) x columns [c0, c1) of the sums, row m0 at `sums`.
  void epilogue(const Call& call, const void* sums, size_t m0, size_t m1, size_t c0, size_t c1) const;
  void count_pairs(const swar::MatrixView& q, LayerStats& stats) const;
  // Quantizes and transforms rows of x into `dst` (row stride `stride`
  // elements of the storage type, zero-padded); returns DRQ statistics.
  void quantize_into(const float* x, int64_t rows, int64_t ldx, void* dst, size_t stride, int64_t* regions,
                     int64_t* sensitive) const;

  int64_t out_ = 0, in_ = 0, counted_in_ = 0;
  quant::Affine act_;
  swar::IntFormat storage_;
  std::shared_ptr<const quant::ActivationTransform> transform_;  // null: none
  quant::TermEncoding cost_encoding_ = quant::TermEncoding::kBinary;
  std::vector<int64_t> weight_terms_;  // per input column: terms of that column's weights
  std::vector<uint8_t> act_terms_;     // terms of each activation magnitude
  quant::QuantizedWeights qw_;
  swar::PackedWeights packed_;
  std::optional<swar::PackedWeights> many_rows_packed_;  // set where many rows run on another method
  // y = S * scale + offset - Ra * row_scale per output column c, with S the
  // integer dot product and Ra the row's sum of quantized inputs:
  // scale = sa sw ma mw, offset = sa sw (K oa ow - mw oa Cw) + bias,
  // row_scale = sa sw ma ow (non-zero only for weight grids with an offset).
  std::vector<float> scale_, offset_, row_scale_;
  bool wide_ = false;          // int64 accumulators needed
  bool need_row_sums_ = false;
  int64_t acc_bound_ = 0;      // |exact sum| <= acc_bound_
  // 1- and 2-bit outputs requantized by thresholds on the sums, kept for the
  // last grid and activation they were computed for (shared by copies).
  struct StepsCache;
  std::shared_ptr<StepsCache> steps_cache_;
  void attach_steps(Call& call) const;
};

// The element type of integers of format f in tensors (u8, i8 or i16).
DType storage_dtype(const swar::IntFormat& f);

}  // namespace bitlane::ops
