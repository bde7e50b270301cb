// Bit planes of gathered activations (swar::ActivationGather, an implicit
// im2col) for bit-serial, without copying each row out first.
//
// A convolution's rows overlap: each byte of its input lies in up to
// kh x kw rows. So the bytes the rows are gathered from become bit planes
// once per call (one bit per byte, plane p holding bit p of each), and a
// row's plane is then its runs' bits joined -- `run` bits where the copy
// moved `run` bytes and the plane packer read them back. The copy and the
// packer had cost more than the bit-serial products they fed (LeNet's
// second convolution at 1 bit, bench/README.md, thirty-fifth session).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/aligned_buffer.h"
#include "swar/gemm.h"

namespace bitlane::swar::detail {

// The source bytes [origin, origin + 64 * words - 64) of a gather, as bit
// planes: bit t of plane p word q is bit p of base[origin + 64 q + t]. One
// word of zeros past the bytes lets a row read 8 bytes at any bit.
struct SourcePlanes {
  AlignedBuffer<uint64_t> bits;  // plane p at bits + p * words
  size_t words = 0;
  int64_t origin = 0;
  int planes = 0;
};

// The planes of the bytes every row of g reads (values of at most 8 bits;
// higher bits are dropped), built by the executor's threads.
void build_source_planes(const ActivationGather& g, int planes, const Executor& ex, SourcePlanes& out);

// Rows [r0, r1) of g as bit planes: row r at out + r * row_stride words,
// plane p at + p * kw words, bit k of the row at word k / 64, zeros past K
// (kw >= ceil(K / 64)). When sums is not null, sums[r] = the row's sum of
// values (bytes as unsigned).
void gather_row_planes(const ActivationGather& g, const SourcePlanes& s, size_t kw, uint64_t* out,
                       size_t row_stride, size_t r0, size_t r1, float* sums);

}  // namespace bitlane::swar::detail
