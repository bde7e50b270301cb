// Layouts and kernel entry points shared by the GEMM driver (gemm.cc) and the
// per-target kernels (gemm_kernels.cc). Not part of the public API.
//
// Weight layouts are the same on every SIMD target, so a PackedWeights works
// whatever target is selected later. Columns are grouped in blocks of 64
// bytes per K unit; a target with narrower vectors covers a block with
// several vectors. Padding columns and padding K are zero.
//
//   bitserial  w: [block of 8 cols][plane j][K word][8 cols]   uint64 bit planes
//              a: [row][plane i][K word]                        uint64 bit planes
//   int8       w: [block of 16 cols][K quad][16 cols][4]        int8  (w' = w - bias)
//              a: [row][K quad][4]                              uint8 (a' = a - bias)
//   int16      w: [block of 16 cols][K pair][16 cols][2]        int16 (w' = w - bias)
//              a: [row][K pair][2]                              int16 (a' = a - bias)
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::swar::detail {

inline constexpr size_t kBitSerialBlock = 8;
inline constexpr size_t kInt8Block = 16;
inline constexpr size_t kInt8Group = 4;   // K values per 32-bit lane
inline constexpr size_t kInt16Block = 16;
inline constexpr size_t kInt16Group = 2;

struct BitSerialArgs {
  const uint64_t* a;     // activation planes
  size_t a_row_words;    // a_planes * kw
  const uint64_t* w;     // weight planes
  size_t w_block_words;  // w_planes * kw * 8
  size_t kw;             // 64-bit words per plane
  int a_planes, w_planes;
  bool a_signed, w_signed;  // top plane weighs -2^(planes-1) when signed
};

struct DotArgs {
  const void* a;         // packed activations
  size_t a_row_bytes;
  const void* w;         // packed weights
  size_t w_block_bytes;
  // Optional starting values of the accumulators (the bias corrections):
  // acc(m, col) starts at col_init[col] + row_init[m]; null means 0.
  const int32_t* col_init = nullptr;
  const int32_t* row_init = nullptr;
};

// Kernels compute the tile rows [m0, m1) x columns [col0, col1) (col0, col1
// multiples of the block width).
//
// bitserial: exact sums over all of K, stored to c[m * ldc + col] for the
// columns col < n that exist (int64, or int32 when `wide` is false).
struct BitSerialOut {
  void* c;
  size_t ldc;
  bool wide;
  size_t n;
};
void bitserial_kernel(const BitSerialArgs& g, size_t m0, size_t m1, size_t col0, size_t col1,
                      const BitSerialOut& out);
// int8 / int16 store to out[(m - m0) * ldo + col - col0].
// int8 / int16: initial value + sums of a' * w' modulo 2^32 over K units
// [ku0, ku1); out may be the caller's C when the tile's columns all exist.
void int8_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0,
                 size_t ku1, int32_t* out, size_t ldo);
void int16_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0,
                  size_t ku1, int32_t* out, size_t ldo);

// Highway target currently used by the kernels (e.g. "AVX3_DL").
const char* kernel_target_name();

}  // namespace bitlane::swar::detail
