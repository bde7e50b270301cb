// Per-target integer Winograd F(2x2, 3x3) (ops/kernels/winograd.h). A band
// of tile rows goes through three passes in chunks of 16 tiles (taken
// across tile rows) that stay in L1:
//   1. input transform: V = B^T d B of each tile, vectorised over channels,
//      in byte arithmetic (exact modulo 256, and each V + bias is a byte);
//   2. products: per position p and block of 16 output channels, one
//      accumulator per tile, four tiles at a time, each K unit's 4 bytes of
//      V broadcast against the 16 columns' units of U (one VPDPBUSD on
//      AVX3_DL; PMADDUBSW pair sums added in int16 on AVX3, AVX2, SSE4;
//      NEON's SMULL pair sums without the dot product; SDOT where a
//      caller runs it with the dot product, which winograd_pays_off does
//      not choose);
//   3. output transform: Y = A^T M A of each tile, >> 2, into the sums.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/winograd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/kernels/byte_products-inl.h"  // first: it widens AVX3_DL's target string
#include "ops/kernels/winograd.h"

#include <algorithm>
#include <cstring>

#if defined(BITLANE_OPS_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_WINOGRAD_INL_H_
#undef BITLANE_OPS_WINOGRAD_INL_H_
#else
#define BITLANE_OPS_WINOGRAD_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Tiles per chunk: the products' sums of a chunk (16 positions x 16 tiles x
// 16 int32 = 16 KB) and its V stay in L1 between the passes.
constexpr size_t kChunk = 16;

// Where a chunk's V goes: position p, tile t, at v + p * pstride + t * tstride.
struct VLayout {
  uint8_t* v;
  size_t pstride, tstride;
};

// A tile row's 4 rows of the padded grid: where each lies in memory, or
// the row of pad pixels; `left` and `w` place the columns in memory.
struct TileRows {
  const uint8_t* r[4];
  const uint8_t* pad_row;  // w pixels (and 64 bytes) of the pad value
  size_t left, w;
};

// B^T of grid column `col`'s 4 rows, channels [ch, ch + lanes): its column
// of B^T d. Columns outside the image are pad pixels in every row.
template <class D>
HWY_INLINE void ColumnTransform(D d, const TileRows& rows, size_t col, size_t cp, size_t ch, hn::Vec<D>& a,
                                hn::Vec<D>& b, hn::Vec<D>& c, hn::Vec<D>& e) {
  hn::Vec<D> x0, x1, x2, x3;
  if (col - rows.left < rows.w) {  // (wraps for the columns left of the image)
    const size_t off = (col - rows.left) * cp + ch;
    x0 = hn::LoadU(d, rows.r[0] + off), x1 = hn::LoadU(d, rows.r[1] + off);
    x2 = hn::LoadU(d, rows.r[2] + off), x3 = hn::LoadU(d, rows.r[3] + off);
  } else {
    x0 = x1 = x2 = x3 = hn::LoadU(d, rows.pad_row + ch);
  }
  a = hn::Sub(x0, x2);
  b = hn::Add(x1, x2);
  c = hn::Sub(x2, x1);
  e = hn::Sub(x1, x3);
}

// Row i of V (the columns' B^T d row i in t0..t3) plus the biases, stored.
template <class D>
HWY_INLINE void StoreVRow(D d, hn::Vec<D> t0, hn::Vec<D> t1, hn::Vec<D> t2, hn::Vec<D> t3, const uint8_t* bias,
                          uint8_t* v, size_t pstride) {
  hn::StoreU(hn::Add(hn::Sub(t0, t2), hn::Set(d, bias[0])), d, v);
  hn::StoreU(hn::Add(hn::Add(t1, t2), hn::Set(d, bias[1])), d, v + pstride);
  hn::StoreU(hn::Add(hn::Sub(t2, t1), hn::Set(d, bias[2])), d, v + 2 * pstride);
  hn::StoreU(hn::Add(hn::Sub(t1, t3), hn::Set(d, bias[3])), d, v + 3 * pstride);
}

