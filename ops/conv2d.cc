// conv2d: NCHW convolution with stride, padding [top, left, bottom, right],
// dilation and groups (depthwise when groups == channels). Lowered to GEMM:
// the input is first laid out channels-last (NHWC), so that an im2col row
// (n, oh, ow) is kh x kw contiguous copies of the group's channels; the
// weights are reordered to [Cout, kh, kw, Cin/g] to match. Quantized, the
// input is quantized once and im2col runs on the integers, padding with the
// integer that stands for 0.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "core/scratch.h"
#include "core/aligned_buffer.h"
#include "core/executor.h"
#include "core/lazy.h"
#include "ops/conv_lowering.h"
#include "ops/exp_matmul.h"
#include "ops/factories.h"
#include "ops/fused_activation.h"
#include "ops/kernels/gemm_f32.h"
#include "ops/kernels/winograd.h"
#include "ops/quantized_matmul.h"
#include "ops/shape_check.h"
#include "quant/calibration.h"

namespace bitlane::ops {
namespace {

using conv::Geometry;

class Conv2d : public Op {
 public:
  explicit Conv2d(OpBuilder& b) : where_(b.where()) {
    w_ = b.weight("weight");
    bias_ = b.optional_weight("bias");
    if (w_->rank() != 4) b.error("weight", "must be [Cout, Cin/groups, kh, kw], got " + shape_str(w_->shape()));
    groups_ = b.get_int("groups", 1);
    activation_ = parse_activation(b);
    residual_ = b.get_bool("residual", false);
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
    expect_inputs(where_, in, residual_ ? 2 : 1);
    expect_rank(where_, in[0], 4, "input (N, C, H, W)");
    if (in[0][1] != w_->dim(1) * groups_)
      fail(where_, "input shape " + shape_str(in[0]) + " has " + std::to_string(in[0][1]) +
                       " channels; weight shape " + shape_str(w_->shape()) + " with groups " +
                       std::to_string(groups_) + " needs " + std::to_string(w_->dim(1) * groups_));
    const Geometry g = geometry(in[0]);
    if (g.oh < 1 || g.ow < 1)
      fail(where_, "input shape " + shape_str(in[0]) + " is smaller than the kernel " +
                       shape_str(w_->shape()));
    const Shape out{g.n, cout_, g.oh, g.ow};
    if (residual_ && in[1] != out)
      fail(where_, "residual shape " + shape_str(in[1]) + " differs from the output shape " + shape_str(out));
    return {out};
  }

  // The residual input as channels-last rows ([pixel][channel]), transposed
  // into scratch when it is NCHW; null without one.
  const float* residual_rows(const std::vector<const Tensor*>& in) const {
    if (!residual_) return nullptr;
    const Tensor& r = *in[1];
    if (r.layout() == Layout::kChannelsLast) return r.f32();
    thread_local std::vector<float> rows;
    grow_scratch(rows, static_cast<size_t>(r.size()));
    const int64_t n = r.dim(0), c = r.dim(1), plane = r.dim(2) * r.dim(3);
    conv::to_channels_last(r.f32(), n, c, plane, rows.data());
    return rows.data();
  }

  // Images are processed in chunks whose patch matrix stays cache-sized
  // (about 1 MB): each chunk is laid out channels-last, quantized, unfolded
  // and multiplied while it is in cache. Chunks run in parallel, each writing
  // its own images.
  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Geometry g = geometry(in[0]->shape());
    if (out_layout_ == Layout::kChannelsLast) out[0]->set_layout(Layout::kChannelsLast);
    const float* res = residual_rows(in);
    if (!qm_.empty()) {
      run_quantized(ctx, g, *in[0], *out[0], res);
      return;
    }
    const bool in_nhwc = in[0]->layout() == Layout::kChannelsLast;
    const int64_t k = g.c / groups_ * g.kh * g.kw, plane = g.oh * g.ow;
    const int64_t per_chunk = std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(1, plane * k), 1, g.n);
    const int64_t chunks = (g.n + per_chunk - 1) / per_chunk;
    auto body = [&](size_t b, size_t e) {
      const RunContext inner{chunks > 1 ? Executor::inline_executor() : ctx.ex, ctx.state, ctx.reference, ctx.stats};
      for (size_t ch = b; ch < e; ++ch) {
        const int64_t n0 = static_cast<int64_t>(ch) * per_chunk, n1 = std::min(g.n, n0 + per_chunk);
        run_chunk(inner, g, in[0]->f32(), in_nhwc, n0, n1, out[0]->f32(), res);
      }
    };
    if (chunks > 1)
      ctx.ex.parallel_for(static_cast<size_t>(chunks), 1, body);
    else
      body(0, 1);
  }

