// One vector of columns (16-column layers: ResNet's first stage) on AVX-512,
// two K units per activation load. Included by dot_tiles-inl.h once per
// Highway target; the tiles exist only on AVX3 / AVX3_DL.
//
// Why: DotTiles' tile for one vector of columns loads a broadcast of one
// row's 4 bytes for every product step -- 13 loads per 12 VPDPBUSD, so its
// K loop runs at the load ports' pace, not the dot products'. Here each load
// broadcasts 8 bytes (units k and k + 1) and the weight vectors of both
// units, permuted once per span of rows (Panel), hold columns 0-7 and 8-15
// with the units interleaved (lane 2c: column c's unit k, lane 2c + 1: its
// unit k + 1). Each row keeps two accumulators whose lane pairs are summed
// when the tile ends: 10 broadcast loads + 2 weight loads per 20 products
// (10 rows). Integer sums in another order: the same bits.
//
// Needs unit k + 1's bytes right after unit k's in each row: always true of
// packed rows; gathered rows are checked once per call (UnitsPairUp).
//
// A vector whose real columns end by column 8 runs the half tile: the high
// accumulators would multiply padding only, so they are left out -- half the
// VPDPBUSD -- and columns 8-15 store 0. (Gathered rows with so few columns,
// LeNet's first convolution, run rows in the lanes instead: row_lanes-inl.h.)
// BL_HAVE_PAIR_TILES says whether the current target has them.

#if defined(BITLANE_SWAR_PAIR_TILES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_PAIR_TILES_INL_H_
#undef BITLANE_SWAR_PAIR_TILES_INL_H_
#else
#define BITLANE_SWAR_PAIR_TILES_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"
#include "swar/dot_family.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef BL_HAVE_PAIR_TILES
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define BL_HAVE_PAIR_TILES 1

// Pairs start at even units: every unit k (even, ku0 <= k, k + 1 < ku1) has
// unit k + 1 four bytes after it.
inline bool UnitsPairUp(const uint32_t* unit_offset, size_t ku0, size_t ku1) {
  if (unit_offset == nullptr) return true;
  for (size_t k = (ku0 + 1) & ~size_t{1}; k + 1 < ku1; k += 2)
    if (unit_offset[k + 1] != unit_offset[k] + 4) return false;
  return true;
}

#define BL_PAIR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)  // kRows of them

template <class Product, bool kGathered, class Weights>
struct PairTiles {
  // 20 accumulators, 2 weight vectors, 2 permute indexes, broadcasts (12
  // rows measured slower: GCC 12 spilled accumulators).
  static constexpr int kRows = 10;

  // Units of the longest span whose weight steps a Panel holds: DotTiles'
  // K chunks for one vector of columns (kPanelBytes / 256 = 160; checked
  // where it calls RunSpan).
  static constexpr size_t kPanelUnits = 160;
  // The weight vectors of every step of a span's units, permuted once per
  // span instead of once per tile: per step, columns 0-7 (lo) and 8-15 (hi)
  // of units k and k + 1 interleaved -- lane 2c column c's unit k, lane
  // 2c + 1 its unit k + 1 (0 for a unit alone: an odd first unit, a last
  // one). With the permutes in the tiles, each step took 2 of them beside
  // its 20 VPDPBUSD on the same two ports (bench/README.md, fortieth
  // session: 3136x144x16 1.12x, ResNet 1.03x on Intel).
  struct Panel {
    HWY_ALIGN int32_t w[kPanelUnits / 2 + 2][2][16];
  };

