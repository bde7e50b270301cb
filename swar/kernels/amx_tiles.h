// AMX int8 tiles on the byte dot layout (swar/dot_family.h, group 4):
// method "amx". An AMX tile is 16 rows of 64 bytes, and TDPBUSD multiplies
// an A tile (16 rows x 16 K quads of u8) with a B tile (16 K quads x 16
// columns x 4 s8, "VNNI-packed") into a C tile of 16 x 16 int32 -- 16384
// multiply-accumulates per instruction. A 16-column weight block of the
// int8 layout ([K quad][16 cols][4]) is already a column of B tiles (stride
// 64 bytes) and packed activation rows are A tiles (stride: the row), so
// the method shares the int8 method's packers and falls back to it.
//
// The kernel is written against a tile-ops policy T (load / store / zero /
// dpbusd on tile numbers, configure, release) so that the same code runs on
// the hardware (swar/kernels/amx_int8.cc) and, in the tests, on a scalar
// emulation of the instructions' documented semantics
// (tests/swar/amx_emulator.h): the loop, the tile shapes and the edge
// handling are tested on every machine, the instructions themselves only
// where the CPU has them.
//
// Rows come in groups of 16 (a tile's height); the rows left over (and whole
// calls of fewer than 16 rows, such as a GEMV, where a tile would be mostly
// empty) go to the `rest` kernel on the same layout. A last K step of fewer
// than 16 quads is copied into zero-padded tiles so that no load reads past
// a row or the weights.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "swar/dot_family.h"

namespace bitlane::swar::detail {

// The 64-byte operand of LDTILECFG, palette 1: per tile, bytes per row and rows.
struct alignas(64) AmxTileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(AmxTileConfig) == 64);

inline constexpr size_t kAmxRows = 16;      // rows of every tile used here
inline constexpr size_t kAmxRowBytes = 64;  // 16 int32 results, or 16 K quads
inline constexpr size_t kAmxQuads = 16;     // K quads per TDPBUSD

// Tile numbers: C tiles hold a block of 2 x 2 results of 16 x 16, C(i, j)
// the product of A tile i and B tile j.
inline constexpr int kAmxA0 = 4, kAmxA1 = 5, kAmxB0 = 6, kAmxB1 = 7;

// Every one of the 8 tiles 16 rows x 64 bytes.
inline AmxTileConfig amx_tile_config() {
  AmxTileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = kAmxRowBytes;
    c.rows[t] = kAmxRows;
  }
  return c;
}