// V of tiles [t0, t1) of a tile row. Tile t reads grid columns 2t .. 2t +
// 3; the next tile's first two columns are this one's last two, so each
// column is transformed once.
template <class D>
void InputTransform(D d, const TileRows& rows, size_t cp, size_t t0, size_t t1, const uint8_t* bias,
                    const VLayout& out) {
  const size_t lanes = hn::Lanes(d);
  for (size_t ch = 0; ch < cp; ch += lanes) {
    hn::Vec<D> a0, b0, c0, e0, a1, b1, c1, e1, a2, b2, c2, e2, a3, b3, c3, e3;
    ColumnTransform(d, rows, 2 * t0, cp, ch, a0, b0, c0, e0);
    ColumnTransform(d, rows, 2 * t0 + 1, cp, ch, a1, b1, c1, e1);
    for (size_t t = t0; t < t1; ++t) {
      ColumnTransform(d, rows, 2 * t + 2, cp, ch, a2, b2, c2, e2);
      ColumnTransform(d, rows, 2 * t + 3, cp, ch, a3, b3, c3, e3);
      uint8_t* v = out.v + (t - t0) * out.tstride + ch;
      StoreVRow(d, a0, a1, a2, a3, bias, v, out.pstride);
      StoreVRow(d, b0, b1, b2, b3, bias + 4, v + 4 * out.pstride, out.pstride);
      StoreVRow(d, c0, c1, c2, c3, bias + 8, v + 8 * out.pstride, out.pstride);
      StoreVRow(d, e0, e1, e2, e3, bias + 12, v + 12 * out.pstride, out.pstride);
      a0 = a2, b0 = b2, c0 = c2, e0 = e2;
      a1 = a3, b1 = b3, c1 = c3, e1 = e3;
    }
  }
}

// Unit k of tile t's V, broadcast to every int32 lane.
template <class D32>
HWY_INLINE hn::Vec<D32> Quad(D32 d32, const uint8_t* v, size_t tstride, size_t t, size_t k) {
  int32_t quad;
  std::memcpy(&quad, v + t * tstride + 4 * k, 4);
  return hn::Set(d32, quad);
}

// Without VPDPBUSD, where PMADDUBSW exists: each unit's byte pairs summed
// into int16 lanes, added there for up to w.pair_units units (exact: the
// layer's V and U keep such sums in int16, winograd_weights), then widened
// into int32 by PMADDWD against ones -- one multiply per unit and one per
// chunk, where the exact byte product takes 3 (widened every unit) to 9.
// With AVX-VNNI the same tiles take one VPDPBUSD a unit into int32 (one
// chunk of all units). kTiles tiles x all 16 columns at once (AVX2: two
// vectors), so each broadcast of V serves every column vector and 8 chains
// hide the products' latency; the int32 sums of a chunk go to m (a later
// chunk adds to them there). UnitProducts (one column vector at a time, 4
// chains, V broadcast again for each) left AVX-VNNI's products 38% of
// ResNet's time at 4 bits; these tiles took the model from 5.38-5.44 to
// 5.05-5.10 ms (Emerald Rapids running the AVX2 target, thirty-seventh
// session; 6 tiles, 12 chains, measured level).
#if HWY_ARCH_X86
template <class Product, size_t kTiles, class D32>
HWY_INLINE void SumTiles(D32 d32, const int32_t* u, size_t k0, size_t k1, const int32_t* start, const uint8_t* v,
                         size_t tstride, size_t t, int32_t* m) {
  using V = hn::Vec<D32>;
  constexpr size_t kVecs = 16 / hn::MaxLanes(d32), L = hn::MaxLanes(d32);
  V z[kTiles][kVecs];
  for (size_t i = 0; i < kTiles; ++i)
    for (size_t j = 0; j < kVecs; ++j) z[i][j] = hn::Zero(d32);
  for (size_t k = k0; k < k1; ++k) {
    V w[kVecs];
    for (size_t j = 0; j < kVecs; ++j) w[j] = hn::LoadU(d32, u + k * 16 + j * L);
    for (size_t i = 0; i < kTiles; ++i) {
      const V q = Quad(d32, v, tstride, t + i, k);
      for (size_t j = 0; j < kVecs; ++j) z[i][j] = Product::Step(d32, q, w[j], z[i][j]);
    }
  }
  for (size_t i = 0; i < kTiles; ++i)
    for (size_t j = 0; j < kVecs; ++j) {
      int32_t* out = m + (t + i) * 16 + j * L;
      const V base = hn::LoadU(d32, k0 == 0 ? start + j * L : out);
      V sum = z[i][j];
      if constexpr (swar::detail::HWY_NAMESPACE::WidensAtEnd<Product>()) sum = Product::Widen(d32, sum);
      hn::StoreU(hn::Add(base, sum), d32, out);
    }
}

