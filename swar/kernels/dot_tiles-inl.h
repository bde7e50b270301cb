// Per-target register tiles for the dot methods (swar/dot_family.h): one
// int32 lane per output column; a K unit (4 bytes or 2 int16) of one
// activation row is broadcast and multiplied with a vector of columns.
// Blocking over K keeps the weight panel of a tile in L1 while the rows of a
// task stream past it. Included by the dot kernel files once per Highway
// target (foreach_target); DotTiles<Product> takes the unit product:
//   Product::Step(d32, a, w, acc) = acc + sum over the unit of a' * w'.

#if defined(BITLANE_SWAR_DOT_TILES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_DOT_TILES_INL_H_
#undef BITLANE_SWAR_DOT_TILES_INL_H_
#else
#define BITLANE_SWAR_DOT_TILES_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"
#include "swar/dot_family.h"
#include "swar/kernels/register_tiles.h"

#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0.3 enables AVX-VNNI but not AVX512-VNNI for this target, although
// its CPU check requires both; add it for VPDPBUSD on zmm registers. Our
// functions get a superset of Highway's features, so its ops still inline
// (GCC and clang alike).
#undef HWY_TARGET_STR
#define HWY_TARGET_STR HWY_TARGET_STR_AVX3                                            \
  ",vpclmulqdq,avx512vbmi,avx512vbmi2,vaes,avxvnni,avx512bitalg,avx512vpopcntdq," \
  "avx512vnni"
#endif
HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_NEON || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 ||  \
    HWY_TARGET == HWY_SVE2_128
constexpr int kDotMaxRows = 4;  // 32 vector registers (6 rows measured slower)
#else
constexpr int kDotMaxRows = 2;  // 16 vector registers (SSE4, AVX2) or emulated
#endif
constexpr int kDotMaxVecs = 4;

// ------------------------------------------------------- pairwise products
//
// Both take int32 vectors whose lanes are reinterpreted as 2 int16 or 4
// bytes, and add to each int32 lane the products of its own sub-lanes,
// modulo 2^32. HWY_SCALAR (GCC < 12.3's fallback target) has one lane per
// vector and cannot reinterpret it as bytes, so it gets plain C++.

#if HWY_TARGET == HWY_SCALAR
template <class D32, class V32>
HWY_INLINE V32 MulPairsAdd(D32 d32, V32 x, V32 y, V32 acc) {
  const uint32_t xv = static_cast<uint32_t>(hn::GetLane(x)), yv = static_cast<uint32_t>(hn::GetLane(y));
  const int32_t lo = int32_t{static_cast<int16_t>(xv)} * static_cast<int16_t>(yv);
  const int32_t hi = int32_t{static_cast<int16_t>(xv >> 16)} * static_cast<int16_t>(yv >> 16);
  return hn::Set(d32, static_cast<int32_t>(static_cast<uint32_t>(hn::GetLane(acc)) +
                                           static_cast<uint32_t>(lo) + static_cast<uint32_t>(hi)));
}
template <class D32, class V32>
HWY_INLINE V32 DotBytes(D32 d32, V32 a, V32 w, V32 acc) {
  const uint32_t av = static_cast<uint32_t>(hn::GetLane(a)), wv = static_cast<uint32_t>(hn::GetLane(w));
  int32_t sum = 0;
  for (int t = 0; t < 4; ++t)
    sum += int32_t{static_cast<uint8_t>(av >> (8 * t))} * static_cast<int8_t>(wv >> (8 * t));
  return hn::Set(d32, static_cast<int32_t>(static_cast<uint32_t>(hn::GetLane(acc)) +
                                           static_cast<uint32_t>(sum)));
}
#else
// acc + (x[2c] * y[2c] + x[2c+1] * y[2c+1]) for the int16 halves of lane c.
template <class D32, class V32>
HWY_INLINE V32 MulPairsAdd(D32 d32, V32 x32, V32 y32, V32 acc) {
#if HWY_ARCH_X86
  // PMADDWD; Highway's lane order for x86 is exactly the pairwise one.
  const hn::Repartition<int16_t, D32> d16;
  V32 unused = hn::Zero(d32);
  return hn::ReorderWidenMulAccumulate(d32, hn::BitCast(d16, x32), hn::BitCast(d16, y32), acc,
                                       unused);
#else
#if HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
  if constexpr (hn::MaxLanes(d32) == 4) {
    const int16x8_t x = vreinterpretq_s16_s32(x32.raw), y = vreinterpretq_s16_s32(y32.raw);
    const int32x4_t lo = vmull_s16(vget_low_s16(x), vget_low_s16(y));
    const int32x4_t hi = vmull_high_s16(x, y);
    return hn::Add(acc, V32(vpaddq_s32(lo, hi)));
  }
#endif
  const auto xe = hn::ShiftRight<16>(hn::ShiftLeft<16>(x32));
  const auto ye = hn::ShiftRight<16>(hn::ShiftLeft<16>(y32));
  const auto xo = hn::ShiftRight<16>(x32);
  const auto yo = hn::ShiftRight<16>(y32);
  return hn::Add(acc, hn::Add(hn::Mul(xe, ye), hn::Mul(xo, yo)));
#endif
}