  void run_chunk(const RunContext& ctx, const Geometry& geo, const float* x, bool in_nhwc, int64_t n0,
                 int64_t n1, float* y, const float* residual) const {
    Geometry g = geo;
    g.n = n1 - n0;
    const int64_t cg = g.c / groups_, cog = cout_ / groups_, k = cg * g.kh * g.kw;
    const int64_t plane = g.oh * g.ow, rows = g.n * plane, in_size = g.n * g.c * g.h * g.w;
    thread_local std::vector<float> xhwc, cols, res;
    const float* src_hwc = x + n0 * g.c * g.h * g.w;
    if (!in_nhwc) {
      grow_scratch(xhwc, static_cast<size_t>(in_size));
      conv::to_channels_last(src_hwc, g.n, g.c, g.h * g.w, xhwc.data());
      src_hwc = xhwc.data();
    }
    const bool nhwc_out = out_layout_ == Layout::kChannelsLast;
    if (!nhwc_out || !em_.empty()) grow_scratch(res, static_cast<size_t>(rows * cog));
    // The float GEMM reads the input in place (gemm_f32_gathered) in runs
    // of K: a kernel row's kw pixels of all channels where they are adjacent
    // (one group, undilated width), else each kernel position's channels
    // when there are a few of them (shorter runs cost more in offsets than
    // their copy into a patch matrix).
    const bool row_runs = groups_ == 1 && g.dw == 1;
    const bool gathered = em_.empty() && (row_runs || cg >= 4);
    const float* padded_x = src_hwc;
    conv::Geometry gp = g;
    const int64_t* row_offset = nullptr;
    const int64_t taps = row_runs ? g.kh : g.kh * g.kw;  // runs per row of the patch matrix
    thread_local std::vector<int64_t> run_offset;
    if (gathered) {
      thread_local AlignedBuffer<float> padded;
      if (std::any_of(padding_.begin(), padding_.end(), [](int64_t p) { return p != 0; })) {
        const conv::PaddedInput p = conv::padded_input(g, padding_[2], padding_[3], g.c, sizeof(float), 0);
        padded.reserve_scratch(static_cast<size_t>(g.n) * p.image_bytes() / sizeof(float));
        const auto* src_bytes = reinterpret_cast<const uint8_t*>(src_hwc);
        conv::pad_images(
            ctx.ex, g, p, [&](int64_t n) { return src_bytes + static_cast<size_t>(n * g.h * g.w * g.c) * 4; },
            reinterpret_cast<uint8_t*>(padded.data()));
        padded_x = padded.data();
        gp = p.gp;
      }
      row_offset = conv::gather_row_offsets(g, gp, g.c);
      grow_scratch(run_offset, static_cast<size_t>(taps));
    }
    for (int64_t grp = 0; grp < groups_; ++grp) {
      const float* b = bias_ ? bias_->f32() + grp * cog : nullptr;
      // The float GEMM adds the residual and applies the activation as it
      // stores, straight into a channels-last output (or into res, for
      // the transpose to NCHW below).
      float* out = nhwc_out ? y + n0 * plane * cout_ + grp * cog : res.data();
      const int64_t ldo = nhwc_out ? cout_ : cog;
      const F32Epilogue epilogue{residual ? residual + n0 * plane * cout_ + grp * cog : nullptr, cout_,
                                 activation_};
      if (!em_.empty()) {
        grow_scratch(cols, static_cast<size_t>(rows * k));
        conv::im2col(src_hwc, g, 0, rows, grp * cg, cg, cols.data(), k);
        em_[static_cast<size_t>(grp)].run(cols.data(), rows, k, res.data(), cog, ctx);
        finish_exponent(res.data(), rows, cog, epilogue, out, ldo);
      } else if (gathered) {
        // No patch matrix written and read back (a quarter of float ResNet
        // went to im2col); the sums are the same chains as over it.
        for (int64_t t = 0; t < taps; ++t)
          run_offset[static_cast<size_t>(t)] =
              row_runs ? t * g.dh * gp.w * g.c : ((t / g.kw) * g.dh * gp.w + (t % g.kw) * g.dw) * g.c + grp * cg;
        gemm_f32_gathered(padded_x, row_offset, run_offset.data(), rows, taps,
                          float_weights()[static_cast<size_t>(grp)], b, out, ldo, ctx.ex, epilogue);
      } else {
        // The patch matrix in blocks of ~256 KB, each multiplied while in
        // L2: whole, it was 9x the input (ResNet's first stage: 9 MB per 16
        // images) and im2col ran at DRAM speed, a third of the float call.
        // Every output is one FMA chain over K whatever the rows around it,
        // so the same bits.
        const int64_t block = std::max<int64_t>(32, (int64_t{1} << 16) / std::max<int64_t>(k, 1) / 32 * 32);
        grow_scratch(cols, static_cast<size_t>(std::min(rows, block) * k));
        for (int64_t r0 = 0; r0 < rows; r0 += block) {
          const int64_t r1 = std::min(rows, r0 + block);
          conv::im2col(src_hwc, g, r0, r1, grp * cg, cg, cols.data(), k);
          F32Epilogue block_epilogue = epilogue;
          if (block_epilogue.residual) block_epilogue.residual += r0 * cout_;
          gemm_f32(cols.data(), r1 - r0, k, float_weights()[static_cast<size_t>(grp)], b, out + r0 * ldo, ldo,
                   ctx.ex, block_epilogue);
        }
      }
      if (nhwc_out) continue;
      // [n, oh, ow, c] -> [n, grp * cog + c, oh, ow]
      for (int64_t n = 0; n < g.n; ++n)
        conv::transpose<Activation::kNone>(res.data() + n * plane * cog, plane, cog, cog,
                                           y + ((n0 + n) * cout_ + grp * cog) * plane, plane);
    }
  }