// Units in chunks of `chunk` (the int16 sums' bound, or all of them).
template <class Product, class D32>
void TiledProducts(D32 d32, size_t chunk, const WinogradWeights& w, const int8_t* u, const int32_t* start,
                   const uint8_t* v, size_t tstride, size_t nt, int32_t* m) {
  constexpr size_t kTiles = hn::MaxLanes(d32) == 4 ? 2 : 4;  // SSE4: 16 registers hold 2 tiles x 4 vectors
  const size_t units = static_cast<size_t>(w.units);
  const auto* u32 = reinterpret_cast<const int32_t*>(u);
  for (size_t k0 = 0; k0 < units; k0 += chunk) {
    const size_t k1 = std::min(units, k0 + chunk);
    size_t t = 0;
    for (; t + kTiles <= nt; t += kTiles) SumTiles<Product, kTiles>(d32, u32, k0, k1, start, v, tstride, t, m);
    for (; t < nt; ++t) SumTiles<Product, 1>(d32, u32, k0, k1, start, v, tstride, t, m);
  }
}
#endif

// The sums of position p, column block b for tiles [0, nt): m[t * 16 + c].
// Four tiles at a time share each weight load and keep four independent
// chains of products in flight (one chain per tile waited on VPDPBUSD's
// latency: 4 dependent products for 16 channels).
// Product::Step (swar/kernels/byte_products-inl.h): a unit's u8 x s8 products.
template <class Product>
void UnitProducts(const WinogradWeights& w, const int8_t* u, const int32_t* start, const uint8_t* v,
                  size_t tstride, size_t nt, int32_t* m) {
  const hn::CappedTag<int32_t, 16> d32;
  const size_t lanes = hn::Lanes(d32), units = static_cast<size_t>(w.units);
  for (size_t c = 0; c < 16; c += lanes) {
    const auto s = hn::LoadU(d32, start + c);
    const auto* uc = reinterpret_cast<const int32_t*>(u + c * 4);
    size_t t = 0;
    for (; t + 4 <= nt; t += 4) {
      auto acc0 = s, acc1 = s, acc2 = s, acc3 = s;
      for (size_t k = 0; k < units; ++k) {
        const auto wk = hn::LoadU(d32, uc + k * 16);
        acc0 = Product::Step(d32, Quad(d32, v, tstride, t, k), wk, acc0);
        acc1 = Product::Step(d32, Quad(d32, v, tstride, t + 1, k), wk, acc1);
        acc2 = Product::Step(d32, Quad(d32, v, tstride, t + 2, k), wk, acc2);
        acc3 = Product::Step(d32, Quad(d32, v, tstride, t + 3, k), wk, acc3);
      }
      hn::StoreU(acc0, d32, m + t * 16 + c);
      hn::StoreU(acc1, d32, m + (t + 1) * 16 + c);
      hn::StoreU(acc2, d32, m + (t + 2) * 16 + c);
      hn::StoreU(acc3, d32, m + (t + 3) * 16 + c);
    }
    for (; t < nt; ++t) {
      auto acc = s;
      for (size_t k = 0; k < units; ++k)
        acc = Product::Step(d32, Quad(d32, v, tstride, t, k), hn::LoadU(d32, uc + k * 16), acc);
      hn::StoreU(acc, d32, m + t * 16 + c);
    }
  }
}

