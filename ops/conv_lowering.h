// How a convolution becomes a GEMM (ops/conv2d.cc): the geometry, the
// channels-last layouts, the float patch matrix (im2col), and for the
// integer path the padded input every unfolding reads without bounds checks,
// unfolded per GEMM task (Unfold) or read in place (gather_row_offsets).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/executor.h"
#include "ops/fused_activation.h"

namespace bitlane::ops::conv {

// Input n x c x h x w, output oh x ow, kernel kh x kw, stride, dilation,
// padding top / left (bottom / right are implied by oh / ow).
struct Geometry {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

// Patch matrix rows [r0, r1) (row (n, y, x) = (n * oh + y) * ow + x of the
// output pixels of x's g.n images) for channel group [c0, c0 + cg) of an
// NHWC float tensor: column (i, j, c), padding with 0. Row r is written at
// cols + (r - r0) * ld (ld >= K); the elements after K are zero.
void im2col(const float* x, const Geometry& g, int64_t r0, int64_t r1, int64_t c0, int64_t cg, float* cols,
            int64_t ld);

// dst[j * ld_dst + i] = act(src[i * ld_src + j]) for a rows x cols matrix, in
// 16 x 16 blocks so both sides stay in cache lines.
template <Activation act>
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst) {
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t i1 = i0 + B < rows ? i0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
      for (int64_t j = j0; j < j1; ++j)  // contiguous writes
        for (int64_t i = i0; i < i1; ++i) dst[j * ld_dst + i] = apply_activation(act, src[i * ld_src + j]);
    }
}

// NCHW -> NHWC: each image is a (C x plane) -> (plane x C) transpose.
void to_channels_last(const float* x, int64_t n, int64_t c, int64_t plane, float* out);

// The padded integer input: every image channels-last with the spatial
// padding of g filled with `pad` (the integer that stands for 0; only its
// low byte when es == 1), and cp >= c channels, the extra ones integer 0.
// gp is the geometry the GEMM sees: gp.h = h + top + bottom, gp.w likewise,
// no padding left.
//
// With fold_kw (stride-1 width, one group), pixel x of the padded input
// holds the kernel row's kw pixels x .. x + kw - 1 (kw * c integers, then
// zeros up to cp): the kernel becomes kh x 1 over cp channels. For few
// channels this is the shorter dot product: LeNet's 5x5 conv over one
// channel is 5 x 8 bytes folded against 5 x 5 x 4 with channels padded.
struct PaddedInput {
  Geometry gp;
  int64_t cp;
  size_t es;
  int32_t pad;
  bool fold_kw;
  size_t image_bytes() const { return static_cast<size_t>(gp.h * gp.w * cp) * es; }
};
PaddedInput padded_input(const Geometry& g, int64_t bottom, int64_t right, int64_t cp, size_t es, int32_t pad,
                         bool fold_kw = false);

// Writes every image of the padded input into dst, in parallel over images
// when the tensor is large. image(n) gives image n as channels-last
// integers (h x w x c elements of es bytes); it is called once per image on
// the thread that pads it, so it may quantize into thread-local scratch.
void pad_images(const Executor& ex, const Geometry& g, const PaddedInput& p,
                const std::function<const uint8_t*(int64_t)>& image, uint8_t* dst);

// im2col rows of the padded input for the GEMM's tasks (swar::ActivationRows):
// row r is (n, oy, ox), its elements (i, j, c) for the group's channels
// [c0, c0 + cg), zero up to a multiple of 4. Reads and writes up to 31
// bytes past each copied run: the padded input keeps that much slack, and
// the rows are staged with slack (swar::ActivationRows).
struct Unfold {
  const Geometry* gp;  // the padded geometry (no bounds to check)
  const void* x;
  size_t es;
  int64_t c0, cg;
  static void produce(void* ctx, size_t r0, size_t r1, void* dst, size_t stride);
};

// For the implicit im2col (swar::ActivationGather) over the padded input with
// c4 channels: row (n, oy, ox) starts at element ((n * Hp + oy * sh) * Wp +
// ox * sw) * c4. Kept per thread while the geometry repeats.
const int64_t* gather_row_offsets(const Geometry& g, const Geometry& gp, int64_t c4);

}  // namespace bitlane::ops::conv