// acc + sum of the 4 products a[4c+t] * w[4c+t] (a unsigned, w signed bytes)
// in int32 lane c: VPDPBUSD where the target has it.
template <class D32, class V32>
HWY_INLINE V32 DotBytes(D32 d32, V32 a, V32 w, V32 acc) {
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(d32) == 16) {
    return V32{_mm512_dpbusd_epi32(acc.raw, a.raw, w.raw)};
  }
#endif
  // Even and odd bytes widened in place to int16 halves of each int32 lane.
  const hn::Repartition<uint16_t, D32> du16;
  const hn::Repartition<int16_t, D32> d16;
  const auto a_even = hn::And(hn::BitCast(du16, a), hn::Set(du16, 0x00FF));
  const auto a_odd = hn::ShiftRight<8>(hn::BitCast(du16, a));
  const auto w16 = hn::BitCast(d16, w);
  const auto w_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(w16));
  const auto w_odd = hn::ShiftRight<8>(w16);
  acc = MulPairsAdd(d32, hn::BitCast(d32, a_even), hn::BitCast(d32, w_even), acc);
  return MulPairsAdd(d32, hn::BitCast(d32, a_odd), hn::BitCast(d32, w_odd), acc);
}
#endif

struct BytesProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return DotBytes(d32, a, w, acc);
  }
};
struct WordsProduct {
  template <class D32, class V32>
  static HWY_INLINE V32 Step(D32 d32, V32 a, V32 w, V32 acc) {
    return MulPairsAdd(d32, a, w, acc);
  }
};

