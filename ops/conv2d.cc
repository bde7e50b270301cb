// conv2d: NCHW convolution with stride, padding [top, left, bottom, right],
// dilation and groups (depthwise when groups == channels). Lowered to GEMM:
// the input is first laid out channels-last (NHWC), so that an im2col row
// (n, oh, ow) is kh x kw contiguous copies of the group's channels; the
// weights are reordered to [Cout, kh, kw, Cin/g] to match. Quantized, the
// input is quantized once and im2col runs on the integers, padding with the
// integer that stands for 0.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/aligned_buffer.h"
#include "core/executor.h"
#include "swar/int_format.h"
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

struct Geometry {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

// Patch matrix of images [n0, n1) and channel group [c0, c0 + cg): row
// (n, y, x), column (c, i, j), matching the weight layout [Cout, Cin/g, kh, kw].
// Rows are `ld` >= K elements apart; the elements after K are zero.
// Patch matrix of images [n0, n1) and channel group [c0, c0 + cg) of an NHWC
// tensor: row (n, y, x), column (i, j, c). Rows are `ld` >= K elements
// apart; the elements after K are zero.
template <typename T>
void im2col(const T* x, const Geometry& geo, int64_t n0, int64_t n1, int64_t c0, int64_t cg, T pad,
            T* cols, int64_t ld) {
  // Locals, not geo's fields: stores to `cols` could alias them otherwise.
  const int64_t c = geo.c, h = geo.h, w = geo.w, kh = geo.kh, kw = geo.kw, sh = geo.sh, sw = geo.sw;
  const int64_t dh = geo.dh, dw = geo.dw, pt = geo.pt, pl = geo.pl, oh = geo.oh, ow = geo.ow;
  const int64_t k = cg * kh * kw;
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T* row = cols + (((n - n0) * oh + oy) * ow + ox) * ld;
        for (int64_t i = k; i < ld; ++i) row[i] = T{0};
        for (int64_t i = 0; i < kh; ++i) {
          const int64_t y = oy * sh - pt + i * dh;
          for (int64_t j = 0; j < kw; ++j, row += cg) {
            const int64_t xx = ox * sw - pl + j * dw;
            // Plain loops: runs of a few channels would pay for a memmove call.
            if (y < 0 || y >= h || xx < 0 || xx >= w) {
              for (int64_t t = 0; t < cg; ++t) row[t] = pad;
            } else {
              const T* src = x + ((n * h + y) * w + xx) * c + c0;
              for (int64_t t = 0; t < cg; ++t) row[t] = src[t];
            }
          }
        }
      }
}

// dst[j * ld_dst + i] = src[i * ld_src + j] for a rows x cols matrix, in
// 16 x 16 blocks so both sides stay in cache lines, applying `act`.
template <Activation act>
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst) {
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t i1 = std::min(rows, i0 + B), j1 = std::min(cols, j0 + B);
      for (int64_t j = j0; j < j1; ++j)  // contiguous writes
        for (int64_t i = i0; i < i1; ++i) dst[j * ld_dst + i] = apply_activation(act, src[i * ld_src + j]);
    }
}

