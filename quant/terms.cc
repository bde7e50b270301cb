#include "quant/terms.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"

namespace bitlane::quant {

const char* encoding_name(TermEncoding e) { return e == TermEncoding::kBinary ? "binary" : "hese"; }

int terms_of(uint32_t m, TermEncoding e, Term* out) {
  int n = 0;
  if (e == TermEncoding::kBinary) {
    for (int i = 31; i >= 0; --i)
      if ((m >> i) & 1u) out[n++] = {1, static_cast<uint8_t>(i)};
    return n;
  }
  // HESE: each maximal run of ones over bits l..h becomes +2^l (length 1) or
  // +2^(h+1) - 2^l. Runs are visited from the top, so exponents decrease.
  int i = 31;
  while (i >= 0) {
    if (!((m >> i) & 1u)) {
      --i;
      continue;
    }
    const int h = i;
    while (i >= 0 && ((m >> i) & 1u)) --i;
    const int l = i + 1;
    if (h == l) {
      out[n++] = {1, static_cast<uint8_t>(l)};
    } else {
      out[n++] = {1, static_cast<uint8_t>(h + 1)};
      out[n++] = {-1, static_cast<uint8_t>(l)};
    }
  }
  return n;
}

int term_count(uint32_t m, TermEncoding e) {
  Term t[34];
  return terms_of(m, e, t);
}

namespace {

struct GroupTerm {
  int exponent;
  int index;  // value within the group
  int sign;   // term sign times value sign
};

void check_magnitude(int64_t v) {
  if (std::llabs(v) >= (int64_t{1} << 16)) fail("term quantization", "magnitudes must be below 2^16");
}

}  // namespace

int truncate_group(std::span<const int32_t> values, int k, TermEncoding e, std::span<int32_t> out) {
  std::vector<GroupTerm> all;
  Term t[34];
  for (size_t i = 0; i < values.size(); ++i) {
    check_magnitude(values[i]);
    const int sign = values[i] < 0 ? -1 : 1;
    const int n = terms_of(static_cast<uint32_t>(std::abs(values[i])), e, t);
    for (int j = 0; j < n; ++j) all.push_back({t[j].exponent, static_cast<int>(i), sign * t[j].sign});
  }
  // Largest exponents first; ties to the lower value index. Stable, so each
  // value's terms keep their (decreasing) order.
  std::stable_sort(all.begin(), all.end(), [](const GroupTerm& a, const GroupTerm& b) {
    return a.exponent != b.exponent ? a.exponent > b.exponent : a.index < b.index;
  });
  const size_t keep = std::min(all.size(), static_cast<size_t>(std::max(k, 0)));
  std::fill(out.begin(), out.begin() + static_cast<long>(values.size()), 0);
  for (size_t j = 0; j < keep; ++j) out[static_cast<size_t>(all[j].index)] += all[j].sign * (1 << all[j].exponent);
  return static_cast<int>(keep);
}

int32_t truncate_value(int32_t value, int s, TermEncoding e) {
  int32_t out;
  truncate_group(std::span<const int32_t>(&value, 1), s, e, std::span<int32_t>(&out, 1));
  return out;
}

int64_t truncate_rows(std::span<const int32_t> values, int64_t rows, int64_t cols, int g, int k,
                      TermEncoding e, std::span<int32_t> out) {
  if (g < 1) fail("term quantization", "group size must be at least 1");
  int64_t kept = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += g) {
      // A short last group behaves as if padded with zeros (zeros have no terms).
      const size_t n = static_cast<size_t>(std::min<int64_t>(g, cols - c0));
      kept += truncate_group(values.subspan(static_cast<size_t>(r * cols + c0), n), k, e,
                             out.subspan(static_cast<size_t>(r * cols + c0), n));
    }
  return kept;
}

int64_t term_pair_dot(std::span<const int32_t> w, std::span<const int32_t> x, TermEncoding e,
                      int64_t* pairs) {
  if (w.size() != x.size()) fail("term_pair_dot", "vectors differ in length");
  // Magnitudes stay below 2^16, so a term's exponent is at most 16 (HESE can
  // round a run up to 2^16) and an exponent sum at most 32.
  constexpr int kExponentSums = 2 * 16 + 1;
  int64_t count[kExponentSums] = {};  // one counter per exponent sum
  int64_t n_pairs = 0;
  Term tw[34], tx[34];
  for (size_t i = 0; i < w.size(); ++i) {
    check_magnitude(w[i]);
    check_magnitude(x[i]);
    const int sw = w[i] < 0 ? -1 : 1, sx = x[i] < 0 ? -1 : 1;
    const int nw = terms_of(static_cast<uint32_t>(std::abs(w[i])), e, tw);
    const int nx = terms_of(static_cast<uint32_t>(std::abs(x[i])), e, tx);
    for (int a = 0; a < nw; ++a)
      for (int b = 0; b < nx; ++b) count[tw[a].exponent + tx[b].exponent] += sw * sx * tw[a].sign * tx[b].sign;
    n_pairs += static_cast<int64_t>(nw) * nx;
  }
  int64_t sum = 0;
  for (int c = 0; c < kExponentSums; ++c) sum += count[c] * (int64_t{1} << c);
  if (pairs) *pairs = n_pairs;
  return sum;
}

