// Per-target activation packing for the common element types: one pass per
// row that biases values into the kernel's operand format, checks that they
// lie in the declared range, and (when needed) sums them. A false return
// means "out of range"; the driver then finds the culprit with the scalar
// check for a precise message.
//
// Range checks use one unsigned comparison: v lies in [lo, lo + span] iff
// (v - lo) mod 2^bits <= span, computed in the element's own width.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "swar/pack_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "swar/pack_kernels.h"

#include <cstring>

#if defined(BITLANE_SWAR_PACK_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_SWAR_PACK_KERNELS_INL_H_
#undef BITLANE_SWAR_PACK_KERNELS_INL_H_
#else
#define BITLANE_SWAR_PACK_KERNELS_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::swar::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
// Largest lane (Highway 1.0.3 has no MaxOfLanes for 8/16-bit lanes).
template <class D, class V>
HWY_INLINE hn::TFromD<D> MaxLane(D d, V v) {
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(d)];
  hn::Store(v, d, lanes);
  hn::TFromD<D> m = 0;
  for (size_t i = 0; i < hn::Lanes(d); ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}
#endif

// Bytes and 16-bit words, one row at a time; the largest "offset from the
// range's low end" seen is kept in a vector and reduced once per block.

bool BiasBytes(const RowBlock<uint8_t, uint8_t>& b, const ByteRowSpec& spec, size_t padded,
               int64_t* sums) {
  uint8_t worst = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d;
  const hn::Repartition<uint64_t, decltype(d)> d64;
  const size_t N = hn::Lanes(d);
  const auto add = hn::Set(d, spec.add), lo = hn::Set(d, spec.check_lo);
  auto vmax = hn::Zero(d);
#endif
  for (size_t r = 0; r < b.rows; ++r) {
    const uint8_t* src = b.src + r * b.src_stride;
    uint8_t* dst = b.dst + r * b.dst_stride;
    size_t i = 0;
    uint64_t total = 0;
#if HWY_TARGET != HWY_SCALAR
    auto vsum = hn::Zero(d64);
    for (; i + N <= b.k; i += N) {
      const auto v = hn::LoadU(d, src + i);
      vmax = hn::Max(vmax, hn::Sub(v, lo));
      const auto out = hn::Add(v, add);
      hn::StoreU(out, d, dst + i);
      if (sums) vsum = hn::Add(vsum, hn::SumsOf8(out));
    }
    if (i < b.k && b.k >= N) {
      // The tail as the row's last N values: the overlapping ones are
      // rewritten with what they already hold and left out of the sum. Byte
      // by byte it tripled the time of K = 150 rows (int8, 640x150x16).
      const size_t n = b.k - i;
      const auto v = hn::LoadU(d, src + b.k - N);
      vmax = hn::Max(vmax, hn::Sub(v, lo));
      const auto out = hn::Add(v, add);
      hn::StoreU(out, d, dst + b.k - N);
      if (sums) vsum = hn::Add(vsum, hn::SumsOf8(hn::IfThenZeroElse(hn::FirstN(d, N - n), out)));
      i = b.k;
    }
    if (sums) total = hn::GetLane(hn::SumOfLanes(d64, vsum));
#endif
    for (; i < b.k; ++i) {
      const uint8_t off = static_cast<uint8_t>(src[i] - spec.check_lo);
      worst = off > worst ? off : worst;
      dst[i] = static_cast<uint8_t>(src[i] + spec.add);
      total += dst[i];
    }
    if (padded > b.k) std::memset(dst + b.k, 0, padded - b.k);
    if (sums) sums[r] = static_cast<int64_t>(total);
  }
#if HWY_TARGET != HWY_SCALAR
  const uint8_t vworst = MaxLane(d, vmax);
  worst = vworst > worst ? vworst : worst;
#endif
  return worst <= spec.check_span;
}

bool CheckBytes(const RowBlock<uint8_t, uint8_t>& block, const ByteRowSpec& spec) {
  // Rows without gaps are one long run (short rows would be all tail).
  RowBlock<uint8_t, uint8_t> b = block;
  if (b.src_stride == b.k) {
    b.k *= b.rows;
    b.src_stride = b.k;
    b.rows = 1;
  }
  uint8_t worst = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d;
  const size_t N = hn::Lanes(d);
  const auto lo = hn::Set(d, spec.check_lo);
  auto vmax = hn::Zero(d);
#endif
  for (size_t r = 0; r < b.rows; ++r) {
    const uint8_t* src = b.src + r * b.src_stride;
    size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
    for (; i + N <= b.k; i += N) vmax = hn::Max(vmax, hn::Sub(hn::LoadU(d, src + i), lo));
#endif
    for (; i < b.k; ++i) {
      const uint8_t off = static_cast<uint8_t>(src[i] - spec.check_lo);
      worst = off > worst ? off : worst;
    }
  }
#if HWY_TARGET != HWY_SCALAR
  const uint8_t vworst = MaxLane(d, vmax);
  worst = vworst > worst ? vworst : worst;
#endif
  return worst <= spec.check_span;
}