HWY_INLINE uint32_t LoadU32(const void* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

template <class Product>
struct DotTiles {
  static constexpr size_t kBlock = kDotBlock;
  static constexpr size_t kUnitBytes = 4;          // one int32 lane per K unit
  static constexpr size_t kPanelBytes = 40 * 1024;  // weight panel per K chunk (L1: 48 KB+)

  template <int MR, int NV>
  struct Tile {
    static void Run(size_t m, size_t v, const DotArgs& g, size_t ku0, size_t ku1, bool first,
                    size_t m_base, size_t v_base, int32_t* out, size_t ldo) {
      const hn::CappedTag<int32_t, kBlock> d32;
      const size_t L = hn::Lanes(d32);
      const size_t per_block = kBlock / L;
      const size_t unit_stride = kBlock * kUnitBytes;  // bytes per K unit in a block

      const uint8_t* wcol[tiles::kTileVecs] = {};
      for (int c = 0; c < NV; ++c) {
        const size_t gv = v + c;
        wcol[c] = static_cast<const uint8_t*>(g.w) + (gv / per_block) * g.w_block_bytes +
                  (gv % per_block) * L * kUnitBytes;
      }
      const uint8_t* arow[tiles::kTileRows] = {};
      for (int r = 0; r < MR; ++r)
        arow[r] = static_cast<const uint8_t*>(g.a) + (m + r) * g.a_row_bytes;
      int32_t* orow = out + (m - m_base) * ldo + (v - v_base) * L;

      // Accumulators start from the stored partial sums, or on the first K
      // chunk from the bias corrections.
      const auto zero = hn::Zero(d32);
#define BL_ROW_INIT(R)                                                                   \
  const auto r##R = (first && R < MR && g.row_init) ? hn::Set(d32, g.row_init[m + (R < MR ? R : 0)]) \
                                                    : zero;
      BL_FOR_ROWS(BL_ROW_INIT)
#undef BL_ROW_INIT
#define BL_COL_INIT(V)                                                                      \
  const auto i##V = (first && V < NV && g.col_init) ? hn::LoadU(d32, g.col_init + (v + (V < NV ? V : 0)) * L) \
                                                    : zero;
      BL_FOR_VECS(BL_COL_INIT)
#undef BL_COL_INIT
#define BL_DECL(R, V)                                                                   \
  auto c##R##V = (R < MR && V < NV && !first)                                           \
                     ? hn::LoadU(d32, orow + (R < MR ? R : 0) * ldo + (V < NV ? V : 0) * L) \
                     : hn::Add(r##R, i##V);
      BL_FOR_TILE(BL_DECL)
#undef BL_DECL
      for (size_t k = ku0; k < ku1; ++k) {
#define BL_LOAD_A(R)                                                                        \
  const auto a##R = hn::Set(d32, static_cast<int32_t>(                                     \
                                     (R < MR) ? LoadU32(arow[R < MR ? R : 0] + k * kUnitBytes) : 0));
        BL_FOR_ROWS(BL_LOAD_A)
#undef BL_LOAD_A
#define BL_LOAD_W(V)                                                                        \
  const auto w##V = (V < NV) ? hn::LoadU(d32, reinterpret_cast<const int32_t*>(            \
                                                  wcol[V < NV ? V : 0] + k * unit_stride)) \
                             : hn::Zero(d32);
        BL_FOR_VECS(BL_LOAD_W)
#undef BL_LOAD_W
#define BL_STEP(R, V) \
  if constexpr (R < MR && V < NV) c##R##V = Product::Step(d32, a##R, w##V, c##R##V);
        BL_FOR_TILE(BL_STEP)
#undef BL_STEP
      }
#define BL_STORE(R, V) \
  if constexpr (R < MR && V < NV) hn::StoreU(c##R##V, d32, orow + R * ldo + V * L);
      BL_FOR_TILE(BL_STORE)
#undef BL_STORE
    }
  };

  static void Kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1,
                     size_t ku0, size_t ku1, int32_t* out, size_t ldo) {
    if (ku1 == ku0) {
      for (size_t m = m0; m < m1; ++m) std::memset(out + (m - m0) * ldo, 0, (col1 - col0) * 4);
      return;
    }
    const size_t L = hn::Lanes(hn::CappedTag<int32_t, kBlock>());
    const size_t v0 = col0 / L, v1 = col1 / L;
    // K chunks of equal size whose weight panel (kDotMaxVecs vectors) fits L1.
    const size_t max_chunk = HWY_MAX(size_t{16}, kPanelBytes / (kDotMaxVecs * L * kUnitBytes));
    const size_t n_chunks = (ku1 - ku0 + max_chunk - 1) / max_chunk;
    const size_t chunk = (ku1 - ku0 + n_chunks - 1) / n_chunks;
    for (size_t v = v0; v < v1; v += kDotMaxVecs) {
      const size_t nv = HWY_MIN(size_t{kDotMaxVecs}, v1 - v);
      for (size_t k = ku0; k < ku1; k += chunk) {
        const size_t k_end = HWY_MIN(ku1, k + chunk);
        for (size_t m = m0; m < m1; m += kDotMaxRows) {
          const size_t mr = HWY_MIN(size_t{kDotMaxRows}, m1 - m);
          tiles::dispatch<Tile>(mr, nv, m, v, g, k, k_end, k == ku0, m0, v0, out, ldo);
        }
      }
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