void Products(const WinogradWeights& w, size_t p, size_t b, const uint8_t* v, size_t tstride, size_t nt,
              int32_t* m) {
  const size_t pb = p * static_cast<size_t>(w.blocks) + b;
  const int8_t* u = w.u.data() + pb * static_cast<size_t>(w.units) * 64;
  const int32_t* start = w.start.data() + pb * 16;
  namespace sw = swar::detail::HWY_NAMESPACE;
#if HWY_ARCH_X86 && HWY_TARGET != HWY_AVX3_DL
  const hn::CappedTag<int32_t, 16> d32;
  if constexpr (sw::kHaveAvxVnni) {
    if (sw::AvxVnniHere())
      return TiledProducts<sw::AvxVnniProduct>(d32, static_cast<size_t>(w.units), w, u, start, v, tstride, nt, m);
  }
  if constexpr (sw::FillsRegister<decltype(d32), hn::Vec<decltype(d32)>>()) {
    if (w.pair_units > 0)
      return TiledProducts<sw::BytePairSums16Product>(d32, static_cast<size_t>(w.pair_units), w, u, start, v,
                                                      tstride, nt, m);
  }
#endif
  if constexpr (sw::kHaveArmDot) {
    // V + bias <= 127 is a valid s8: one SDOT a unit (SDOT + SUB otherwise),
    // or without the dot product NEON's SMULL pair sums (BytePairsProduct).
    if (sw::ArmDotHere()) {
      if (w.s8_inputs) return UnitProducts<sw::ArmDot7Product>(w, u, start, v, tstride, nt, m);
      return UnitProducts<sw::ArmDot8Product>(w, u, start, v, tstride, nt, m);
    }
    if (w.s8_inputs) return UnitProducts<sw::BytePairsProduct>(w, u, start, v, tstride, nt, m);
  }
  UnitProducts<sw::BytesProduct>(w, u, start, v, tstride, nt, m);
}

// Which tiles a chunk holds: the band's tiles in row-major order (tile row
// ty0 + f / tiles, column f % tiles), chunks running across tile rows so
// the products mostly get whole groups of four tiles.
struct Band {
  size_t ty0, tiles, oh, ow;
};

// Y = A^T M A >> 2 for the chunk's tiles [f0, f0 + nt) of the band, column
// block b: m[(p * kChunk + t) * 16 + c]; outputs past oh / ow are dropped.
void OutputTransform(const int32_t* m, size_t nt, size_t f0, size_t b, const Band& band, int32_t* sums,
                     size_t ldc) {
  const hn::CappedTag<int32_t, 16> d32;
  const size_t lanes = hn::Lanes(d32), ow = band.ow;
  // Tile f0 + t's row and column, stepped (a division per tile was ~1/4 of this pass).
  size_t ty = f0 / band.tiles, tx = f0 % band.tiles;
  for (size_t t = 0; t < nt; ++t) {
    const size_t ox = 2 * tx, row = ty;
    if (++tx == band.tiles) tx = 0, ++ty;  // the next tile's
    const bool second_col = ox + 1 < ow, second_row = 2 * (band.ty0 + row) + 1 < band.oh;
    int32_t* out = sums + (2 * row * ow + ox) * ldc + b * 16;
    for (size_t c = 0; c < 16; c += lanes) {
      const int32_t* mt = m + t * 16 + c;
      const size_t ps = kChunk * 16;  // positions apart
      const auto m0 = hn::LoadU(d32, mt), m1 = hn::LoadU(d32, mt + ps), m2 = hn::LoadU(d32, mt + 2 * ps),
                 m3 = hn::LoadU(d32, mt + 3 * ps), m4 = hn::LoadU(d32, mt + 4 * ps),
                 m5 = hn::LoadU(d32, mt + 5 * ps), m6 = hn::LoadU(d32, mt + 6 * ps),
                 m7 = hn::LoadU(d32, mt + 7 * ps), m8 = hn::LoadU(d32, mt + 8 * ps),
                 m9 = hn::LoadU(d32, mt + 9 * ps), m10 = hn::LoadU(d32, mt + 10 * ps),
                 m11 = hn::LoadU(d32, mt + 11 * ps), m12 = hn::LoadU(d32, mt + 12 * ps),
                 m13 = hn::LoadU(d32, mt + 13 * ps), m14 = hn::LoadU(d32, mt + 14 * ps),
                 m15 = hn::LoadU(d32, mt + 15 * ps);
      // A^T M: rows (m0..3) + (m4..7) + (m8..11) and (m4..7) - (m8..11) - (m12..15).
      const auto p0 = hn::Add(hn::Add(m0, m4), m8), p1 = hn::Add(hn::Add(m1, m5), m9),
                 p2 = hn::Add(hn::Add(m2, m6), m10), p3 = hn::Add(hn::Add(m3, m7), m11);
      const auto q0 = hn::Sub(hn::Sub(m4, m8), m12), q1 = hn::Sub(hn::Sub(m5, m9), m13),
                 q2 = hn::Sub(hn::Sub(m6, m10), m14), q3 = hn::Sub(hn::Sub(m7, m11), m15);
      // ... A: the same over columns; exactly 4 x the sums, so >> 2 is exact.
      hn::StoreU(hn::ShiftRight<2>(hn::Add(hn::Add(p0, p1), p2)), d32, out + c);
      if (second_col) hn::StoreU(hn::ShiftRight<2>(hn::Sub(hn::Sub(p1, p2), p3)), d32, out + ldc + c);
      if (second_row) {
        hn::StoreU(hn::ShiftRight<2>(hn::Add(hn::Add(q0, q1), q2)), d32, out + ow * ldc + c);
        if (second_col) hn::StoreU(hn::ShiftRight<2>(hn::Sub(hn::Sub(q1, q2), q3)), d32, out + (ow + 1) * ldc + c);
      }
    }
  }
}