// Rows converted element by element: dst = op(src) (scalar_op for the
// tails, the same function), zero tails up to `padded`, and the range check
// on the source values. ds and dd have the same number of lanes.
template <class DS, class DD, class VecOp, class ScalarOp>
HWY_INLINE bool ConvertRows(const RowBlock<hn::TFromD<DS>, hn::TFromD<DD>>& b, hn::TFromD<DS> check_lo,
                            hn::TFromD<DS> check_span, size_t padded, DS ds, DD dd, VecOp vec_op,
                            ScalarOp scalar_op) {
  using S = hn::TFromD<DS>;
  S worst = 0;
#if HWY_TARGET != HWY_SCALAR
  const size_t N = hn::Lanes(dd);
  const auto lo = hn::Set(ds, check_lo);
  auto vmax = hn::Zero(ds);
#endif
  for (size_t r = 0; r < b.rows; ++r) {
    const S* src = b.src + r * b.src_stride;
    auto* dst = b.dst + r * b.dst_stride;
    size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
    for (; i + N <= b.k; i += N) {
      const auto v = hn::LoadU(ds, src + i);
      vmax = hn::Max(vmax, hn::Sub(v, lo));
      hn::StoreU(vec_op(v), dd, dst + i);
    }
#endif
    for (; i < b.k; ++i) {
      const S off = static_cast<S>(src[i] - check_lo);
      worst = off > worst ? off : worst;
      dst[i] = scalar_op(src[i]);
    }
    if (padded > b.k) std::memset(dst + b.k, 0, (padded - b.k) * sizeof(*dst));
  }
#if HWY_TARGET != HWY_SCALAR
  const S vworst = MaxLane(ds, vmax);
  worst = vworst > worst ? vworst : worst;
#endif
  (void)ds, (void)dd;
  return worst <= check_span;
}

// dst = src ^ flip (the only bias the int16 method needs is 2^15 for
// unsigned 16-bit values).
bool BiasWords(const RowBlock<uint16_t, uint16_t>& b, const WordRowSpec& spec, size_t padded) {
  const hn::ScalableTag<uint16_t> d;
  const auto flip = hn::Set(d, spec.flip);
  return ConvertRows(
      b, spec.check_lo, spec.check_span, padded, d, d, [&](auto v) HWY_ATTR { return hn::Xor(v, flip); },
      [&](uint16_t x) { return static_cast<uint16_t>(x ^ spec.flip); });
}

// Bytes widened to 16-bit words (sign- or zero-extended), for the int16
// kernels fed from 8-bit activations: before this, such rows went through
// the scalar read_row path (AVX2, ResNet at 8 bits: a fifth of the time).
bool WidenBytes(const RowBlock<uint8_t, uint16_t>& b, const ByteRowSpec& spec, bool sign_extend, size_t padded) {
  const hn::ScalableTag<uint16_t> d16;
  const hn::Rebind<uint8_t, decltype(d16)> d8;  // half a vector of bytes
  return ConvertRows(
      b, spec.check_lo, spec.check_span, padded, d8, d16,
      [&](auto v) HWY_ATTR {
        const hn::Rebind<int8_t, decltype(d8)> di8;
        const hn::RebindToSigned<decltype(d16)> di16;
        return sign_extend ? hn::BitCast(d16, hn::PromoteTo(di16, hn::BitCast(di8, v))) : hn::PromoteTo(d16, v);
      },
      [&](uint8_t x) {
        return sign_extend ? static_cast<uint16_t>(static_cast<int16_t>(static_cast<int8_t>(x))) : uint16_t{x};
      });
}

