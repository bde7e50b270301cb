// Short dot products (K of at most 8 units, one or two vectors of columns)
// on AVX-512, a row at a time with every weight vector held in registers.
// Included by dot_tiles-inl.h once per Highway target; the rows exist only
// on AVX3 / AVX3_DL (32 vector registers).
//
// Why: a register tile pays its set-up (row pointers, the column and row
// corrections, the weight loads and nibble unpacking) once per 8-12 rows,
// which a long K amortizes. ResNet's stem (K = 3 units: a 3 x 3 kernel over
// one channel, folded) and its strided 1 x 1 projections (K = 4 units) do 3
// and 8 products per row, so the set-up was most of their time. Here the
// weights are loaded once per call and each row costs its broadcasts, its
// products and its stores. Integer sums in the same order: the same bits.
//
// BL_HAVE_SMALL_K_ROWS says whether the current target has them.

#if defined(BITLANE_SWAR_SMALL_K_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_SMALL_K_ROWS_INL_H_
#undef BITLANE_SWAR_SMALL_K_ROWS_INL_H_
#else
#define BITLANE_SWAR_SMALL_K_ROWS_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"
#include "swar/dot_family.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef BL_HAVE_SMALL_K_ROWS
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define BL_HAVE_SMALL_K_ROWS 1

template <class Product, bool kGathered, class Weights>
struct SmallKRows {
  static constexpr size_t kMaxUnits = 8;

  // Rows [m0, m1), units [ku0, ku0 + KU), column vectors v .. v + NV - 1
  // (wcol: their weight blocks); out row m at out + (m - m0) * ldo, vector j
  // at column (v - v_base + j) * 16. Accumulators start from the bias
  // corrections (one K chunk: this is the whole dot product).
  template <int KU, int NV>
  static void Run(const DotArgs& g, const uint8_t* const* wcol, size_t m0, size_t m1, size_t v, size_t ku0,
                  int32_t* out, size_t ldo, size_t v_base) {
    static_assert(KU >= 1 && KU <= static_cast<int>(kMaxUnits) && NV >= 1 && NV <= 2);
    const hn::FixedTag<int32_t, 16> d32;
    using V = hn::Vec<decltype(d32)>;
    const V zero = hn::Zero(d32);
    V w[KU][NV];
    size_t off[KU];
    for (int k = 0; k < KU; ++k) {
      for (int j = 0; j < NV; ++j) w[k][j] = Weights::Load(d32, wcol[j], ku0 + static_cast<size_t>(k));
      off[k] = kGathered ? g.unit_offset[ku0 + static_cast<size_t>(k)] : (ku0 + static_cast<size_t>(k)) * 4;
    }
    V init[NV];
    for (int j = 0; j < NV; ++j) init[j] = g.col_init ? hn::LoadU(d32, g.col_init + (v + static_cast<size_t>(j)) * 16) : zero;
    const uint8_t* a = static_cast<const uint8_t*>(g.a);
    const int32_t* row_init = g.row_init;
    int32_t* o = out + (v - v_base) * 16;
    for (size_t m = m0; m < m1; ++m, o += ldo) {
      const uint8_t* row = a + (kGathered ? static_cast<size_t>(g.row_offset[m]) : m * g.a_row_bytes);
      const V ri = row_init ? hn::Set(d32, row_init[m]) : zero;
      V acc[NV];
      for (int j = 0; j < NV; ++j) acc[j] = hn::Add(init[j], ri);
      for (int k = 0; k < KU; ++k) {
        int32_t x;
        std::memcpy(&x, row + off[k], 4);
        const V b = hn::Set(d32, x);
        for (int j = 0; j < NV; ++j) acc[j] = Product::Step(d32, b, w[k][j], acc[j]);
      }
      for (int j = 0; j < NV; ++j) hn::StoreU(acc[j], d32, o + j * 16);
    }
  }

  // Run<ku, nv> for runtime ku in 1..kMaxUnits, nv in 1..2.
  template <int KU = 1, class... Args>
  static HWY_INLINE void Dispatch(size_t ku, size_t nv, Args&&... args) {
    if constexpr (KU <= static_cast<int>(kMaxUnits)) {
      if (ku == KU) {
        if (nv == 1) Run<KU, 1>(args...);
        else Run<KU, 2>(args...);
        return;
      }
      Dispatch<KU + 1>(ku, nv, args...);
    }
  }
};
#else
#define BL_HAVE_SMALL_K_ROWS 0
#endif

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