// NCHW -> NHWC: each image is a (C x plane) -> (plane x C) transpose.
void to_channels_last(const float* x, int64_t n, int64_t c, int64_t plane, float* out) {
  for (int64_t b = 0; b < n; ++b)
    transpose<Activation::kNone>(x + b * c * plane, c, plane, plane, out + b * c * plane, c);
}

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
    // Weights as [Cout, kh, kw, Cin/g], the column order of the NHWC im2col.
    const int64_t cg = w_->dim(1), kh = w_->dim(2), kw = w_->dim(3), k = cg * kh * kw;
    w_hwc_.resize(static_cast<size_t>(cout_ * k));
    for (int64_t o = 0; o < cout_; ++o)
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t ij = 0; ij < kh * kw; ++ij)
          w_hwc_[static_cast<size_t>(o * k + ij * cg + c)] = w_->f32()[(o * cg + c) * kh * kw + ij];
    const int64_t cog = cout_ / groups_;
    for (int64_t g = 0; g < groups_; ++g) packed_.push_back(PackedF32::pack(w_hwc_.data() + g * cog * k, cog, k));
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
    rows.resize(static_cast<size_t>(r.size()));
    const int64_t n = r.dim(0), c = r.dim(1), plane = r.dim(2) * r.dim(3);
    to_channels_last(r.f32(), n, c, plane, rows.data());
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
    static const Executor inline_ex(1);
    auto body = [&](size_t b, size_t e) {
      const RunContext inner{chunks > 1 ? inline_ex : ctx.ex, ctx.state, ctx.reference, ctx.stats};
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
      xhwc.resize(static_cast<size_t>(in_size));
      to_channels_last(src_hwc, g.n, g.c, g.h * g.w, xhwc.data());
      src_hwc = xhwc.data();
    }
    res.resize(static_cast<size_t>(rows * cog));
    for (int64_t grp = 0; grp < groups_; ++grp) {
      const float* b = bias_ ? bias_->f32() + grp * cog : nullptr;
      if (!em_.empty()) {
        cols.resize(static_cast<size_t>(rows * k));
        im2col(src_hwc, g, 0, g.n, grp * cg, cg, 0.f, cols.data(), k);
        em_[static_cast<size_t>(grp)].run(cols.data(), rows, k, res.data(), cog, ctx);
      } else {
        cols.resize(static_cast<size_t>(rows * k));
        im2col(src_hwc, g, 0, g.n, grp * cg, cg, 0.f, cols.data(), k);
        gemm_f32(cols.data(), rows, k, packed_[static_cast<size_t>(grp)], b, res.data(), cog, ctx.ex);
      }
      if (residual)  // added before the activation, as the unfused add was
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cog; ++c)
            res[static_cast<size_t>(r * cog + c)] = res[static_cast<size_t>(r * cog + c)] +
                                                    residual[(n0 * plane + r) * cout_ + grp * cog + c];
      if (out_layout_ == Layout::kChannelsLast) {  // rows are pixels already: copy the group's columns
        for (int64_t r = 0; r < rows; ++r) {
          float* dst = y + (n0 * plane + r) * cout_ + grp * cog;
          const float* src = res.data() + r * cog;
          for (int64_t c = 0; c < cog; ++c) dst[c] = apply_activation(activation_, src[c]);
        }
        continue;
      }
      // [n, oh, ow, c] -> [n, grp * cog + c, oh, ow], with the fused activation.
      for (int64_t n = 0; n < g.n; ++n) {
        const float* src = res.data() + n * plane * cog;
        float* dst = y + ((n0 + n) * cout_ + grp * cog) * plane;
        switch (activation_) {
          case Activation::kRelu: transpose<Activation::kRelu>(src, plane, cog, cog, dst, plane); break;
          case Activation::kRelu6: transpose<Activation::kRelu6>(src, plane, cog, cog, dst, plane); break;
          default: transpose<Activation::kNone>(src, plane, cog, cog, dst, plane);
        }
      }
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
    const int64_t in_size = g.n * g.h * g.w * g.c;
    // The unfolding copies whole 32-byte blocks past the end of its runs:
    // every source buffer keeps that much slack.
    constexpr size_t kSlack = 64;
    thread_local AlignedBuffer<uint8_t> qx, padded;
    const void* xq = x.data();
    if (x.dtype() == DType::kF32) {
      qx.reserve_scratch(static_cast<size_t>(in_size) * es + kSlack);
      quantize_channels_last(ctx, g, x.f32(), x.layout() == Layout::kChannelsLast, q0, qx.data());
      xq = qx.data();
    }
    if (q0.has_transform()) {
      if (xq == x.data()) {  // the transform works in place: on a copy
        qx.reserve_scratch(static_cast<size_t>(in_size) * es + kSlack);
        std::memcpy(qx.data(), x.data(), static_cast<size_t>(in_size) * es);
        xq = qx.data();
      }
      const quant::ActivationLayout layout{g.n, g.h, g.w, g.c, g.h * g.w * g.c};
      int64_t regions = 0, sensitive = 0;
      auto* d = static_cast<uint8_t*>(const_cast<void*>(xq));
      if (t == DType::kI16) sensitive = q0.transform(reinterpret_cast<int16_t*>(d), layout, &regions);
      else if (t == DType::kI8) sensitive = q0.transform(reinterpret_cast<int8_t*>(d), layout, &regions);
      else sensitive = q0.transform(d, layout, &regions);
      if (ctx.stats) {
        ctx.stats->regions += regions;
        ctx.stats->sensitive += sensitive;
      }
    }
    // Spatial padding done once, with the integer that stands for 0: the
    // unfolding then never checks bounds. In gather mode the channels are
    // padded too (to gather_c4_, with integer 0).
    Geometry gp = g;
    gp.h = g.h + padding_[0] + padding_[2];
    gp.w = g.w + padding_[1] + padding_[3];
    gp.pt = gp.pl = 0;
    const int64_t cp = gather_c4_ ? gather_c4_ : g.c;
    const bool pad = gp.h != g.h || gp.w != g.w || cp != g.c;
    if (pad || xq == x.data()) {
      const size_t bytes = static_cast<size_t>(g.n * gp.h * gp.w * cp) * es;
      padded.reserve_scratch(bytes + kSlack);
      pad_into(g, gp, cp, xq, pad_value(q0), es, padded.data());
      xq = padded.data();
    }
    if (gather_c4_) {
      run_gathered(ctx, g, gp, static_cast<const uint8_t*>(xq), y, residual);
      return;
    }
    const int64_t cg = g.c / groups_, cog = cout_ / groups_, plane = g.oh * g.ow;
    if (out_q_) y.set_layout(Layout::kChannelsLast);
    for (int64_t grp = 0; grp < groups_; ++grp) {
      const QuantizedMatmul& qm = qm_[static_cast<size_t>(grp)];
      Unfold u{&gp, xq, es, grp * cg, cg};
      swar::ActivationRows rows;
      rows.type = t == DType::kU8 ? swar::ElemType::kU8 : t == DType::kI8 ? swar::ElemType::kI8 : swar::ElemType::kI16;
      rows.rows = static_cast<size_t>(g.n * plane);
      rows.cols = static_cast<size_t>(cg * g.kh * g.kw);
      rows.ctx = &u;
      rows.produce = Unfold::produce;
      MatmulDest dest;
      if (out_q_) {
        dest.kind = MatmulDest::Kind::kInt;
        dest.data = static_cast<uint8_t*>(y.data()) + static_cast<size_t>(grp * cog) * dtype_size(out_q_->type);
        dest.ld = cout_;
        dest.type = out_q_->type;
        dest.grid = out_q_->grid;
      } else if (out_layout_ == Layout::kChannelsLast) {
        dest = MatmulDest::rows(y.f32() + grp * cog, cout_);
      } else {
        dest.kind = MatmulDest::Kind::kF32Planes;
        dest.f32 = y.f32() + grp * cog * plane;
        dest.plane = plane;
        dest.channels = cout_;
      }
      if (residual) {
        dest.residual = residual + grp * cog;
        dest.residual_ld = cout_;
      }
      qm.run_rows(rows, dest, activation_, ctx);
    }
  }

  // Implicit im2col: row (n, oy, ox), kernel row i is kw * c4 bytes at
  // ((n * Hp + oy * sh + i * dh) * Wp + ox * sw) * c4 of the padded input.
  void run_gathered(const RunContext& ctx, const Geometry& g, const Geometry& gp, const uint8_t* xq, Tensor& y,
                    const float* residual) const {
    const int64_t c4 = gather_c4_, plane = g.oh * g.ow, rows = g.n * plane;
    // The offsets depend only on the geometry: kept while it repeats.
    thread_local std::vector<int64_t> row_offset;
    thread_local std::array<int64_t, 8> key{};
    const std::array<int64_t, 8> now{g.n, gp.h, gp.w, g.oh, g.ow, g.sh, g.sw, c4};
    if (now != key || row_offset.size() != static_cast<size_t>(rows)) {
      row_offset.resize(static_cast<size_t>(rows));
      for (int64_t n = 0, r = 0; n < g.n; ++n)
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox, ++r)
            row_offset[static_cast<size_t>(r)] = ((n * gp.h + oy * g.sh) * gp.w + ox * g.sw) * c4;
      key = now;
    }
    swar::ActivationGather gather;
    gather.base = xq;
    gather.rows = static_cast<size_t>(rows);
    gather.segments = static_cast<size_t>(g.kh);
    gather.run = static_cast<size_t>(g.kw * c4);
    gather.segment_stride = static_cast<size_t>(g.dh * gp.w * c4);
    gather.row_offset = row_offset.data();
    MatmulDest dest;
    if (out_q_) {
      dest.kind = MatmulDest::Kind::kInt;
      dest.data = y.data();
      dest.ld = cout_;
      dest.type = out_q_->type;
      dest.grid = out_q_->grid;
    } else if (out_layout_ == Layout::kChannelsLast) {
      dest = MatmulDest::rows(y.f32(), cout_);
    } else {
      dest.kind = MatmulDest::Kind::kF32Planes;
      dest.f32 = y.f32();
      dest.plane = plane;
      dest.channels = cout_;
    }
    dest.residual = residual;
    dest.residual_ld = cout_;
    qm_[0].run_gather(gather, dest, activation_, ctx);
  }

  // Channels-last integers into a buffer with the spatial padding of gp
  // (filled with `pad`) and `cp` >= C channels (the extra ones integer 0).
  void pad_into(const Geometry& g, const Geometry& gp, int64_t cp, const void* src, int32_t padv, size_t es,
                uint8_t* dst) const {
    if (cp != g.c) {  // channels padded (gather mode: bytes)
      const int64_t c = g.c, hp = gp.h, wp = gp.w, h = g.h, w = g.w, pt = padding_[0], pl = padding_[1];
      const auto* s = static_cast<const uint8_t*>(src);
      // A padding pixel: the integer for 0 in the real channels, 0 after.
      std::vector<uint8_t> pad_pixel(static_cast<size_t>(cp), 0);
      std::fill_n(pad_pixel.begin(), c, static_cast<uint8_t>(padv));
      for (int64_t n = 0; n < g.n; ++n)
        for (int64_t yy = 0; yy < hp; ++yy) {
          uint8_t* d = dst + ((n * hp + yy) * wp) * cp;
          const int64_t sy = yy - pt;
          const bool row_inside = sy >= 0 && sy < h;
          for (int64_t xx = 0; xx < wp; ++xx) {
            if (!row_inside || xx < pl || xx >= pl + w) std::memcpy(d + xx * cp, pad_pixel.data(), static_cast<size_t>(cp));
          }
          if (!row_inside) continue;
          const uint8_t* p = s + (n * h + sy) * w * c;
          uint8_t* o = d + pl * cp;
          if (c == 1 && cp == 4) {  // one channel: zero-extended bytes (vectorizes)
            auto* o32 = reinterpret_cast<uint32_t*>(o);
            for (int64_t xx = 0; xx < w; ++xx) {
              const uint32_t v = p[xx];
              std::memcpy(o32 + xx, &v, 4);
            }
          } else {
            for (int64_t xx = 0; xx < w; ++xx)
              for (int64_t ch = 0; ch < cp; ++ch) o[xx * cp + ch] = ch < c ? p[xx * c + ch] : uint8_t{0};
          }
        }
      return;
    }
    const size_t row_bytes = static_cast<size_t>(g.w * g.c) * es;
    const size_t prow_bytes = static_cast<size_t>(gp.w * g.c) * es;
    const size_t left = static_cast<size_t>(padding_[1] * g.c) * es;
    auto fill = [&](uint8_t* d, size_t bytes) {
      if (es == 1) {
        std::memset(d, static_cast<uint8_t>(padv), bytes);
      } else {
        const int16_t v = static_cast<int16_t>(padv);
        for (size_t i = 0; i < bytes / 2; ++i) std::memcpy(d + 2 * i, &v, 2);
      }
    };
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t yy = 0; yy < gp.h; ++yy) {
        uint8_t* d = dst + static_cast<size_t>(n * gp.h + yy) * prow_bytes;
        const int64_t sy = yy - padding_[0];
        if (sy < 0 || sy >= g.h) {
          fill(d, prow_bytes);
          continue;
        }
        fill(d, left);
        std::memcpy(d + left, static_cast<const uint8_t*>(src) + static_cast<size_t>(n * g.h + sy) * row_bytes,
                    row_bytes);
        fill(d + left + row_bytes, prow_bytes - left - row_bytes);
      }
  }

  // Floats (NCHW, or channels-last already) -> channels-last integers on
  // the layer's grid.
  static void quantize_channels_last(const RunContext& ctx, const Geometry& g, const float* x, bool nhwc_input,
                                     const QuantizedMatmul& q, uint8_t* out) {
    const int64_t hw = g.h * g.w, per_image = g.c * hw;
    const DType t = q.storage_type();
    const size_t es = dtype_size(t);
    auto images = [&](size_t b, size_t e) {
      thread_local std::vector<float> buf;
      for (size_t n = b; n < e; ++n) {
        const float* src = x + static_cast<int64_t>(n) * per_image;
        if (g.c > 1 && !nhwc_input) {
          buf.resize(static_cast<size_t>(per_image));
          transpose<Activation::kNone>(src, g.c, hw, hw, buf.data(), g.c);
          src = buf.data();
        }
        uint8_t* dst = out + static_cast<size_t>(static_cast<int64_t>(n) * per_image) * es;
        if (t == DType::kI16) quant::quantize(src, per_image, q.activation(), reinterpret_cast<int16_t*>(dst));
        else if (t == DType::kI8) quant::quantize(src, per_image, q.activation(), reinterpret_cast<int8_t*>(dst));
        else quant::quantize(src, per_image, q.activation(), dst);
      }
    };
    if (g.n * per_image >= (int64_t{1} << 16))
      ctx.ex.parallel_for(static_cast<size_t>(g.n), 1, images);
    else
      images(0, static_cast<size_t>(g.n));
  }

  // The integer that stands for 0 on the layer's grid, as raw bytes.
  static int32_t pad_value(const QuantizedMatmul& q) {
    const float zero = 0.f;
    int16_t pad;
    quant::quantize(&zero, 1, q.activation(), &pad);
    return pad;
  }

  // im2col rows from padded channels-last integers (no bounds to check),
  // for the GEMM's tasks.
  struct Unfold {
    const Geometry* g;
    const void* x;
    size_t es;
    int64_t c0, cg;

    static void produce(void* ctx, size_t r0, size_t r1, void* dst, size_t stride) {
      const auto* u = static_cast<const Unfold*>(ctx);
      if (u->es == 1)
        u->rows(static_cast<const uint8_t*>(u->x), r0, r1, static_cast<uint8_t*>(dst), stride);
      else
        u->rows(static_cast<const int16_t*>(u->x), r0, r1, static_cast<int16_t*>(dst), stride);
    }

    // Copies n elements in whole 32-byte blocks: up to 31 bytes past the
    // end of both runs are read and written (the sources keep slack, the
    // rows are rewritten after it or lie in the staging rows' slack).
    template <typename T>
    static void copy_blocks(T* dst, const T* src, int64_t n) {
      auto* d = reinterpret_cast<uint8_t*>(dst);
      const auto* s = reinterpret_cast<const uint8_t*>(src);
      const int64_t bytes = n * static_cast<int64_t>(sizeof(T));
      for (int64_t b = 0; b < bytes; b += 32) std::memcpy(d + b, s + b, 32);
    }

    template <typename T>
    void rows(const T* src_image, size_t r0, size_t r1, T* dst, size_t stride) const {
      // Locals: the stores below could alias the geometry otherwise.
      const int64_t C = g->c, H = g->h, W = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw;
      const int64_t dh = g->dh, dw = g->dw, ow = g->ow, oh = g->oh;
      const int64_t group_c0 = c0, group_cg = cg, k = group_cg * kh * kw, k4 = (k + 3) / 4 * 4;
      // A kernel row's kw positions are one contiguous run when they cover all
      // channels and sit next to each other.
      const bool runs = group_cg == C && dw == 1;
      const int64_t run = kw * group_cg;
      // Output position of row r0, then stepped along (no divisions per row).
      int64_t n = static_cast<int64_t>(r0) / (oh * ow), p = static_cast<int64_t>(r0) % (oh * ow);
      int64_t oy = p / ow, ox = p % ow;
      for (size_t r = r0; r < r1; ++r) {
        T* row = dst + (r - r0) * stride;
        const T* at = src_image + ((n * H + oy * sh) * W + ox * sw) * C + group_c0;
        for (int64_t i = 0; i < kh; ++i) {
          const T* src = at + i * dh * W * C;
          if (runs) {
            copy_blocks(row + i * run, src, run);
          } else {
            for (int64_t j = 0; j < kw; ++j) copy_blocks(row + i * run + j * group_cg, src + j * dw * C, group_cg);
          }
        }
        for (int64_t t = k; t < k4; ++t) row[t] = T{0};
        if (++ox == ow) {
          ox = 0;
          if (++oy == oh) oy = 0, ++n;
        }
      }
    }
  };

  bool quantizable() const override { return true; }
  void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                const quant::RangeStats&) override {
    plan_ = plan;
    qm_.clear();
    em_.clear();
    out_q_.reset();
    if (!plan.quantized()) return;
    const int64_t cg = w_->dim(1), cog = cout_ / groups_, k = cg * w_->dim(2) * w_->dim(3);
    if (plan.scheme().execution() == quant::Execution::kExponent) {
      em_.resize(static_cast<size_t>(groups_));
      for (int64_t g = 0; g < groups_; ++g)
        em_[static_cast<size_t>(g)].prepare(w_hwc_.data() + g * cog * k, cog, k,
                                            bias_ ? bias_->f32() + g * cog : nullptr, plan, input.samples());
      return;
    }
    const auto [lo, hi] = input.choose(plan);
    const quant::Affine a = plan.scheme().activation_affine(lo, hi, plan);
    qm_.resize(static_cast<size_t>(groups_));
    gather_c4_ = 0;
    if (groups_ == 1 && dilation_[1] == 1) {
      // The implicit im2col: the GEMM reads each kernel row where it lies in
      // the padded input, which needs whole 4-byte units per kernel row --
      // input channels padded to a multiple of 4 with zero weights (exact
      // when integer 0 means 0 on the weight grid; the padding channels
      // hold integer 0 too).
      const int64_t kh = w_->dim(2), kw = w_->dim(3), c4 = (cg + 3) / 4 * 4;
      std::vector<float> w4(static_cast<size_t>(cout_ * kh * kw * c4), 0.f);
      for (int64_t o = 0; o < cout_; ++o)
        for (int64_t p = 0; p < kh * kw; ++p)
          std::copy_n(w_hwc_.data() + (o * kh * kw + p) * cg, cg, w4.data() + (o * kh * kw + p) * c4);
      QuantizedMatmul q;
      q.prepare(w4.data(), cout_, kh * kw * c4, bias_ ? bias_->f32() : nullptr, plan, a, c4);
      q.set_counted_in(k);
      if (q.zero_weight_is_zero() && swar::reads_gathered(q.packed())) {
        qm_[0] = std::move(q);
        gather_c4_ = c4;
        return;
      }
    }
    for (int64_t g = 0; g < groups_; ++g)  // term groups: channels of one kernel position
      qm_[static_cast<size_t>(g)].prepare(w_hwc_.data() + g * cog * k, cog, k,
                                          bias_ ? bias_->f32() + g * cog : nullptr, plan, a, cg);
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

  DType output_dtype(const std::vector<DType>&) const override { return out_q_ ? out_q_->type : DType::kF32; }
  std::optional<QuantizedHandover> quantized_input(int input) const override {
    if (qm_.empty() || input != 0) return std::nullopt;  // the residual stays float
    return QuantizedHandover{qm_[0].activation(), qm_[0].storage_type(), Layout::kChannelsLast};
  }
  bool can_emit_quantized(int) const override { return !qm_.empty(); }
  ChannelsLast channels_last() const override { return ChannelsLast::kChooses; }
  void set_output_layout(int, Layout l) override { out_layout_ = l; }
  void emit_quantized(int, const QuantizedHandover& h) override { out_q_ = h; }

 private:
  std::string where_;
  std::shared_ptr<const Tensor> w_, bias_;
  std::vector<float> w_hwc_;
  Activation activation_ = Activation::kNone;
  int64_t groups_ = 1, cout_ = 0;
  bool residual_ = false;  // a second input added before the activation (a fused residual add)
  std::vector<int64_t> stride_, dilation_, padding_;
  std::vector<PackedF32> packed_;
  std::vector<QuantizedMatmul> qm_;
  std::vector<ExpMatmul> em_;
  quant::LayerPlan plan_;
  std::optional<QuantizedHandover> out_q_;  // integer output for the next layer
  Layout out_layout_ = Layout::kAsShape;     // float output: NCHW or channels-last
  int64_t gather_c4_ = 0;  // > 0: implicit im2col over input channels padded to this many
};

}  // namespace

std::unique_ptr<Op> make_conv2d(OpBuilder& b) { return std::make_unique<Conv2d>(b); }

}  // namespace bitlane::ops