  template <bool kHalf>
  static void Permute(size_t v, const DotArgs& g, size_t ku0, size_t ku1, Panel& p) {
    const hn::FixedTag<int32_t, 16> d32;
    using V = hn::Vec<decltype(d32)>;
    const uint8_t* wcol = static_cast<const uint8_t*>(g.w) + v * g.w_block_bytes;
    const __m512i lo_index = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_index = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const V zero = hn::Zero(d32);
    size_t s = 0;
    auto step = [&](V w_a, V w_b) HWY_ATTR {
      hn::Store(V{_mm512_permutex2var_epi32(w_a.raw, lo_index, w_b.raw)}, d32, p.w[s][0]);
      if constexpr (!kHalf) hn::Store(V{_mm512_permutex2var_epi32(w_a.raw, hi_index, w_b.raw)}, d32, p.w[s][1]);
      ++s;
    };
    size_t k = ku0;
    if (k & 1) step(Weights::Load(d32, wcol, k++), zero);  // pairs start at even units (nibble pairs)
    for (; k + 2 <= ku1; k += 2) {
      if constexpr (Weights::kPairs) {
        const V raw = Weights::Raw(d32, wcol, k);
        step(Weights::Low(d32, raw), Weights::High(d32, raw));
      } else {
        step(Weights::Load(d32, wcol, k), Weights::Load(d32, wcol, k + 1));
      }
    }
    if (k < ku1) step(Weights::Load(d32, wcol, k), zero);
  }