TermStats term_statistics(int bits, TermEncoding e) {
  int64_t total = 0;
  int mx = 0;
  const uint32_t n = 1u << bits;
  for (uint32_t m = 0; m < n; ++m) {
    const int c = term_count(m, e);
    total += c;
    mx = std::max(mx, c);
  }
  return {static_cast<double>(total) / n, mx};
}

TruncationTable::TruncationTable(int bits, int s, TermEncoding e) {
  if (bits < 1 || bits > 16) fail("term quantization", "activation magnitude bits must be 1..16");
  const uint32_t n = 1u << bits;
  value.resize(n);
  terms.resize(n);
  for (uint32_t m = 0; m < n; ++m) {
    value[m] = truncate_value(static_cast<int32_t>(m), s, e);
    terms[m] = static_cast<uint8_t>(std::min(s, term_count(m, e)));
  }
}

GroupTruncator::GroupTruncator(int bits, TermEncoding e) : encoding_(e) {
  if (bits < 1 || bits > 16) fail("term quantization", "activation magnitude bits must be 1..16");
  const uint32_t n = 1u << bits;
  pos_.resize(n);
  neg_.resize(n);
  Term t[34];
  for (uint32_t m = 0; m < n; ++m) {
    const int count = terms_of(m, e, t);
    for (int j = 0; j < count; ++j) (t[j].sign > 0 ? pos_[m] : neg_[m]) |= 1u << t[j].exponent;
  }
}

namespace {

// Byte i of spread[b] is bit i of b: adding spread[] of a term mask counts
// terms per exponent in byte-wide counters, without a branch per term.
struct Spread {
  uint64_t table[256];
  Spread() {
    for (int b = 0; b < 256; ++b) {
      table[b] = 0;
      for (int i = 0; i < 8; ++i) table[b] |= static_cast<uint64_t>((b >> i) & 1) << (8 * i);
    }
  }
};
const Spread kSpread;

}  // namespace

template <typename T>
int GroupTruncator::apply(T* values, int n, int k) const {
  auto magnitude = [](T v) { return static_cast<uint32_t>(v < 0 ? -static_cast<int32_t>(v) : v); };
  for (int i = 0; i < n; ++i)
    if (magnitude(values[i]) >= pos_.size() || n > 255) {  // outside the table (or counters): the reference
      std::vector<int32_t> in(values, values + n), out(static_cast<size_t>(n));
      const int kept = truncate_group(in, k, encoding_, out);
      for (int j = 0; j < n; ++j) values[j] = static_cast<T>(out[static_cast<size_t>(j)]);
      return kept;
    }
  // Terms per exponent: exponents 0..7, 8..15, 16..23 in three words of
  // byte counters (a group of at most 255 values cannot overflow a byte).
  uint64_t c0 = 0, c1 = 0, c2 = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t m = magnitude(values[i]), d = pos_[m] | neg_[m];
    c0 += kSpread.table[d & 255];
    c1 += kSpread.table[(d >> 8) & 255];
    c2 += kSpread.table[(d >> 16) & 255];
  }
  // Totals straight from the counter words (no round trip through memory).
  auto byte_sum = [](uint64_t c) {
    const uint64_t pairs = (c & 0x00FF00FF00FF00FFull) + ((c >> 8) & 0x00FF00FF00FF00FFull);
    return static_cast<int>((pairs * 0x0001000100010001ull) >> 48);
  };
  const int total = byte_sum(c0) + byte_sum(c1) + byte_sum(c2);
  k = std::max(k, 0);
  if (total <= k) return total;  // every term fits
  const uint64_t words[3] = {c0, c1, c2};
  auto count = [&](int e) { return static_cast<int>((words[e >> 3] >> (8 * (e & 7))) & 255); };
  int cut = 23, above = 0;
  while (above + count(cut) < k) above += count(cut--);
  int at_cut = k - above;  // terms at the cut exponent still to keep, lowest index first
  const uint32_t high = ~((2u << cut) - 1), cut_bit = 1u << cut;
  for (int i = 0; i < n; ++i) {
    const bool negative = values[i] < 0;
    const uint32_t m = magnitude(values[i]);
    const uint32_t has_cut = (pos_[m] | neg_[m]) & cut_bit;
    const uint32_t take = (has_cut && at_cut > 0) ? cut_bit : 0u;
    at_cut -= take != 0;
    const uint32_t keep = high | take;
    const int32_t kept = static_cast<int32_t>(pos_[m] & keep) - static_cast<int32_t>(neg_[m] & keep);
    values[i] = static_cast<T>(negative ? -kept : kept);
  }
  return k;
}

template int GroupTruncator::apply<uint8_t>(uint8_t*, int, int) const;
template int GroupTruncator::apply<int8_t>(int8_t*, int, int) const;
template int GroupTruncator::apply<int16_t>(int16_t*, int, int) const;
template int GroupTruncator::apply<int32_t>(int32_t*, int, int) const;

}  // namespace bitlane::quant