// Bit planes of rows of bytes (two's complement bits of the values): plane p
// word w bit t = bit p of src[64 w + t].
bool BytePlanes(const RowBlock<uint8_t, uint64_t>& b, const ByteRowSpec& spec, int planes,
                size_t kw) {
  uint8_t worst = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d;
  const size_t N = hn::Lanes(d);
  const bool vector = N >= 8 && 64 % N == 0;
  const auto lo = hn::Set(d, spec.check_lo);
  auto vmax = hn::Zero(d);
#endif
  for (size_t r = 0; r < b.rows; ++r) {
    const uint8_t* src = b.src + r * b.src_stride;
    uint64_t* out = b.dst + r * b.dst_stride;
    size_t i = 0;
#if HWY_TARGET != HWY_SCALAR
    if (vector) {
      auto planes_of = [&](decltype(hn::Zero(d)) v, size_t at) {
        vmax = hn::Max(vmax, hn::Sub(v, lo));
        // The mask bits of N lanes fill N / 8 bytes of the plane word.
        uint8_t* byte = reinterpret_cast<uint8_t*>(out) + at / 8;
        for (int p = 0; p < planes; ++p) {
          const auto bit = hn::Set(d, static_cast<uint8_t>(1u << p));
          hn::StoreMaskBits(d, hn::TestBit(v, bit), byte + static_cast<size_t>(p) * kw * 8);
        }
      };
      for (; i + N <= b.k; i += N) planes_of(hn::LoadU(d, src + i), i);
      // The tail, n < N values. A bit at a time it had cost more than the
      // rest (64x120x84 at 1 bit: 114 GOPS against 757 at K = 128).
      if (i < b.k && b.k >= N) {
        // The row's last N values, overlapping ones already packed: their
        // mask bits shifted down leave the tail's n, which complete the
        // plane word at i / 64 (zeros above). Copying the tail into a
        // zeroed vector instead stalled the load on the copy's stores:
        // ~6 ns a row (bit-serial at 1 bit, K = 144, N = 16: 19 -> 13 ns a
        // row, BytePlanes having been 72% of it).
        const size_t n = b.k - i, shift = i % 64;
        const auto v = hn::LoadU(d, src + b.k - N);
        vmax = hn::Max(vmax, hn::Sub(v, lo));
        for (int p = 0; p < planes; ++p) {
          uint8_t mask[8] = {};
          hn::StoreMaskBits(d, hn::TestBit(v, hn::Set(d, static_cast<uint8_t>(1u << p))), mask);
          uint64_t bits;
          std::memcpy(&bits, mask, sizeof bits);
          uint64_t& word = out[static_cast<size_t>(p) * kw + i / 64];
          word = (shift ? word & ((uint64_t{1} << shift) - 1) : 0) | (bits >> (N - n)) << shift;
        }
        i = (i / 64 + 1) * 64;
      } else if (i < b.k) {  // the whole row is shorter than a vector: zero-padded
        // 0 is in every format's range and has no bits set, and N / 8 more
        // bytes stay inside the plane (kw * 64 >= K rounded up to N, N
        // dividing 64).
        HWY_ALIGN uint8_t tail[hn::MaxLanes(d)] = {};
        std::memcpy(tail, src + i, b.k - i);
        planes_of(hn::Load(d, tail), i);
        i += N;
      }
    }
#endif
    // Bytes the vector loop did not write are zeroed before the tail ORs in.
    if (i / 8 < kw * 8)
      for (int p = 0; p < planes; ++p)
        std::memset(reinterpret_cast<uint8_t*>(out + p * kw) + i / 8, 0, kw * 8 - i / 8);
    for (; i < b.k; ++i) {
      const uint8_t off = static_cast<uint8_t>(src[i] - spec.check_lo);
      worst = off > worst ? off : worst;
      for (int p = 0; p < planes; ++p)
        out[p * kw + i / 64] |= static_cast<uint64_t>((src[i] >> p) & 1u) << (i % 64);
    }
  }
#if HWY_TARGET != HWY_SCALAR
  const uint8_t vworst = MaxLane(d, vmax);
  worst = vworst > worst ? vworst : worst;
#endif
  return worst <= spec.check_span;
}

#if HWY_TARGET != HWY_SCALAR
// The sum of the bytes (^ flip) of row[i, i + kBytes * whole steps) up to
// cols, i advanced past them.
template <size_t kBytes>
HWY_INLINE uint64_t SumBytesIn(const uint8_t* row, size_t& i, size_t cols, uint8_t flip) {
  const hn::CappedTag<uint8_t, kBytes> d;
  const hn::Repartition<uint64_t, decltype(d)> d64;
  const size_t n = hn::Lanes(d);
  uint64_t total = 0;
  for (; i + n <= cols; i += n)
    total += hn::GetLane(hn::SumOfLanes(d64, hn::SumsOf8(hn::Xor(hn::LoadU(d, row + i), hn::Set(d, flip)))));
  return total;
}
#endif