  template <int MR, bool kHalf>
  struct Tile {
    static void Run(size_t m, size_t count, const Panel& p, size_t v, const DotArgs& g, size_t ku0, size_t ku1,
                    bool first, size_t m_base, size_t v_base, int32_t* out, size_t ldo) {
      const hn::FixedTag<int32_t, 16> d32;
      const hn::Repartition<int64_t, decltype(d32)> d64;
      using V = hn::Vec<decltype(d32)>;
      // `count` tiles of MR rows from row m, one below the other (one call
      // per run of tiles: see DotTiles::Tile).
      for (size_t tile = 0; tile < count; ++tile, m += MR) {
        const uint8_t* arow[kRows] = {};
        for (int r = 0; r < MR; ++r)
          arow[r] = static_cast<const uint8_t*>(g.a) +
                    (kGathered ? static_cast<size_t>(g.row_offset[m + r]) : (m + r) * g.a_row_bytes);
        const V zero = hn::Zero(d32);
        int32_t* orow = out + (m - m_base) * ldo + (v - v_base) * 16;
        // Row R's accumulators: columns 0-7 (lo) and 8-15 (hi) in lane pairs,
        // starting from the stored partial sums or, on the first K chunk, the
        // bias corrections col_init[col] + row_init[m] -- in each pair's first lane.
        const __m512i spread_lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        const __m512i spread_hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
        const V col_init = (first && g.col_init) ? hn::LoadU(d32, g.col_init + v * 16) : zero;
#define BL_DECL(R)                                                                               \
  V c##R##_lo = zero, c##R##_hi = zero;                                                          \
  if constexpr (R < MR) {                                                                        \
    const V start = !first ? hn::LoadU(d32, orow + R * ldo)                                      \
                           : hn::Add(col_init, g.row_init ? hn::Set(d32, g.row_init[m + R]) : zero); \
    c##R##_lo = V{_mm512_maskz_permutexvar_epi32(0x5555, spread_lo, start.raw)};               \
    if constexpr (!kHalf) c##R##_hi = V{_mm512_maskz_permutexvar_epi32(0x5555, spread_hi, start.raw)}; \
  }
        BL_PAIR_ROWS(BL_DECL)
#undef BL_DECL
        // Units k and (TWO) k + 1 of every row, the weights of the panel's next step.
#define BL_ROW(R)                                                   \
  if constexpr (R < MR) {                                           \
    const V a = Broadcast<two>(d32, d64, arow[R] + a_off);          \
    c##R##_lo = Product::Step(d32, a, wlo, c##R##_lo);              \
    if constexpr (!kHalf) c##R##_hi = Product::Step(d32, a, whi, c##R##_hi); \
  }
#define BL_PAIR_STEP(K, TWO)                                     \
  {                                                              \
    constexpr bool two = (TWO);                                  \
    const V wlo = hn::Load(d32, wp);                             \
    const V whi = kHalf ? zero : hn::Load(d32, wp + 16);         \
    const size_t a_off = kGathered ? g.unit_offset[K] : (K) * 4; \
    BL_PAIR_ROWS(BL_ROW)                                         \
  }
        // The panel's steps by pointer: a step counter beside k took one more
        // general register than x86 has to spare (a row pointer went to the
        // stack and was reloaded every step).
        const int32_t* wp = p.w[0][0];
        size_t k = ku0;
        if (k & 1) {  // pairs start at even units (nibble weights hold units 2p and 2p + 1)
          BL_PAIR_STEP(k, false)
          ++k, wp += 32;
        }
        for (; k + 2 <= ku1; k += 2, wp += 32) BL_PAIR_STEP(k, true)
        if (k < ku1) BL_PAIR_STEP(k, false)
#undef BL_PAIR_STEP
#undef BL_ROW

        // Each column's two lanes summed into the first (shift + add reads the
        // accumulators without overwriting them: a permute of them here made
        // GCC 12 copy every accumulator twice per K step), then the first lanes
        // of both halves gathered.
        const __m512i firsts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
#define BL_STORE(R)                                                                         \
  if constexpr (R < MR) {                                                                   \
    const __m512i lo = _mm512_add_epi32(c##R##_lo.raw, _mm512_srli_epi64(c##R##_lo.raw, 32)); \
    const __m512i hi = _mm512_add_epi32(c##R##_hi.raw, _mm512_srli_epi64(c##R##_hi.raw, 32)); \
    hn::StoreU(V{_mm512_permutex2var_epi32(lo, firsts, hi)}, d32, orow + R * ldo);          \
  }
        BL_PAIR_ROWS(BL_STORE)
#undef BL_STORE
      }
    }

    // Units k and k + 1 of a row in every 64-bit lane, or unit k alone in
    // every 32-bit lane (its partner's weights are then zero).
    template <bool kTwo, class D32, class D64>
    static HWY_INLINE hn::Vec<D32> Broadcast(D32 d32, D64 d64, const uint8_t* p) {
      if constexpr (kTwo) {
        uint64_t x;
        std::memcpy(&x, p, 8);
        return hn::BitCast(d32, hn::Set(d64, static_cast<int64_t>(x)));
      }
      int32_t x;
      std::memcpy(&x, p, 4);
      return hn::Set(d32, x);
    }
  };

  template <int MR, bool kHalf, class... Args>
  static HWY_INLINE void RunRows(size_t mr, Args&&... args) {
    if constexpr (MR >= 1) {
      if (mr == MR) {
        Tile<MR, kHalf>::Run(args...);
        return;
      }
      RunRows<MR - 1, kHalf>(mr, args...);
    }
  }
  // Rows [m0, m1) over units [ku0, ku1) (at most kPanelUnits): the span's
  // panel, then the whole tiles of kRows rows in one call, the rest in another.
  template <bool kHalf>
  static void RunSpan(size_t m0, size_t m1, size_t v, const DotArgs& g, size_t ku0, size_t ku1, bool first,
                      size_t m_base, size_t v_base, int32_t* out, size_t ldo) {
    HWY_DASSERT(ku1 - ku0 <= kPanelUnits);
    Panel p;
    Permute<kHalf>(v, g, ku0, ku1, p);
    const size_t whole = (m1 - m0) / kRows, rest = (m1 - m0) % kRows;
    if (whole) Tile<kRows, kHalf>::Run(m0, whole, p, v, g, ku0, ku1, first, m_base, v_base, out, ldo);
    if (rest)
      RunRows<kRows, kHalf>(rest, m0 + whole * kRows, size_t{1}, p, v, g, ku0, ku1, first, m_base, v_base, out, ldo);
  }
};
#undef BL_PAIR_ROWS
#else
#define BL_HAVE_PAIR_TILES 0
#endif

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
