// The AMX instructions behind amx_dot_tiles (swar/kernels/amx_tiles.h).
// x86-64 builds compile this file alone with -mamx-tile -mamx-int8
// (swar/CMakeLists.txt): the instructions run only where amx_usable() said
// yes, which the method table checks before it picks the method.
#include "swar/kernels/amx_tiles.h"

// GCC and clang spell the feature macros differently.
#if defined(__x86_64__) && ((defined(__AMX_INT8__) && defined(__AMX_TILE__)) || \
                            (defined(__AMXINT8__) && defined(__AMXTILE__)))
#include <immintrin.h>

namespace bitlane::swar::detail {
namespace {

// The intrinsics paste their tile number into the instruction text, so each
// number used is spelled out.
#define BL_TILE_CASES(OP, ...)             \
  if constexpr (N == 0) OP(0, __VA_ARGS__); \
  else if constexpr (N == 1) OP(1, __VA_ARGS__); \
  else if constexpr (N == 2) OP(2, __VA_ARGS__); \
  else if constexpr (N == 3) OP(3, __VA_ARGS__); \
  else if constexpr (N == 4) OP(4, __VA_ARGS__); \
  else if constexpr (N == 5) OP(5, __VA_ARGS__); \
  else if constexpr (N == 6) OP(6, __VA_ARGS__); \
  else OP(7, __VA_ARGS__);

struct HardwareTiles {
  static void configure(const AmxTileConfig& c) { _tile_loadconfig(&c); }
  static void release() { _tile_release(); }
  template <int N>
  static void load(const void* p, size_t stride) {
    BL_TILE_CASES(_tile_loadd, p, static_cast<long>(stride))
  }
  template <int N>
  static void store(void* p, size_t stride) {
    BL_TILE_CASES(_tile_stored, p, static_cast<long>(stride))
  }
  template <int N>
  static void zero() {
    if constexpr (N == 0) _tile_zero(0);
    else if constexpr (N == 1) _tile_zero(1);
    else if constexpr (N == 2) _tile_zero(2);
    else _tile_zero(3);
  }
  // The four products amx_dot_tiles uses: C(i, j) += A(i) * B(j).
  template <int C, int A, int B>
  static void dpbusd() {
    static_assert(C == (A - kAmxA0) * 2 + (B - kAmxB0));
    if constexpr (C == 0) _tile_dpbusd(0, 4, 6);
    else if constexpr (C == 1) _tile_dpbusd(1, 4, 7);
    else if constexpr (C == 2) _tile_dpbusd(2, 5, 6);
    else _tile_dpbusd(3, 5, 7);
  }
};
#undef BL_TILE_CASES

}  // namespace

void amx_int8_tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                    int32_t* out, size_t ldo, DotKernel rest) {
  amx_dot_tiles<HardwareTiles>(g, m0, m1, col0, col1, ku0, ku1, out, ldo, rest);
}

}  // namespace bitlane::swar::detail

#else  // no AMX in this build (another architecture): the method never runs here

namespace bitlane::swar::detail {
void amx_int8_tiles(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                    int32_t* out, size_t ldo, DotKernel rest) {
  rest(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}
}  // namespace bitlane::swar::detail

#endif
