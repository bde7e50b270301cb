// Method "widemul" (SAMD / ULPPACK style), scalar on every target: several
// values share a 64-bit word, one operand's lanes reversed, so one 64 x 64 ->
// 128-bit multiply puts a whole partial dot product in the middle field of
// the product. Lane geometry comes from the lane library (swar/lane_format.h):
// the most lanes n with n * (a_bits + w_bits + ceil(log2 n)) <= 64, each in
// a field of 64 / n bits, so the middle field cannot overflow; products then
// pile up in the 128-bit accumulator for as many steps as the lower fields
// can absorb before the field is extracted.
//
// Layout: weights [col][word], activations [row][word] with lanes reversed;
// both biased to unsigned (a' = a - min, w' = w - min).
#include <algorithm>
#include <cstring>
#include <vector>

#include "swar/gemm_internal.h"
#include "swar/pack.h"

namespace bitlane::swar::detail {
namespace {

int ceil_log2(uint64_t x) {
  int r = 0;
  while ((uint64_t{1} << r) < x) ++r;
  return r;
}

struct WideGeometry {
  LaneFormat a_lanes, w_lanes;  // the operands' lanes (same field)
  int lanes, field;
  uint64_t flush_every;  // multiplies that may pile up before extraction
};

WideGeometry geometry(IntFormat a, IntFormat w) {
  const int prod_bits = a.bits + w.bits;
  int lanes = 1;
  for (int n = 16; n >= 1; --n)
    if (n * (prod_bits + ceil_log2(static_cast<uint64_t>(n))) <= 64) {
      lanes = n;
      break;
    }
  const int field = 64 / lanes;
  const unsigned __int128 pmax =
      static_cast<unsigned __int128>((uint64_t{1} << a.bits) - 1) * ((uint64_t{1} << w.bits) - 1);
  const unsigned __int128 room = field >= 64 ? ~static_cast<uint64_t>(0) : (uint64_t{1} << field) - 1;
  unsigned __int128 t = pmax == 0 ? room : room / (pmax * static_cast<unsigned>(lanes));
  t = std::clamp<unsigned __int128>(t, 1, 1024);
  return {LaneFormat{a.bits, false, field - a.bits}, LaneFormat{w.bits, false, field - w.bits}, lanes, field,
          static_cast<uint64_t>(t)};
}

// One row of biased values into lanes (reversed order for activations).
void pack_row(const MatrixView& v, size_t r, int64_t bias, const LaneFormat& f, bool reversed, uint64_t* dst,
              size_t words, std::vector<int32_t>& buf, int64_t* sum) {
  const size_t k = v.cols, lanes = static_cast<size_t>(f.lanes());
  buf.resize(k);
  read_row(v, r, buf.data());
  std::vector<int32_t> lane_values(words * lanes, 0);
  int64_t s = 0;
  for (size_t i = 0; i < k; ++i) {
    const int32_t u = static_cast<int32_t>(buf[i] - bias);
    s += u;
    const size_t slot = reversed ? (i / lanes) * lanes + (lanes - 1 - i % lanes) : i;
    lane_values[slot] = u;
  }
  pack<int32_t>(lane_values, f, std::span<uint64_t>(dst, words));
  *sum = s;
}

void pack_weights(const MatrixView& w, PackedData& p) {
  const WideGeometry g = geometry(p.a_format, p.w_format);
  const size_t n = w.rows, words = ceil_div(w.cols, static_cast<size_t>(g.lanes));
  p.w_bias = p.w_format.min_value();
  p.k_units = words;
  p.data.resize(n * words);
  p.col_sum.assign(n, 0);
  std::vector<int32_t> buf;
  for (size_t col = 0; col < n; ++col)
    pack_row(w, col, p.w_bias, g.w_lanes, false, p.data.data() + col * words, words, buf, &p.col_sum[col]);
}

// The lanes are laid out for the packed activation format; a narrower one
// (the digit split) fits them too, biased by the packed format's minimum.
void prepare_activations(const MatrixView& a, IntFormat af, const PackedData& w, const GemmOptions& options,
                         PackedActivations& out) {
  if (!options.trusted_range) check_range(a, af, "activations");
  out.format = af;
  out.bias = w.a_format.min_value();
  out.need_sums = true;
  out.row_sum.assign(a.rows, 0);
  out.col_init.clear();
  out.col_inits = nullptr;
  out.row_init.clear();
  out.fast = out.in_place = false;
  out.trusted = options.trusted_range;
  out.row_stride = w.k_units;
  out.data.reserve_scratch(std::max<size_t>(1, a.rows * out.row_stride));
  out.rows = out.data.data();
}

bool pack_rows(const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0, size_t r1) {
  const WideGeometry g = geometry(w.a_format, w.w_format);
  std::vector<int32_t> buf;
  for (size_t r = r0; r < r1; ++r)
    pack_row(a, r, out.bias, g.a_lanes, true, out.data.data() + r * out.row_stride, out.row_stride, buf,
             &out.row_sum[r]);
  return true;
}

void run_tile(const TileJob& job) {
  const PackedData& w = job.w;
  const WideGeometry g = geometry(w.a_format, w.w_format);
  const size_t words = w.k_units, cols = job.c1 - job.c0;
  const int shift = (g.lanes - 1) * g.field;
  const uint64_t mask = g.field >= 64 ? ~uint64_t{0} : (uint64_t{1} << g.field) - 1;
  thread_local AlignedBuffer<int64_t> sums;
  sums.reserve_scratch((job.m1 - job.m0) * cols);
  const uint64_t* adata = static_cast<const uint64_t*>(job.a.rows);
  for (size_t r = job.m0; r < job.m1; ++r) {
    const uint64_t* arow = adata + r * job.a.row_stride;
    for (size_t c = job.c0; c < job.c1; ++c) {
      const uint64_t* wcol = w.data.data() + c * words;
      uint64_t total = 0;
      for (size_t q = 0; q < words;) {
        // Products pile up in the 128-bit accumulator; the lower fields stay
        // below 2^field for flush_every steps, so the middle field is exact.
        const size_t end = std::min(words, q + static_cast<size_t>(g.flush_every));
        unsigned __int128 acc = 0;
        for (; q < end; ++q) acc += static_cast<unsigned __int128>(arow[q]) * wcol[q];
        total += static_cast<uint64_t>(acc >> shift) & mask;
      }
      sums.data()[(r - job.m0) * cols + (c - job.c0)] = static_cast<int64_t>(total);
    }
  }
  write_corrected(sums.data(), cols, job);
}

// bench/README.md, scalar fallback: 24 GOPS at 1 x 1 down to 7 at 12 x 12,
// roughly in step with the products per multiply. No vector code: on SIMD
// targets the other methods are faster at every width.
double macs_per_us(IntFormat a, IntFormat w, FeatureSet have, GemmShape) {
  if (have & kVectors) return 1e3;
  return 0.9e3 * geometry(a, w).lanes + 2.6e3;
}

}  // namespace

extern const MethodSpec kWideMulMethod{
    "widemul",
    "several products per 64 x 64 -> 128-bit multiply, one operand's lanes reversed (SAMD); scalar",
    1,
    0,
    0,
    nullptr,
    [](IntFormat, IntFormat) { return true; },
    macs_per_us,
    pack_weights,
    prepare_activations,
    pack_rows,
    run_tile};

}  // namespace bitlane::swar::detail
