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
#include <type_traits>
#include <utility>

#include "hwy/highway.h"
#include "swar/dot_family.h"
#include "swar/kernels/byte_products-inl.h"  // first: it widens AVX3_DL's target string
#include "swar/kernels/pair_tiles-inl.h"  // after the target string: the same features
#include "swar/kernels/row_lanes-inl.h"
#include "swar/kernels/small_k_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A unit's weight vector held in a register for all the tile's rows
// (kHold: the int16-sum and int16 products). On AVX2 GCC 12 folded it into
// each row's multiply as a memory operand: a 2 x 4 tile loaded 10 vectors
// per unit for 8 multiplies, more than two loads per cycle keep up with
// (int7 at 4 bits, 64x784x512: 309-334 -> 355-375 GOPS; int16, 50176x144x16:
// 87-124 -> 100-137). The exact 8-bit emulation, with more temporaries,
// lost 1-2% the same way and keeps the memory operands.
template <bool kHold, class V>
HWY_INLINE V WeightsInRegister(V w) {
#if HWY_TARGET == HWY_AVX2
  if constexpr (kHold) return V{InRegister(w.raw)};
#endif
  return w;
}

// Where the tiles' weights come from: the 64 bytes of K unit k of a
// column vector's block (`col`: the vector's first byte of unit 0).
struct ByteWeights {
  static constexpr bool kPairs = false;
  template <class D32>
  static HWY_INLINE hn::Vec<D32> Load(D32 d32, const uint8_t* col, size_t k) {
    return hn::LoadU(d32, reinterpret_cast<const int32_t*>(col + k * 64));
  }
};
// Nibbles (dot_family.h, kNibbles4): unit k is the low (even k) or high
// nibbles of pair k / 2, stored + 8. Three instructions per vector (shift,
// mask, subtract) buy half the weight bytes: GEMVs, which stream weights
// from L2, read half as much. kMinus8 false reads them as stored, w' + 8 in
// [0, 15], for callers whose accumulators start 8 * (the row's sum of a')
// lower (DotArgs::stored_nibbles): one instruction less per weight vector.
template <bool kMinus8>
struct NibbleWeightsOf {
  static constexpr bool kPairs = true;  // Raw + Low + High: both units of a pair from one load
  template <class D32>
  static HWY_INLINE hn::Vec<D32> Raw(D32 d32, const uint8_t* col, size_t k) {
    return hn::LoadU(d32, reinterpret_cast<const int32_t*>(col + (k >> 1) * 64));
  }
  template <class D32, class V>
  static HWY_INLINE V Low(D32 d32, V raw) {
    return Nibbles(d32, raw, 0);
  }
  template <class D32, class V>
  static HWY_INLINE V High(D32 d32, V raw) {
    return Nibbles(d32, raw, 4);
  }
  template <class D32>
  static HWY_INLINE hn::Vec<D32> Load(D32 d32, const uint8_t* col, size_t k) {
    return Nibbles(d32, Raw(d32, col, k), static_cast<int>(k & 1) * 4);
  }
  // The nibbles at `shift` of each byte (minus 8 if kMinus8).
  template <class D32, class V>
  static HWY_INLINE V Nibbles(D32 d32, V raw, int shift) {
#if HWY_TARGET == HWY_SCALAR
    // One int32 lane: plain C++ on its 4 bytes (each in [0, 15] after the
    // mask, so the bytewise - 8 below never borrows across bytes).
    uint32_t x = static_cast<uint32_t>(hn::GetLane(raw));
    x = (x >> shift) & 0x0F0F0F0Fu;
    if (kMinus8) x = ((x | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
    return hn::Set(d32, static_cast<int32_t>(x));
#else
    const hn::Repartition<uint16_t, D32> d16;
    const hn::Repartition<int8_t, D32> d8;
    const auto v = hn::BitCast(d16, raw);
    const auto n = hn::And(shift ? hn::ShiftRight<4>(v) : v, hn::Set(d16, uint16_t{0x0F0F}));
    if (!kMinus8) return hn::BitCast(d32, n);
    return hn::BitCast(d32, hn::Sub(hn::BitCast(d8, n), hn::Set(d8, int8_t{8})));
#endif
  }
};
using NibbleWeights = NibbleWeightsOf<true>;
using StoredNibbleWeights = NibbleWeightsOf<false>;

HWY_INLINE uint32_t LoadU32(const void* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

// Tiles of up to 16 accumulators: MR rows x NV vectors of 16 columns (one
// register each), held in named variables c0..c15 (SVE vectors are sizeless:
// no arrays of them). Accumulator I is row I / NV, vector I % NV. Narrow
// layers (one or two vectors of columns) get tall tiles, so enough
// independent accumulators hide the dot product's latency.
#define BL_FOR_16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define BL_FOR_4(X) X(0) X(1) X(2) X(3)

template <int K, class V>
HWY_INLINE V Pick16(V x0, V x1, V x2, V x3, V x4, V x5, V x6, V x7, V x8, V x9, V x10, V x11, V x12, V x13,
                    V x14, V x15) {
  if constexpr (K == 0) return x0;
  else if constexpr (K == 1) return x1;
  else if constexpr (K == 2) return x2;
  else if constexpr (K == 3) return x3;
  else if constexpr (K == 4) return x4;
  else if constexpr (K == 5) return x5;
  else if constexpr (K == 6) return x6;
  else if constexpr (K == 7) return x7;
  else if constexpr (K == 8) return x8;
  else if constexpr (K == 9) return x9;
  else if constexpr (K == 10) return x10;
  else if constexpr (K == 11) return x11;
  else if constexpr (K == 12) return x12;
  else if constexpr (K == 13) return x13;
  else if constexpr (K == 14) return x14;
  else return x15;
}
template <int K, class V>
HWY_INLINE V Pick4(V x0, V x1, V x2, V x3) {
  if constexpr (K == 0) return x0;
  else if constexpr (K == 1) return x1;
  else if constexpr (K == 2) return x2;
  else return x3;
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_NEON || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 ||  \
    HWY_TARGET == HWY_SVE2_128
constexpr int kDotMaxAcc = 16;  // 32 vector registers
#else
constexpr int kDotMaxAcc = 8;   // 16 vector registers (SSE4, AVX2) or emulated
// A row's broadcast K unit is made where its first product needs it, not
// all rows' first: 16 registers then hold one row beside the accumulators
// and weights, and tiles that spilled do less (callgrind, AVX2, ResNet at 8
// bits: the gathered 4 x 2 int8 tile 430 -> 417 M instructions; LeNet at 4
// and 8 bits -1.8%). With 32 registers nothing spilled and the same order
// measured ~2% slower (AVX3_DL, the 4 x 4 int8 tile on 64x784x512).
#define BL_LATE_ROWS 1
#endif
constexpr int kDotMaxVecs = 4;
template <class Product, bool kGathered = false, class Weights = ByteWeights>
struct DotTiles {
  // Accumulators a tile holds: AVX-VNNI's product is one instruction with no
  // temporaries, so AVX2's 16 registers hold 12 beside a row's broadcast,
  // byte weights read from memory by the instruction itself: VPDPBUSD's
  // latency (5) on two ports wants 10 chains, and 8 ran at 75% of its
  // ceiling (78-96% with 12; bench/README.md, thirty-seventh session).
  // Nibbles need registers to unpack into.
  static constexpr int kMaxAcc =
      kHaveAvxVnni && std::is_same_v<Product, AvxVnniProduct> && std::is_same_v<Weights, ByteWeights> ? 12
                                                                                                      : kDotMaxAcc;
  // Rows of the tallest tile with nv vectors of columns. One vector of
  // columns (16-channel convolutions) stops at 12 rows: 16 row pointers do
  // not fit x86's 16 general registers beside the loop's own and were
  // spilled to vector registers and back every K unit; 12 accumulators
  // still cover the dot product's latency (2 per cycle x 5 cycles).
  // 3136x144x16, 1 thread (bitlane_kernels --shapes 3136x144x16): 513-525
  // -> 566-577 GOPS. On AVX-512 one vector of columns runs PairTiles instead
  // (pair_tiles-inl.h).
  static constexpr int TileRows(int nv) { return nv == 1 && kMaxAcc == 16 ? 12 : kMaxAcc / nv; }
  static constexpr size_t kBlock = kDotBlock;
  // Fewer units than this per int16 chunk: each chunk's start loads and
  // stores cost more than the instructions saved (AVX2, 64x784x512 and
  // 3136x576x64 against the int32 steps: chunks of 8 units 0.8-0.9x, 16
  // units 1.07-1.13x, 33 units 1.27-1.32x, 136 units 1.42-1.45x).
  static constexpr size_t kMinPairUnits = 16;
  static constexpr size_t kUnitBytes = 4;          // one int32 lane per K unit
  static constexpr size_t kPanelBytes = 40 * 1024;  // weight panel per K chunk (L1: 48 KB+)

  template <int MR, int NV>
  struct Tile {
    static_assert(MR * NV <= 16 && NV <= 4);
    static void Run(size_t m, size_t count, size_t v, const DotArgs& g, size_t ku0, size_t ku1, bool first,
                    size_t m_base, size_t v_base, int32_t* out, size_t ldo) {
      const hn::CappedTag<int32_t, kBlock> d32;
      using V = hn::Vec<decltype(d32)>;
      const size_t L = hn::Lanes(d32);
      const size_t per_block = kBlock / L;

      const uint8_t* wcol[kDotMaxVecs] = {};
      for (int c = 0; c < NV; ++c) {
        const size_t gv = v + c;
        wcol[c] = static_cast<const uint8_t*>(g.w) + (gv / per_block) * g.w_block_bytes +
                  (gv % per_block) * L * kUnitBytes;
      }
      // `count` tiles of MR rows from row m, one below the other: one call
      // per run of tiles, not per tile (each call passed ten arguments,
      // half of them on the stack, and cleared the upper vector halves).
      for (size_t tile = 0; tile < count; ++tile, m += MR) {
        const uint8_t* arow[16] = {};
        for (int r = 0; r < MR; ++r)
          arow[r] = static_cast<const uint8_t*>(g.a) +
                    (kGathered ? static_cast<size_t>(g.row_offset[m + r]) : (m + r) * g.a_row_bytes);
        int32_t* orow = out + (m - m_base) * ldo + (v - v_base) * L;

        // Accumulators start from the stored partial sums, or on the first K
        // chunk from the bias corrections: col_init[col] + row_init[m] -- before
        // the K loop, or (products that widen at the end) added after it.
        const V zero = hn::Zero(d32);
        constexpr bool kLateStart = WidensAtEnd<Product>();
        constexpr bool kHoldWeights = kLateStart || std::is_same_v<Product, WordsProduct>;
        auto start = [&](size_t r, size_t j) HWY_ATTR {
          if (!first) return hn::LoadU(d32, orow + r * ldo + j * L);
          V col = g.col_init ? hn::LoadU(d32, g.col_init + (v + j) * L) : hn::Zero(d32);
          if constexpr (FlipsAtStart<Product>()) col = hn::Add(col, hn::LoadU(d32, g.flip_init + (v + j) * L));
          return hn::Add(col, g.row_init ? hn::Set(d32, g.row_init[m + r]) : hn::Zero(d32));
        };
#define BL_DECL(I)                                   \
  V c##I = zero;                                     \
  if constexpr (I < MR * NV && !kLateStart) c##I = start(I / NV, I % NV);
        BL_FOR_16(BL_DECL)
#undef BL_DECL
        // One K unit: broadcast each row's 4 bytes, multiply with the weight
        // vectors W0..W3 (WLOAD declares them, or they exist already). With
        // BL_LATE_ROWS each product broadcasts its row itself (the compiler
        // merges a row's repeated loads, at its first product).
#define BL_BROADCAST_A(R) hn::Set(d32, static_cast<int32_t>(LoadU32(arow[R] + a_off)))
#ifdef BL_LATE_ROWS
#define BL_LOAD_A(R)
#define BL_ROW_A(I) BL_BROADCAST_A(I / NV)
#else
#define BL_LOAD_A(R) const V a##R = (R < MR) ? BL_BROADCAST_A(R) : zero;
#define BL_ROW_A(I) Pick16<I / NV>(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)
#endif
#define BL_STEP_INTO(ACC, I, W0, W1, W2, W3)                                                     \
  if constexpr (I < MR * NV) ACC##I = Product::Step(d32, BL_ROW_A(I), Pick4<I % NV>(W0, W1, W2, W3), ACC##I);
        // Small tiles of nibble weights (a GEMV: 1 row x 4 vectors) give the
        // high unit of each pair its own accumulators (h), added at the end:
        // with one set, each accumulator took two dependent dot products per
        // weight load and the loop waited on their latency (1x784x512 at 4
        // bits: 388 -> 461 GOPS). Byte weights lost with the same split
        // (1x784x512 at 8 bits: 301 -> 224 GOPS), so they keep one set.
        constexpr bool kSplit = Weights::kPairs && 2 * MR * NV <= kDotMaxAcc;
#define BL_DECL_H(I) V h##I = zero;
        BL_FOR_16(BL_DECL_H)
#undef BL_DECL_H
#define BL_STEP(I) BL_STEP_INTO(c, I, w0, w1, w2, w3)
#define BL_STEP_LO(I) BL_STEP_INTO(c, I, lo0, lo1, lo2, lo3)
#define BL_STEP_H_WITH(I, W0, W1, W2, W3)      \
  if constexpr (kSplit) {                      \
    BL_STEP_INTO(h, I, W0, W1, W2, W3)         \
  } else {                                     \
    BL_STEP_INTO(c, I, W0, W1, W2, W3)         \
  }
#define BL_STEP_HI(I) BL_STEP_H_WITH(I, hi0, hi1, hi2, hi3)
#define BL_LOAD_W(J) \
  const V w##J = (J < NV) ? WeightsInRegister<kHoldWeights>(Weights::Load(d32, wcol[J], ku)) : zero;
#define BL_NO_LOAD(J)
#define BL_UNIT(KU, WLOAD, STEP)                                                  \
  {                                                                               \
    const size_t ku = (KU);                                                       \
    const size_t a_off = kGathered ? g.unit_offset[ku] : ku * kUnitBytes;         \
    BL_FOR_16(BL_LOAD_A)                                                          \
    BL_FOR_4(WLOAD)                                                               \
    BL_FOR_16(STEP)                                                               \
  }
        size_t k = ku0;
        if constexpr (Weights::kPairs) {
          // Two units per weight load (the low and high nibbles of one pair).
          if (k < ku1 && (k & 1)) BL_UNIT(k++, BL_LOAD_W, BL_STEP)
          for (; k + 2 <= ku1; k += 2) {
#define BL_LOAD_PAIR(J)                                                         \
  const V raw##J = (J < NV) ? Weights::Raw(d32, wcol[J], k) : zero;             \
  const V lo##J = Weights::Low(d32, raw##J), hi##J = Weights::High(d32, raw##J);
            BL_FOR_4(BL_LOAD_PAIR)
#undef BL_LOAD_PAIR
            BL_UNIT(k, BL_NO_LOAD, BL_STEP_LO)
            BL_UNIT(k + 1, BL_NO_LOAD, BL_STEP_HI)
          }
        }
        for (; k < ku1; ++k) BL_UNIT(k, BL_LOAD_W, BL_STEP)
#undef BL_UNIT
#undef BL_NO_LOAD
#undef BL_LOAD_W
#undef BL_STEP_HI
#undef BL_STEP_H_WITH
#undef BL_STEP_LO
#undef BL_STEP
#undef BL_STEP_INTO
#undef BL_ROW_A
#undef BL_LOAD_A
#undef BL_BROADCAST_A
#define BL_STORE(I)                                                                                   \
  if constexpr (I < MR * NV) {                                                                        \
    if constexpr (kSplit) c##I = hn::Add(c##I, h##I);                                                 \
    if constexpr (kLateStart) c##I = hn::Add(start(I / NV, I % NV), Product::Widen(d32, c##I));       \
    hn::StoreU(c##I, d32, orow + (I / NV) * ldo + (I % NV) * L);                                      \
  }
        BL_FOR_16(BL_STORE)
#undef BL_STORE
      }
    }
  };

  // Runs Tile<mr, NV> for a runtime mr in 1..MR.
  template <int NV, int MR, class... Args>
  static HWY_INLINE void RunRows(size_t mr, Args&&... args) {
    if constexpr (MR >= 1) {
      if (mr == MR) {
        Tile<MR, NV>::Run(args...);
        return;
      }
      RunRows<NV, MR - 1>(mr, args...);
    }
  }
  template <class... Args>
  static HWY_INLINE void RunTile(size_t mr, size_t nv, Args&&... args) {
    switch (nv) {
      case 1: RunRows<1, TileRows(1)>(mr, args...); return;
      case 2: RunRows<2, TileRows(2)>(mr, args...); return;
      case 3: RunRows<3, TileRows(3)>(mr, args...); return;
      default: RunRows<4, TileRows(4)>(mr, args...); return;
    }
  }
  // Rows [m0, m1) in tiles of `rows` (TileRows(nv)) rows: the whole tiles in
  // one call, the rest of the rows in another.
  template <class... Args>
  static HWY_INLINE void RunSpan(size_t rows, size_t nv, size_t m0, size_t m1, Args&&... args) {
    const size_t whole = (m1 - m0) / rows, rest = (m1 - m0) % rows;
    if (whole) RunTile(rows, nv, m0, whole, args...);
    if (rest) RunTile(rest, nv, m0 + whole * rows, size_t{1}, args...);
  }

  static void Kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1,
                     size_t ku0, size_t ku1, int32_t* out, size_t ldo) {
    if (ku1 == ku0) {
      for (size_t m = m0; m < m1; ++m) std::memset(out + (m - m0) * ldo, 0, (col1 - col0) * 4);
      return;
    }
    const size_t L = hn::Lanes(hn::CappedTag<int32_t, kBlock>());
#if BL_HAVE_ROW_LANES
    // At most 8 real columns of gathered rows: rows in the lanes.
    if constexpr (kGathered && std::is_same_v<Weights, ByteWeights>) {
      using Rows = RowLanes<Product>;
      if (L == 16 && col1 - col0 == 16 && g.n > col0 && g.n - col0 <= Rows::kMaxCols &&
          Rows::Reachable(g, m0, m1)) {
        const uint8_t* wcol = static_cast<const uint8_t*>(g.w) + (col0 / 16) * g.w_block_bytes;
        Rows::Dispatch(g.n - col0, g, wcol, col0, m0, m1, ku0, ku1, out, ldo);
        return;
      }
    }
#endif
    // Vectors wholly past the real columns are left out (the contract leaves
    // their sums undefined): where a block spans several vectors (AVX2: 2,
    // NEON: 4), LeNet's first convolution (6 channels) ran two 8-column
    // vectors on AVX2, one of them padding.
    const size_t v0 = col0 / L, v1 = g.n ? HWY_MIN(col1 / L, HWY_MAX(v0 + 1, (g.n + L - 1) / L)) : col1 / L;
    // K chunks of equal size whose weight panel (kDotMaxVecs vectors) fits L1.
    const size_t max_chunk = HWY_MAX(size_t{16}, kPanelBytes / (kDotMaxVecs * L * kUnitBytes));
    const size_t n_chunks = (ku1 - ku0 + max_chunk - 1) / max_chunk;
    const size_t chunk = (ku1 - ku0 + n_chunks - 1) / n_chunks;
#if BL_HAVE_PAIR_TILES
    const bool pairs = L == 16 && (!kGathered || UnitsPairUp(g.unit_offset, ku0, ku1));
#endif
    // int7 with operands narrow enough that int16 lanes hold kMinPairUnits
    // units of pair sums: the register tiles widen once per chunk of at most
    // pair_units units (BytePairSums16Product).
    bool sums16 = false;
    size_t chunk16 = chunk;
    if constexpr (kHavePairSums16 && std::is_same_v<Product, BytePairsProduct> &&
                  std::is_same_v<Weights, ByteWeights>) {
      if (g.pair_units >= kMinPairUnits) {
        sums16 = true;
        const size_t max16 = HWY_MIN(max_chunk, g.pair_units);
        const size_t n16 = (ku1 - ku0 + max16 - 1) / max16;
        chunk16 = (ku1 - ku0 + n16 - 1) / n16;
      }
    }
    for (size_t v = v0; v < v1; v += kDotMaxVecs) {
      const size_t nv = HWY_MIN(size_t{kDotMaxVecs}, v1 - v);
#if BL_HAVE_SMALL_K_ROWS
      using SmallK = SmallKRows<Product, kGathered, Weights>;
      if (L == 16 && nv <= 2 && ku1 - ku0 <= SmallK::kMaxUnits) {  // a short K: rows one at a time
        const size_t per_block = kBlock / L;
        const uint8_t* wcol[2] = {};
        for (size_t c = 0; c < nv; ++c)
          wcol[c] = static_cast<const uint8_t*>(g.w) + ((v + c) / per_block) * g.w_block_bytes +
                    ((v + c) % per_block) * L * kUnitBytes;
        SmallK::Dispatch(ku1 - ku0, nv, g, wcol, m0, m1, v, ku0, out, ldo, v0);
        continue;
      }
#endif
#if BL_HAVE_PAIR_TILES
      if (pairs && nv == 1) {  // one vector of columns: two K units per activation load
        using Pairs = PairTiles<Product, kGathered, Weights>;
        static_assert(Pairs::kPanelUnits >= HWY_MAX(size_t{16}, kPanelBytes / (kDotMaxVecs * 16 * kUnitBytes)),
                      "a K chunk of one vector of columns must fit PairTiles' panel");
        const bool half = g.n != 0 && g.n <= v * L + 8;  // real columns end by column 8 of the vector
        for (size_t k = ku0; k < ku1; k += chunk) {
          const size_t k_end = HWY_MIN(ku1, k + chunk);
          if (half)
            Pairs::template RunSpan<true>(m0, m1, v, g, k, k_end, k == ku0, m0, v0, out, ldo);
          else
            Pairs::template RunSpan<false>(m0, m1, v, g, k, k_end, k == ku0, m0, v0, out, ldo);
        }
        continue;
      }
#endif
      const size_t rows = static_cast<size_t>(TileRows(static_cast<int>(nv)));
      if (sums16) {  // K chunks of at most pair_units units, int16 sums within each
        using Sums16 = DotTiles<BytePairSums16Product, kGathered, Weights>;
        for (size_t k = ku0; k < ku1; k += chunk16) {
          const size_t k_end = HWY_MIN(ku1, k + chunk16);
          Sums16::RunSpan(rows, nv, m0, m1, v, g, k, k_end, k == ku0, m0, v0, out, ldo);
        }
        continue;
      }
      for (size_t k = ku0; k < ku1; k += chunk) {
        const size_t k_end = HWY_MIN(ku1, k + chunk);
        RunSpan(rows, nv, m0, m1, v, g, k, k_end, k == ku0, m0, v0, out, ldo);
      }
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#undef BL_LATE_ROWS  // per target
#endif  // per-target include guard