  // The exponent path's sums (rows x cols, bias included) through the same
  // epilogue as the float GEMM's, into out (row stride ldo).
  static void finish_exponent(const float* sums, int64_t rows, int64_t cols, const F32Epilogue& e, float* out,
                              int64_t ldo) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float v = sums[r * cols + c];
        if (e.residual) v = v + e.residual[r * e.ld_residual + c];  // before the activation, as the unfused add
        out[r * ldo + c] = apply_activation(e.act, v);
      }
  }

  // The integer path: the input as channels-last integers on this layer's
  // grid (quantized here in one pass from NCHW floats, or handed over by the
  // previous layer), the scheme's transform, then per group one GEMM whose
  // tasks unfold their own rows (im2col) in cache, and an epilogue per tile
  // that writes NCHW floats or the next layer's integers.
  void run_quantized(const RunContext& ctx, const Geometry& g, const Tensor& x, Tensor& y,
                     const float* residual) const {
    const QuantizedMatmul& q0 = qm_[0];
    const DType t = q0.storage_type();
    const size_t es = dtype_size(t);
    const int64_t per_image = g.h * g.w * g.c;
    // The integers handed over: the tensor itself, or the twin of its floats.
    const uint8_t* ints = x.dtype() != DType::kF32 ? static_cast<const uint8_t*>(x.data())
                          : in_twin_                 ? twin_data(x)
                                                     : nullptr;
    const bool float_input = ints == nullptr, nhwc = x.layout() == Layout::kChannelsLast;
    // The GEMM reads the input spatially padded with the integer that
    // stands for 0 (so the unfolding never checks bounds) and, in gather
    // mode, with channels padded to gather_cp_ (integer 0). The copies read
    // and write whole blocks past their runs: every buffer keeps slack.
    constexpr size_t kSlack = 64;
    thread_local AlignedBuffer<uint8_t> qx, padded;
    // Winograd tiles are 2 x 2 outputs: an odd output height or width reads
    // one more padded row or column (its outputs are dropped).
    const bool winograd = use_winograd(ctx);
    const int64_t extra_rows = winograd ? g.oh % 2 : 0, extra_cols = winograd ? g.ow % 2 : 0;
    const conv::PaddedInput p = conv::padded_input(g, padding_[2] + extra_rows, padding_[3] + extra_cols,
                                                   gather_cp_ ? gather_cp_ : g.c, es, pad_value(q0), fold_kw_);
    // Integers handed over in the layout the kernels read (channels-last,
    // no channel padding) are read where they lie: by Winograd, whose tiles
    // take the spatial padding as a value, and by the gathered GEMM when the
    // layer has no padding (ResNet's strided 1x1 projections), where the
    // padded copy would be the same bytes. A tensor stores 4 bytes per
    // element and a twin keeps 64 bytes of slack: room for the vector reads
    // past the last pixel.
    const bool unpadded = std::all_of(padding_.begin(), padding_.end(), [](int64_t v) { return v == 0; });
    const bool in_place = gather_cp_ == g.c && !fold_kw_ && !float_input && !q0.has_transform() &&
                          (in_twin_ || (4 - es) * static_cast<size_t>(x.size()) >= kSlack);
    if (in_place && winograd) {
      const size_t per_image_bytes = static_cast<size_t>(per_image) * es;
      const auto pad = static_cast<uint8_t>(p.pad);  // the integer for 0, as the padded copy would hold
      run_winograd(ctx, g, [&](int64_t n) {
        return detail::WinogradImage{ints + static_cast<size_t>(n) * per_image_bytes, g.h, g.w, g.pt, g.pl, pad};
      }, y, residual);
      return;
    }
    if (in_place && unpadded) {
      run_gathered(ctx, g, p.gp, ints, y, residual);
      return;
    }
    padded.reserve_scratch(static_cast<size_t>(g.n) * p.image_bytes() + kSlack);
    std::function<const uint8_t*(int64_t)> image;
    if (q0.has_transform()) {
      // The scheme's transform (term revealing, SDP, DRQ) sees the whole
      // quantized tensor first, in place on a copy.
      qx.reserve_scratch(static_cast<size_t>(g.n * per_image) * es + kSlack);
      if (float_input) {
        ctx.ex.parallel_for(static_cast<size_t>(g.n), 1, [&](size_t b, size_t e) {
          for (size_t n = b; n < e; ++n)
            quantize_image(g, x.f32(), nhwc, static_cast<int64_t>(n), q0, qx.data() + n * per_image * es);
        });
      } else {
        std::memcpy(qx.data(), ints, static_cast<size_t>(g.n * per_image) * es);
      }
      const quant::ActivationLayout layout{g.n, g.h, g.w, g.c, per_image};
      int64_t regions = 0, sensitive = 0;
      uint8_t* d = qx.data();
      if (t == DType::kI16) sensitive = q0.transform(reinterpret_cast<int16_t*>(d), layout, &regions);
      else if (t == DType::kI8) sensitive = q0.transform(reinterpret_cast<int8_t*>(d), layout, &regions);
      else sensitive = q0.transform(d, layout, &regions);
      if (ctx.stats) {
        ctx.stats->regions += regions;
        ctx.stats->sensitive += sensitive;
      }
      image = [&](int64_t n) { return qx.data() + n * per_image * static_cast<int64_t>(es); };
    } else if (float_input) {  // quantized image by image, each padded while in cache
      image = [&](int64_t n) {
        thread_local AlignedBuffer<uint8_t> one;
        one.reserve_scratch(static_cast<size_t>(per_image) * es);
        quantize_image(g, x.f32(), nhwc, n, q0, one.data());
        return static_cast<const uint8_t*>(one.data());
      };
    } else {  // the previous layer's integers
      image = [&](int64_t n) { return ints + n * per_image * static_cast<int64_t>(es); };
    }
    conv::pad_images(ctx.ex, g, p, image, padded.data());
    const Geometry& gp = p.gp;
    const void* xq = padded.data();
    if (winograd) {
      const size_t image_bytes = p.image_bytes();
      run_winograd(ctx, g, [&](int64_t n) {
        return detail::WinogradImage{static_cast<const uint8_t*>(xq) + static_cast<size_t>(n) * image_bytes, gp.h,
                                     gp.w, 0, 0, 0};
      }, y, residual);
      return;
    }
    if (gather_cp_) {
      run_gathered(ctx, g, gp, static_cast<const uint8_t*>(xq), y, residual);
      return;
    }
    const int64_t cg = g.c / groups_, cog = cout_ / groups_;
    for (int64_t grp = 0; grp < groups_; ++grp) {
      const QuantizedMatmul& qm = qm_[static_cast<size_t>(grp)];
      conv::Unfold u{&gp, xq, es, grp * cg, cg};
      swar::ActivationRows rows;
      rows.type = t == DType::kU8 ? swar::ElemType::kU8 : t == DType::kI8 ? swar::ElemType::kI8 : swar::ElemType::kI16;
      rows.rows = static_cast<size_t>(g.n * g.oh * g.ow);
      rows.cols = static_cast<size_t>(cg * g.kh * g.kw);
      rows.ctx = &u;
      rows.produce = conv::Unfold::produce;
      qm.run_rows(rows, destination(g, y, grp * cog, residual), activation_, ctx);
    }
  }

  // Where the GEMM of output channels [c0, c0 + cout / groups) writes: the
  // next layer's integers (channels-last), channels-last floats (with their
  // integer twin when some readers take one) or NCHW planes.
  MatmulDest destination(const Geometry& g, Tensor& y, int64_t c0, const float* residual) const {
    MatmulDest dest;
    const int64_t plane = g.oh * g.ow;
    if (out_q_) {
      y.set_layout(Layout::kChannelsLast);
      dest.kind = MatmulDest::Kind::kInt;
      dest.data = static_cast<uint8_t*>(y.data()) + static_cast<size_t>(c0) * dtype_size(out_q_->type);
      dest.ld = cout_;
      dest.type = out_q_->type;
      dest.grid = out_q_->grid;
    } else if (out_layout_ == Layout::kChannelsLast) {
      dest = MatmulDest::rows(y.f32() + c0, cout_);
      if (twin_q_) {
        dest.twin = twin_data(y) + static_cast<size_t>(c0) * dtype_size(twin_q_->type);
        dest.type = twin_q_->type;
        dest.grid = twin_q_->grid;
      }
    } else {
      dest.kind = MatmulDest::Kind::kF32Planes;
      dest.f32 = y.f32() + c0 * plane;
      dest.plane = plane;
      dest.channels = cout_;
    }
    if (residual) {
      dest.residual = residual + c0;
      dest.residual_ld = cout_;
    }
    return dest;
  }

  // Implicit im2col: row (n, oy, ox), kernel row i is gp.kw * cp bytes at
  // ((n * Hp + oy * sh + i * dh) * Wp + ox * sw) * cp of the padded input.
  void run_gathered(const RunContext& ctx, const Geometry& g, const Geometry& gp, const uint8_t* xq, Tensor& y,
                    const float* residual) const {
    const int64_t cp = gather_cp_, plane = g.oh * g.ow, rows = g.n * plane;
    swar::ActivationGather gather;
    gather.base = xq;
    gather.rows = static_cast<size_t>(rows);
    gather.segments = static_cast<size_t>(g.kh);
    gather.run = static_cast<size_t>(gp.kw * cp);
    gather.segment_stride = static_cast<size_t>(g.dh * gp.w * cp);
    gather.row_offset = conv::gather_row_offsets(g, gp, cp);
    qm_[0].run_gather(gather, destination(g, y, 0, residual), activation_, ctx);
  }

  // Winograd F(2x2, 3x3) (ops/kernels/winograd.h) where it was prepared and
  // pays off on this SIMD target; the reference and the statistics (term
  // pairs) take the direct GEMM, which they define.
  bool use_winograd(const RunContext& ctx) const {
    return !ctx.reference && !ctx.stats && detail::winograd_pays_off(winograd_);
  }

  // The sums of each band of tile rows of an image, then the layer's
  // epilogue on them while they are in cache. Bands keep the sums near 32
  // KB; tasks (image, band) write disjoint outputs, so any split gives the
  // same bits.
  // image(n): image n as the kernel reads it (in place, or a padded copy).
  template <class Image>
  void run_winograd(const RunContext& ctx, const Geometry& g, const Image& image, Tensor& y,
                    const float* residual) const {
    const MatmulDest dest = destination(g, y, 0, residual);
    const int64_t tiles_y = (g.oh + 1) / 2, ldc = winograd_.blocks * 16;
    const int64_t band = std::clamp<int64_t>((int64_t{1} << 15) / (2 * g.ow * ldc * 4), 1, tiles_y);
    const int64_t bands = (tiles_y + band - 1) / band;
    auto body = [&](size_t t0, size_t t1) {
      thread_local AlignedBuffer<int32_t> sums;
      sums.reserve_scratch(static_cast<size_t>(2 * band * g.ow * ldc) + 16);  // + the epilogue's whole-vector reads
      for (size_t t = t0; t < t1; ++t) {
        const int64_t n = static_cast<int64_t>(t) / bands, ty0 = static_cast<int64_t>(t) % bands * band;
        const int64_t ty1 = std::min(tiles_y, ty0 + band);
        detail::winograd_sums(winograd_, image(n), g.oh, g.ow, ty0, ty1, sums.data(), static_cast<size_t>(ldc));
        const int64_t m0 = (n * g.oh + 2 * ty0) * g.ow, m1 = (n * g.oh + std::min(g.oh, 2 * ty1)) * g.ow;
        qm_[0].finish_sums(sums.data(), static_cast<size_t>(ldc), static_cast<size_t>(m0), static_cast<size_t>(m1),
                           dest, activation_);
      }
    };
    // Waking workers costs microseconds: below ~20 us of work (~4.7 M MACs
    // at the ~240 G/s this path reaches on one VNNI core) the calling thread
    // does it all, as swar::gemm decides for its GEMMs.
    const double macs = static_cast<double>(g.n * g.oh * g.ow * cout_ * 9 * gather_cp_);
    const size_t tasks = static_cast<size_t>(g.n * bands);
    if (macs < 4.7e6 || tasks < 2)
      body(0, tasks);
    else
      ctx.ex.parallel_for(tasks, 1, body);
  }

  // Image n of a float input (NCHW, or channels-last already) as
  // channels-last integers on the layer's grid, in `dst`.
  static void quantize_image(const Geometry& g, const float* x, bool nhwc_input, int64_t n,
                             const QuantizedMatmul& q, uint8_t* dst) {
    const int64_t hw = g.h * g.w, per_image = g.c * hw;
    const float* src = x + n * per_image;
    thread_local std::vector<float> buf;
    if (g.c > 1 && !nhwc_input) {
      grow_scratch(buf, static_cast<size_t>(per_image));
      conv::transpose<Activation::kNone>(src, g.c, hw, hw, buf.data(), g.c);
      src = buf.data();
    }
    switch (q.storage_type()) {
      case DType::kI16: quant::quantize(src, per_image, q.activation(), reinterpret_cast<int16_t*>(dst)); break;
      case DType::kI8: quant::quantize(src, per_image, q.activation(), reinterpret_cast<int8_t*>(dst)); break;
      default: quant::quantize(src, per_image, q.activation(), dst);
    }
  }

  // The integer that stands for 0 on the layer's grid, as raw bytes.
  static int32_t pad_value(const QuantizedMatmul& q) {
    const float zero = 0.f;
    int16_t pad;
    quant::quantize(&zero, 1, q.activation(), &pad);
    return pad;
  }

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                const quant::RangeStats&) override {
    plan_ = plan;
    qm_.clear();
    em_.clear();
    out_q_.reset();
    twin_q_.reset();
    in_twin_ = false;
    if (!plan.quantized()) return;
    const int64_t cg = w_->dim(1), cog = cout_ / groups_, k = cg * w_->dim(2) * w_->dim(3);
    const float* w_hwc = hwc().data();
    if (plan.scheme().execution() == quant::Execution::kExponent) {
      em_.resize(static_cast<size_t>(groups_));
      for (int64_t g = 0; g < groups_; ++g)
        em_[static_cast<size_t>(g)].prepare(w_hwc + g * cog * k, cog, k,
                                            bias_ ? bias_->f32() + g * cog : nullptr, plan, input.samples());
      return;
    }
    const auto [lo, hi] = input.choose(plan);
    const quant::Affine a = plan.scheme().activation_affine(lo, hi, plan);
    qm_.resize(static_cast<size_t>(groups_));
    gather_cp_ = 0;
    fold_kw_ = false;
    winograd_ = {};
    if (groups_ == 1 && dilation_[1] == 1) {
      // The implicit im2col: the GEMM reads each kernel row where it lies in
      // the padded input, which needs whole 4-byte units per kernel row:
      // either input channels padded to a multiple of 4, or (fold_kw, when
      // shorter) each pixel holding its kernel row's kw pixels, padded to a
      // multiple of 4 (conv_lowering.h). The padding holds integer 0 and
      // meets weights made integer 0 (QuantizedMatmul::express_for_gather:
      // exact when integer 0 means 0 on the weight grid) or, for bit-serial,
      // which packs its planes from there, weights as they quantized, the
      // zero-point terms counting the real columns alone (prepare).
      // Term groups stay within the real channels of a kernel position: the
      // padding only lengthens a position's last group with zeros.
      const int64_t kh = w_->dim(2), kw = w_->dim(3), c4 = (cg + 3) / 4 * 4, f4 = (kw * cg + 3) / 4 * 4;
      const bool fold = kh * f4 < kh * kw * c4 && (f4 - kw * cg) % cg == 0;
      const int64_t cp = fold ? f4 : c4, units = fold ? kh : kh * kw, real = fold ? kw * cg : cg;
      std::vector<float> wp(static_cast<size_t>(cout_ * units * cp), 0.f);
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t u = 0; u < units; ++u)
          std::copy_n(w_hwc + (o * units + u) * real, real, wp.data() + (o * units + u) * cp);
      std::vector<uint8_t> padding(static_cast<size_t>(units * cp), 0);
      for (int64_t u = 0; u < units; ++u)
        std::fill(padding.begin() + u * cp + real, padding.begin() + (u + 1) * cp, uint8_t{1});
      // Bit-serial packs its planes from the gathered rows; the byte methods
      // that read them in place may also run a 3 x 3 convolution's Winograd
      // (prepare_winograd's conditions that are known before the weights).
      QuantizedMatmul::Gathered gathered{&padding, static_cast<size_t>(fold ? f4 : kw * cp), 1.0};
      if (!fold && kh == 3 && kw == 3 && stride_[0] == 1 && stride_[1] == 1 && dilation_[0] == 1 &&
          !plan.scheme().transform(plan, a))
        gathered.in_place_speedup = detail::winograd_gain();
      QuantizedMatmul q;
      q.prepare(wp.data(), cout_, units * cp, bias_ ? bias_->f32() : nullptr, plan, a, fold ? cg : cp, gathered);
      q.set_counted_in(k);
      if (q.takes_gathered_rows()) {
        qm_[0] = std::move(q);
        gather_cp_ = cp;
        fold_kw_ = fold;
        prepare_winograd();
        return;
      }
    }
    for (int64_t g = 0; g < groups_; ++g)  // term groups: channels of one kernel position
      qm_[static_cast<size_t>(g)].prepare(w_hwc + g * cog * k, cog, k,
                                          bias_ ? bias_->f32() + g * cog : nullptr, plan, a, cg);
  }
  // Winograd weights for a 3 x 3 stride-1 convolution read in place with
  // channels padded to cp (so unsigned activations: signed ones are biased
  // as the GEMM packs them), no run-time transform, inputs and weights
  // narrow enough for its bytes; none otherwise, none where the SIMD target
  // would not run them (winograd_pays_off: on NEON, or on AVX2 with wide
  // U, they would only take memory: 16 positions x 64 bytes per 16 outputs
  // and 4 channels, 3.6x the 288 bytes of their 4-bit weights), and none
  // where the direct GEMM runs on AMX tiles (16 x 16 x 64 products an
  // instruction: far more than the 2.25x fewer VNNI products gain) or on
  // bit-serial's planes (its gain was measured against the byte methods
  // that read the rows in place).
  void prepare_winograd() {
    const QuantizedMatmul& q = qm_[0];
    const swar::IntFormat f = q.storage();
    if (!detail::winograd_may_pay_off() || fold_kw_ || w_->dim(2) != 3 || w_->dim(3) != 3 || stride_[0] != 1 ||
        stride_[1] != 1 || dilation_[0] != 1 || f.bits > 8 || q.has_transform() || !q.uses_plain_sums() ||
        q.integer_weights().empty() || q.kernel() == "amx" || !swar::reads_gathered(q.packed()))
      return;
    winograd_ = detail::winograd_weights(q.integer_weights().data(), cout_, gather_cp_,
                                         static_cast<int32_t>(f.min_value()), static_cast<int32_t>(f.max_value()));
    if (!detail::winograd_pays_off(winograd_)) winograd_ = {};
  }

  double weight_bits() const override {
    return em_.empty() ? plan_.scheme().weight_bits_per_param(plan_) : em_[0].bits();
  }
  const quant::LayerPlan* plan() const override { return &plan_; }

  OpCost cost(const std::vector<Shape>& in) const override {
    const Geometry g = geometry(in[0]);
    const int64_t k = w_->dim(1) * g.kh * g.kw;
    return {static_cast<double>(g.oh * g.ow * cout_ * k), w_->size() + (bias_ ? cout_ : 0), k,
            g.oh * g.ow * cout_, w_->size()};
  }
  std::vector<GemmShape> gemms(const std::vector<Shape>& in) const override {
    const Geometry g = geometry(in[0]);  // im2col: output pixels x channels of a group
    return {{g.oh * g.ow, cout_ / groups_, w_->dim(1) * g.kh * g.kw, groups_, w_->dim(1)}};
  }
  int64_t weight_bytes() const override {
    return static_cast<int64_t>(std::ceil(static_cast<double>(w_->size()) * weight_bits() / 8));
  }

  void prepare_to_run() override {
    if (qm_.empty() && em_.empty()) {
      float_weights();
    } else {
      packed_.reset();
      w_hwc_.reset();
    }
  }
  void release_reference_weights() override {
    for (QuantizedMatmul& q : qm_) q.release_reference_weights();
  }

  std::string kernel() const override {
    if (detail::winograd_pays_off(winograd_)) return "winograd";
    if (!qm_.empty()) return qm_[0].kernel();
    return em_.empty() ? "" : "exponent";
  }
  DType output_dtype(const std::vector<DType>&) const override { return out_q_ ? out_q_->type : DType::kF32; }
  std::optional<QuantizedHandover> quantized_input(int input) const override {
    if (qm_.empty() || input != 0) return std::nullopt;  // the residual stays float
    return QuantizedHandover{qm_[0].activation(), qm_[0].storage_type(), Layout::kChannelsLast};
  }
  bool can_emit_quantized(int) const override { return !qm_.empty(); }
  ChannelsLast channels_last() const override { return ChannelsLast::kChooses; }
  void set_output_layout(int, Layout l) override { out_layout_ = l; }
  void emit_quantized(int, const QuantizedHandover& h) override { out_q_ = h; }
  bool can_emit_twin(int) const override { return !qm_.empty() && !out_q_ && out_layout_ == Layout::kChannelsLast; }
  void emit_twin(int, const QuantizedHandover& h) override { twin_q_ = h; }
  int64_t output_extra(int, const Shape& s) const override { return twin_q_ ? twin_elements(s, twin_q_->type) : 0; }
  void read_twin(int input) override { in_twin_ = in_twin_ || input == 0; }

 private:
  const std::vector<float>& hwc() const {
    return w_hwc_.get([&] {
      // Weights as [Cout, kh, kw, Cin/g], the column order of the NHWC im2col.
      const int64_t cg = w_->dim(1), khw = w_->dim(2) * w_->dim(3), k = cg * khw;
      std::vector<float> w(static_cast<size_t>(cout_ * k));
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t ij = 0; ij < khw; ++ij)
            w[static_cast<size_t>(o * k + ij * cg + c)] = w_->f32()[(o * cg + c) * khw + ij];
      return w;
    });
  }
  const std::vector<PackedF32>& float_weights() const {
    return packed_.get([&] {
      const int64_t cog = cout_ / groups_, k = w_->size() / cout_;
      std::vector<PackedF32> packed;
      for (int64_t g = 0; g < groups_; ++g) packed.push_back(PackedF32::pack(hwc().data() + g * cog * k, cog, k));
      return packed;
    });
  }

  std::string where_;
  std::shared_ptr<const Tensor> w_, bias_;
  Lazy<std::vector<float>> w_hwc_;  // the weights as [Cout, kh, kw, Cin/g] (hwc)
  Activation activation_ = Activation::kNone;
  int64_t groups_ = 1, cout_ = 0;
  bool residual_ = false;  // a second input added before the activation (a fused residual add)
  std::vector<int64_t> stride_, dilation_, padding_;
  Lazy<std::vector<PackedF32>> packed_;  // the float path's weights, per group (float_weights)
  std::vector<QuantizedMatmul> qm_;
  std::vector<ExpMatmul> em_;
  quant::LayerPlan plan_;
  std::optional<QuantizedHandover> out_q_;   // integer output for the next layer
  std::optional<QuantizedHandover> twin_q_;  // float output with an integer twin for some readers
  bool in_twin_ = false;                     // integer input: the twin of the float tensor
  Layout out_layout_ = Layout::kAsShape;     // float output: NCHW or channels-last
  // > 0: implicit im2col over pixels of this many channels (a multiple of
  // 4), which hold the kernel row's kw pixels when fold_kw_.
  int64_t gather_cp_ = 0;
  bool fold_kw_ = false;
  detail::WinogradWeights winograd_;  // empty: the direct GEMM (prepare_winograd)
};

}  // namespace

std::unique_ptr<Op> make_conv2d(OpBuilder& b) { return std::make_unique<Conv2d>(b); }

}  // namespace bitlane::ops
