// Integer GEMM at any operand width: C (M x N) = A (M x K) * W^T, where W is
// N x K (one row per output, like torch.nn.Linear.weight). Weights are packed
// once (PackedWeights) for the activation format they will meet; activations
// are packed per call. Every method is bit-exact with gemm_reference().
//
// Methods (see swar/README.md for how they work and when each wins):
//   bitserial  AND + popcount over bit planes; cost grows with a_bits * w_bits
//   int8       operands widened to bytes, 4-way byte dot products (VNNI)
//   int16      operands widened to 16 bits, 2-way dot products (PMADDWD)
//   widemul    several products per 64x64->128-bit multiply (SAMD); scalar
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/aligned_buffer.h"
#include "swar/int_format.h"

namespace bitlane {
class Executor;
}

namespace bitlane::swar {

enum class GemmMethod : uint8_t { kAuto, kBitSerial, kInt8, kInt16, kWideMul };

const char* method_name(GemmMethod m);
// Parses "auto", "bitserial", "int8", "int16", "widemul"; throws otherwise.
GemmMethod parse_method(std::string_view name);
inline constexpr GemmMethod kAllMethods[] = {GemmMethod::kBitSerial, GemmMethod::kInt8,
                                             GemmMethod::kInt16, GemmMethod::kWideMul};

// The method gemm uses for these formats on the current SIMD target (the
// table in swar/method_table.cc, measured by bench/bitlane_kernels).
GemmMethod choose_method(IntFormat a, IntFormat w);

class PackedWeights {
 public:
  PackedWeights() = default;

  // Packs w (N x K). Values must lie in w_format (else bitlane::Error).
  static PackedWeights pack(const MatrixView& w, IntFormat w_format, IntFormat a_format,
                            GemmMethod method = GemmMethod::kAuto);

  size_t n() const { return n_; }
  size_t k() const { return k_; }
  GemmMethod method() const { return method_; }
  IntFormat weight_format() const { return w_format_; }
  IntFormat activation_format() const { return a_format_; }
  size_t bytes() const { return data_.size() * 8 + col_sum_.size() * 8; }

 private:
  friend struct GemmAccess;
  GemmMethod method_ = GemmMethod::kAuto;
  IntFormat w_format_, a_format_;
  size_t n_ = 0, k_ = 0;
  size_t k_units_ = 0;      // K in the method's packing unit (words, byte quads, pairs)
  int64_t w_bias_ = 0;      // stored w' = w - w_bias_
  int lanes_per_word_ = 0;  // widemul: products per multiply
  int field_bits_ = 0;      // widemul: lane field
  AlignedBuffer<uint64_t> data_;
  std::vector<int64_t> col_sum_;  // per output column: sum over k of w'
};

// Promises a caller can make to save a pass over the activations.
struct GemmOptions {
  // Every activation lies in the format (e.g. produced by a clamping
  // quantizer): no range check.
  bool trusted_range = false;
  // Each row is followed by zeros up to its stride, so unsigned bytes can be
  // read in place even when K is not a multiple of 4.
  bool zero_padded_rows = false;
};

// C = A * W^T. A's values must lie in the activation format the weights were
// packed for. The int32 overload throws if K * max|a| * max|w| could exceed
// int32; use the int64 overload then. Results do not depend on the executor's
// thread count.
void gemm(const MatrixView& a, const PackedWeights& w, int32_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});
void gemm(const MatrixView& a, const PackedWeights& w, int64_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});

// The definition: plain loops, int64 accumulation.
void gemm_reference(const MatrixView& a, const MatrixView& w, int64_t* c, size_t ldc);

// Dot product of two integer vectors of equal length on the packed kernels.
int64_t dot(const MatrixView& a, IntFormat a_format, const MatrixView& w, IntFormat w_format,
            GemmMethod method = GemmMethod::kAuto);

}  // namespace bitlane::swar