// Exact row sums of bytes: values ^ flip are summed as unsigned bytes
// (flip 0x80 turns int8 into uint8 + 128), 8 at a time into 64-bit lanes.
void SumByteRows(const uint8_t* base, size_t rows, size_t cols, size_t stride, uint8_t flip, int64_t* sums) {
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<uint8_t> d;
  const hn::Repartition<uint64_t, decltype(d)> d64;
  const size_t N = hn::Lanes(d);
  const auto vflip = hn::Set(d, flip);
#endif
  for (size_t r = 0; r < rows; ++r) {
    const uint8_t* row = base + r * stride;
    size_t i = 0;
    uint64_t total = 0;
#if HWY_TARGET != HWY_SCALAR
    auto vsum = hn::Zero(d64);
    for (; i + N <= cols; i += N) vsum = hn::Add(vsum, hn::SumsOf8(hn::Xor(hn::LoadU(d, row + i), vflip)));
    total = hn::GetLane(hn::SumOfLanes(d64, vsum));
    // The rest in 16- and 8-byte vectors: a convolution's rows (K = 144,
    // 288) left 16-32 bytes per row to the byte loop on AVX-512, which then
    // took most of the row's time.
    total += SumBytesIn<16>(row, i, cols, flip);
    total += SumBytesIn<8>(row, i, cols, flip);
#endif
    for (; i < cols; ++i) total += static_cast<uint8_t>(row[i] ^ flip);
    sums[r] = static_cast<int64_t>(total);
  }
}

// Exact row sums of 16-bit words: values ^ flip are summed as int16 (flip
// 0x8000 turns uint16 into int16 - 32768), pairwise into 32-bit lanes that
// are moved into 64 bits before they could overflow.
void SumWordRows(const int16_t* base, size_t rows, size_t cols, size_t stride, uint16_t flip, int64_t* sums) {
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<int16_t> d;
  const hn::Repartition<int32_t, decltype(d)> d32;
  const size_t N = hn::Lanes(d);
  const auto vflip = hn::Set(d, static_cast<int16_t>(flip)), ones = hn::Set(d, int16_t{1});
  // A 32-bit lane gains at most 2 * 32768 per step.
  constexpr size_t kStepsPerFlush = size_t{1} << 14;
#endif
  for (size_t r = 0; r < rows; ++r) {
    const int16_t* row = base + r * stride;
    size_t i = 0;
    int64_t total = 0;
#if HWY_TARGET != HWY_SCALAR
    while (i + N <= cols) {
      auto s0 = hn::Zero(d32), s1 = hn::Zero(d32);
      for (size_t step = 0; step < kStepsPerFlush && i + N <= cols; ++step, i += N)
        s0 = hn::ReorderWidenMulAccumulate(d32, hn::Xor(hn::LoadU(d, row + i), vflip), ones, s0, s1);
      HWY_ALIGN int32_t lanes[hn::MaxLanes(d32)];
      hn::Store(hn::Add(s0, s1), d32, lanes);
      for (size_t l = 0; l < hn::Lanes(d32); ++l) total += lanes[l];
    }
#endif
    for (; i < cols; ++i) total += static_cast<int16_t>(row[i] ^ static_cast<int16_t>(flip));
    sums[r] = total;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::swar::detail
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

#if HWY_ONCE
namespace bitlane::swar::detail {

HWY_EXPORT(BiasBytes);
HWY_EXPORT(BiasWords);
HWY_EXPORT(WidenBytes);
HWY_EXPORT(CheckBytes);
HWY_EXPORT(BytePlanes);
HWY_EXPORT(SumByteRows);
HWY_EXPORT(SumWordRows);

bool bias_bytes(const RowBlock<uint8_t, uint8_t>& b, const ByteRowSpec& spec, size_t padded,
                int64_t* sums) {
  return HWY_DYNAMIC_DISPATCH(BiasBytes)(b, spec, padded, sums);
}
bool check_bytes(const RowBlock<uint8_t, uint8_t>& b, const ByteRowSpec& spec) {
  return HWY_DYNAMIC_DISPATCH(CheckBytes)(b, spec);
}
bool bias_words(const RowBlock<uint16_t, uint16_t>& b, const WordRowSpec& spec, size_t padded) {
  return HWY_DYNAMIC_DISPATCH(BiasWords)(b, spec, padded);
}
bool widen_bytes(const RowBlock<uint8_t, uint16_t>& b, const ByteRowSpec& spec, bool sign_extend, size_t padded) {
  return HWY_DYNAMIC_DISPATCH(WidenBytes)(b, spec, sign_extend, padded);
}
bool byte_planes(const RowBlock<uint8_t, uint64_t>& b, const ByteRowSpec& spec, int planes,
                 size_t kw) {
  return HWY_DYNAMIC_DISPATCH(BytePlanes)(b, spec, planes, kw);
}

void sum_byte_rows(const uint8_t* base, size_t rows, size_t cols, size_t stride, uint8_t flip, int64_t* sums) {
  HWY_DYNAMIC_DISPATCH(SumByteRows)(base, rows, cols, stride, flip, sums);
}
void sum_word_rows(const int16_t* base, size_t rows, size_t cols, size_t stride, uint16_t flip, int64_t* sums) {
  HWY_DYNAMIC_DISPATCH(SumWordRows)(base, rows, cols, stride, flip, sums);
}

}  // namespace bitlane::swar::detail
#endif