// A row of pad pixels (w pixels of cp bytes and 64 bytes of slack), filled
// again only when the value or the size changes.
const uint8_t* PadRow(uint8_t pad, size_t bytes) {
  thread_local AlignedBuffer<uint8_t> row;
  thread_local size_t filled = 0;
  thread_local uint8_t value = 0;
  if (bytes + 64 > filled || pad != value) {
    row.reserve_scratch(bytes + 64);
    std::memset(row.data(), pad, bytes + 64);
    filled = bytes + 64;
    value = pad;
  }
  return row.data();
}

template <size_t kCap>
void SumsWith(const WinogradWeights& w, const WinogradImage& image, size_t oh, size_t ow, size_t ty0, size_t ty1,
              int32_t* sums, size_t ldc) {
  const hn::CappedTag<uint8_t, kCap> d8;
  const size_t cp = static_cast<size_t>(w.units) * 4, blocks = static_cast<size_t>(w.blocks);
  const size_t tstride = (cp + hn::Lanes(d8) - 1) / hn::Lanes(d8) * hn::Lanes(d8);
  const size_t tiles = (ow + 1) / 2, row = static_cast<size_t>(image.w) * cp;
  const size_t top = static_cast<size_t>(image.top), h = static_cast<size_t>(image.h);
  TileRows rows{{}, PadRow(image.pad, row), static_cast<size_t>(image.left), static_cast<size_t>(image.w)};
  thread_local AlignedBuffer<uint8_t> vbuf;
  thread_local AlignedBuffer<int32_t> mbuf;
  vbuf.reserve_scratch(16 * kChunk * tstride);
  mbuf.reserve_scratch(16 * kChunk * 16);
  const Band band{ty0, tiles, oh, ow};
  const size_t count = (ty1 - ty0) * tiles;
  for (size_t f0 = 0; f0 < count; f0 += kChunk) {
    const size_t nt = std::min(kChunk, count - f0);
    for (size_t f = f0; f < f0 + nt;) {  // the chunk's pieces of tile rows
      const size_t ty = ty0 + f / tiles, tx = f % tiles, end = std::min(f0 + nt, (f / tiles + 1) * tiles);
      const VLayout layout{vbuf.data() + (f - f0) * tstride, kChunk * tstride, tstride};
      for (size_t i = 0; i < 4; ++i) {
        const size_t y = 2 * ty + i - top;  // (wraps for the rows above the image)
        rows.r[i] = y < h ? image.x + y * row : rows.pad_row;
      }
      InputTransform(d8, rows, cp, tx, tx + (end - f), w.bias.data(), layout);
      f = end;
    }
    for (size_t b = 0; b < blocks; ++b) {
      for (size_t p = 0; p < 16; ++p)
        Products(w, p, b, vbuf.data() + p * kChunk * tstride, tstride, nt, mbuf.data() + p * kChunk * 16);
      OutputTransform(mbuf.data(), nt, f0, b, band, sums, ldc);
    }
  }
}

void WinogradSums(const WinogradWeights& w, const WinogradImage& image, int64_t oh, int64_t ow, int64_t ty0,
                  int64_t ty1, int32_t* sums, size_t ldc) {
  const size_t cp = static_cast<size_t>(w.units) * 4;
  const auto go = [&](auto cap) {
    SumsWith<decltype(cap)::value>(w, image, static_cast<size_t>(oh), static_cast<size_t>(ow),
                                   static_cast<size_t>(ty0), static_cast<size_t>(ty1), sums, ldc);
  };
  // Byte vectors no wider than a pixel's channels need (16 channels: 16 bytes).
  if (cp <= 16) go(std::integral_constant<size_t, 16>());
  else if (cp <= 32) go(std::integral_constant<size_t, 32>());
  else go(std::integral_constant<size_t, 64>());
}