namespace amx {

// A last K step of kr < 16 quads, zero-padded: MB A tiles and NB B tiles.
struct alignas(64) TailTiles {
  uint8_t a[2][kAmxRows * kAmxRowBytes];
  uint8_t b[2][kAmxQuads * kAmxRowBytes];
};

template <class T, int I, int J>
inline void dot() {
  T::template dpbusd<I * 2 + J, I == 0 ? kAmxA0 : kAmxA1, J == 0 ? kAmxB0 : kAmxB1>();
}

// One step of K: loads MB A tiles (a, row stride lda) and NB B tiles (b,
// block stride ldb_block, row stride 64) and accumulates the MB x NB products.
template <class T, int MB, int NB>
inline void step(const uint8_t* a, size_t lda, const uint8_t* b0, const uint8_t* b1, size_t ldb) {
  T::template load<kAmxA0>(a, lda);
  if constexpr (MB > 1) T::template load<kAmxA1>(a + kAmxRows * lda, lda);
  T::template load<kAmxB0>(b0, ldb);
  if constexpr (NB > 1) T::template load<kAmxB1>(b1, ldb);
  dot<T, 0, 0>();
  if constexpr (NB > 1) dot<T, 0, 1>();
  if constexpr (MB > 1) dot<T, 1, 0>();
  if constexpr (MB > 1 && NB > 1) dot<T, 1, 1>();
}

// C tile (i, j) from / to out at row block i, column block j.
template <class T, int I, int J>
inline void load_c(int32_t* c, size_t ldo) {
  T::template load<I * 2 + J>(c + I * kAmxRows * ldo + J * 16, ldo * 4);
}
template <class T, int I, int J>
inline void store_c(int32_t* c, size_t ldo) {
  T::template store<I * 2 + J>(c + I * kAmxRows * ldo + J * 16, ldo * 4);
}

// Rows [m, m + 16 MB) x columns [col, col + 16 NB): c (row m, column col of
// the output) = starting values + the sums over K quads [ku0, ku1).
template <class T, int MB, int NB>
void block(const DotArgs& g, size_t m, size_t col, size_t ku0, size_t ku1, int32_t* c, size_t ldo,
           TailTiles& tail) {
  constexpr size_t rows = MB * kAmxRows, cols = NB * 16;
  if (g.col_init || g.row_init) {
    // Starting values through the output: TDPBUSD accumulates onto them.
    for (size_t r = 0; r < rows; ++r) {
      const uint32_t ri = g.row_init ? static_cast<uint32_t>(g.row_init[m + r]) : 0;
      for (size_t j = 0; j < cols; ++j)
        c[r * ldo + j] =
            static_cast<int32_t>(ri + (g.col_init ? static_cast<uint32_t>(g.col_init[col + j]) : 0));
    }
    load_c<T, 0, 0>(c, ldo);
    if constexpr (NB > 1) load_c<T, 0, 1>(c, ldo);
    if constexpr (MB > 1) load_c<T, 1, 0>(c, ldo);
    if constexpr (MB > 1 && NB > 1) load_c<T, 1, 1>(c, ldo);
  } else {
    T::template zero<0>();
    if constexpr (NB > 1) T::template zero<1>();
    if constexpr (MB > 1) T::template zero<2>();
    if constexpr (MB > 1 && NB > 1) T::template zero<3>();
  }
  const size_t lda = g.a_row_bytes;
  const uint8_t* a = static_cast<const uint8_t*>(g.a) + m * lda;
  const uint8_t* b0 = static_cast<const uint8_t*>(g.w) + (col / 16) * g.w_block_bytes;
  const uint8_t* b1 = b0 + g.w_block_bytes;
  size_t k = ku0;
  for (; k + kAmxQuads <= ku1; k += kAmxQuads)
    step<T, MB, NB>(a + k * 4, lda, b0 + k * kAmxRowBytes, b1 + k * kAmxRowBytes, kAmxRowBytes);
  if (k < ku1) {
    const size_t kr = ku1 - k;
    for (size_t r = 0; r < rows; ++r) {
      uint8_t* dst = tail.a[r / kAmxRows] + (r % kAmxRows) * kAmxRowBytes;
      std::memcpy(dst, a + r * lda + k * 4, kr * 4);
      std::memset(dst + kr * 4, 0, kAmxRowBytes - kr * 4);
    }
    for (int j = 0; j < NB; ++j) {
      std::memcpy(tail.b[j], (j ? b1 : b0) + k * kAmxRowBytes, kr * kAmxRowBytes);
      std::memset(tail.b[j] + kr * kAmxRowBytes, 0, (kAmxQuads - kr) * kAmxRowBytes);
    }
    step<T, MB, NB>(tail.a[0], kAmxRowBytes, tail.b[0], tail.b[1], kAmxRowBytes);
  }
  store_c<T, 0, 0>(c, ldo);
  if constexpr (NB > 1) store_c<T, 0, 1>(c, ldo);
  if constexpr (MB > 1) store_c<T, 1, 0>(c, ldo);
  if constexpr (MB > 1 && NB > 1) store_c<T, 1, 1>(c, ldo);
}

}  // namespace amx

// The DotKernel contract (dot_family.h) on AMX tiles, packed rows only
// (gathered rows and the rows short of a tile go to `rest`).
template <class T>
void amx_dot_tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                   int32_t* out, size_t ldo, DotKernel rest) {
  const size_t m_full = m0 + (m1 - m0) / kAmxRows * kAmxRows;
  if (m_full == m0 || ku1 == ku0 || g.row_offset) {
    rest(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
    return;
  }
  amx::TailTiles tail;
  T::configure(amx_tile_config());
  // Column pairs outermost: the B tiles of two blocks stay in cache while
  // the row groups stream past.
  for (size_t col = col0; col < col1; col += 32) {
    const bool two_cols = col1 - col >= 32;
    for (size_t m = m0; m < m_full; m += 2 * kAmxRows) {
      const bool two_rows = m_full - m >= 2 * kAmxRows;
      int32_t* c = out + (m - m0) * ldo + (col - col0);
      if (two_rows && two_cols)
        amx::block<T, 2, 2>(g, m, col, ku0, ku1, c, ldo, tail);
      else if (two_rows)
        amx::block<T, 2, 1>(g, m, col, ku0, ku1, c, ldo, tail);
      else if (two_cols)
        amx::block<T, 1, 2>(g, m, col, ku0, ku1, c, ldo, tail);
      else
        amx::block<T, 1, 1>(g, m, col, ku0, ku1, c, ldo, tail);
    }
  }
  T::release();
  if (m_full < m1) rest(g, m_full, m1, col0, col1, ku0, ku1, out + (m_full - m0) * ldo, ldo);
}

// The kernel on the CPU's AMX unit (x86-64 builds; elsewhere it is `rest`).
// Needs amx_usable().
void amx_int8_tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                    int32_t* out, size_t ldo, DotKernel rest);

}  // namespace bitlane::swar::detail