// How this target forms the products: 2 VPDPBUSD (AVX3_DL; AVX2 with
// AVX-VNNI: 1.10x the direct GEMM on ResNet at 4 bits, Emerald Rapids), 1
// PMADDUBSW pair sums (TiledProducts), 3 Arm's SDOT, 0 only by emulation
// (3-9 instructions a product, more than the 2.25x fewer products gain
// after the transforms).
int WinogradProductKind() {
#if HWY_TARGET == HWY_AVX3_DL
  return 2;
#elif HWY_ARCH_X86  // (SVE's sizeless vectors have no raw register to ask about)
  if constexpr (swar::detail::HWY_NAMESPACE::kHaveAvxVnni) {
    if (swar::detail::HWY_NAMESPACE::AvxVnniHere()) return 2;
  }
  using D32 = hn::CappedTag<int32_t, 16>;
  return swar::detail::HWY_NAMESPACE::FillsRegister<D32, hn::Vec<D32>>() ? 1 : 0;
#else
  // Arm: NEON's SMULL pair sums for inputs that fit s8 (4 instructions a
  // product, as the direct GEMM's int7 there). Not with SDOT (SVE; NEON with
  // the dot product): there the direct GEMM's one SDOT a step leaves less
  // than the transforms cost -- ResNet at 4 bits took 1.24x (NEON + dot) and
  // 1.18x (SVE2) the instructions per image with Winograd, 0.88x on
  // cortex-a53 (bench/README.md, thirty-fourth session; on x86 the same
  // counts follow the measured times: AVX2 0.88x for 1.08x faster, SSE4
  // 0.82x for 1.19x). Products() keeps its SDOT steps for callers of
  // winograd_sums.
  namespace sw = swar::detail::HWY_NAMESPACE;
  if constexpr (HWY_TARGET == HWY_NEON && sw::kHaveArmDot) return sw::ArmDotHere() ? 0 : 3;
  return 0;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
#include <cstdlib>
#include <string_view>

#include "swar/cpu_features.h"
#include "swar/targets.h"

namespace bitlane::ops::detail {

HWY_EXPORT(WinogradSums);
HWY_EXPORT(WinogradProductKind);

namespace {
// B^T's rows: V[i][j] = sum over r, s of kBt[i][r] kBt[j][s] d[r][s].
constexpr int kBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
// G' = 2 G: U = G' g G'^T.
constexpr int kG[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
}  // namespace

WinogradWeights winograd_weights(const int16_t* w, int64_t n, int64_t cp, int32_t lo, int32_t hi) {
  lo = std::min(lo, 0);  // padding channels hold integer 0
  hi = std::max(hi, 0);
  // The int32 sums of 16 positions, combined by A, must not wrap: a generous
  // bound on K (cp 4096 x 255 x 127 x 9 < 2^31).
  if (n <= 0 || cp <= 0 || cp % 4 != 0 || cp > 4096) return {};
  WinogradWeights out;
  out.units = cp / 4;
  out.n = n;
  out.blocks = (n + 15) / 16;
  const size_t blocks = static_cast<size_t>(out.blocks), units = static_cast<size_t>(out.units);
  // Position p = (i, j): V is a sum of 4 inputs, `pos` of them added.
  int64_t bias[16], span[16];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      int pos = 0, neg = 0;
      for (int r = 0; r < 4; ++r)
        for (int s = 0; s < 4; ++s) {
          const int f = kBt[i][r] * kBt[j][s];
          pos += f > 0;
          neg += f < 0;
        }
      const int64_t vmin = int64_t{pos} * lo - int64_t{neg} * hi, vmax = int64_t{pos} * hi - int64_t{neg} * lo;
      if (vmax - vmin > 255) return {};
      bias[4 * i + j] = -vmin;
      span[4 * i + j] = vmax - vmin;
      out.bias[static_cast<size_t>(4 * i + j)] = static_cast<uint8_t>(static_cast<uint64_t>(-vmin) & 0xFF);
    }
  out.u.resize(16 * blocks * units * 64);
  int64_t max_pair = 0, pair_pos[16] = {}, pair_neg[16] = {};  // the largest pair sum's magnitude
  out.start.resize(16 * blocks * 16);
  for (int64_t o = 0; o < n; ++o) {
    const size_t b = static_cast<size_t>(o / 16), col = static_cast<size_t>(o % 16);
    for (int64_t ch = 0; ch < cp; ++ch) {
      int64_t g[3][3], t[4][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) g[i][j] = w[(o * 9 + i * 3 + j) * cp + ch];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) t[i][j] = kG[i][0] * g[0][j] + kG[i][1] * g[1][j] + kG[i][2] * g[2][j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int64_t u = t[i][0] * kG[j][0] + t[i][1] * kG[j][1] + t[i][2] * kG[j][2];
          if (u < -128 || u > 127) return {};
          const size_t p = static_cast<size_t>(4 * i + j);
          // PMADDUBSW's pair: channels 2q and 2q + 1 of one column, V + bias in [0, span].
          if (ch % 2 == 0) {
            pair_pos[p] = std::max<int64_t>(u, 0), pair_neg[p] = std::min<int64_t>(u, 0);
          } else {
            pair_pos[p] += std::max<int64_t>(u, 0), pair_neg[p] += std::min<int64_t>(u, 0);
            max_pair = std::max(max_pair, span[p] * std::max(pair_pos[p], -pair_neg[p]));
          }
          out.u[((p * blocks + b) * units + static_cast<size_t>(ch / 4)) * 64 + col * 4 + static_cast<size_t>(ch % 4)] =
              static_cast<int8_t>(u);
          out.start[(p * blocks + b) * 16 + col] -= static_cast<int32_t>(bias[p] * u);
        }
    }
  }
  out.pair_units = max_pair == 0 ? out.units : std::min<int64_t>(out.units, 32767 / max_pair);
  out.s8_inputs = *std::max_element(span, span + 16) <= 127;
  return out;
}

void winograd_sums(const WinogradWeights& w, const WinogradImage& image, int64_t oh, int64_t ow, int64_t ty0,
                   int64_t ty1, int32_t* sums, size_t ldc) {
  swar::apply_target_from_environment();
  HWY_DYNAMIC_DISPATCH(WinogradSums)(w, image, oh, ow, ty0, ty1, sums, ldc);
}

namespace {
bool winograd_off() {
  // BITLANE_WINOGRAD=0 keeps every convolution on the direct GEMM: the
  // baseline of the same binary (bench/README.md), the same output bits.
  static const bool off = [] {
    const char* env = std::getenv("BITLANE_WINOGRAD");
    return env && std::string_view(env) == "0";
  }();
  return off;
}

// The target's product kind (WinogradProductKind), 0 where Winograd does not
// pay: VPDPBUSD on ports that also run the transforms (swar::kDotSharesPorts).
// There the direct GEMM runs VPDPBUSD twice as often as on Zen 4 and the
// transforms take its slots: ResNet at 4 bits on Emerald Rapids, Winograd /
// direct layer time 0.94x on the 16-channel layers, 1.12x on the 32-channel
// one, 0.80x on the 64-channel 7 x 7 one (tiles cover 8 x 8), 0.93-0.95x the
// whole model (bench/README.md, thirty-sixth session).
int product_kind_here() {
  const int kind = HWY_DYNAMIC_DISPATCH(WinogradProductKind)();
  return kind == 2 && (swar::kernel_features() & swar::kDotSharesPorts) ? 0 : kind;
}
}  // namespace

// Each entry point applies BITLANE_TARGET first, as the GEMM's do.
bool winograd_may_pay_off() {
  swar::apply_target_from_environment();
  return !winograd_off() && product_kind_here() > 0;
}

double winograd_gain() {
  swar::apply_target_from_environment();
  if (winograd_off()) return 1.0;
  switch (product_kind_here()) {
    case 2: return 1.4;
    case 1:
    case 3: return 1.15;
    default: return 1.0;
  }
}

bool winograd_pays_off(const WinogradWeights& w) {
  swar::apply_target_from_environment();
  if (w.empty() || winograd_off()) return false;
  switch (product_kind_here()) {
    case 2: return true;
    case 1: return w.pair_units >= std::min<int64_t>(w.units, kWinogradMinPairUnits);
    case 3: return w.s8_inputs;
    default: return false;
  }
}

}  // namespace bitlane::ops::detail
#endif  // HWY_ONCE
