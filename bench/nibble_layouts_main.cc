// bitlane_nibble_layouts: a layout probe, not a kernel of the library. How
// fast a GEMV (1 x K x N, u8 activations x 4-bit weights, AVX-512 VNNI) runs
// with its weights
//   - as bytes (int8's layout),
//   - as nibbles pairing two K units (int4's layout, swar/dot_family.h:
//     a shift and two masks per 64 bytes before its two VPDPBUSD), or
//   - as nibbles pairing two 16-column blocks for the same K unit: the low
//     nibble holds block A's w + 8, the high one block B's w, so each byte
//     read as s8 is 16 w_B + (w_A + 8). One VPDPBUSD of the raw bytes and one
//     of the low nibbles (one mask) give both blocks: A = sum(a (w_A + 8)),
//     B = (raw sums - A) / 16, exactly (the difference is 16 sum(a w_B)).
// Three instructions per 64 bytes instead of five: whether that turns half
// the bytes into time where VPDPBUSD and the unpacking share ports (Intel)
// is what this measures (bench/README.md, thirty-eighth session). Each
// kernel is checked against a scalar GEMV before it is timed.
//
//   build/release/bench/bitlane_nibble_layouts [--shapes 1x784x512,...] [--min-time 0.1] [--rounds 7]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "core/aligned_buffer.h"
#include "timing.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define BL_VNNI512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#endif

namespace {

using bitlane::bench::time_calls;

struct Weights {
  size_t k = 0, n = 0, units = 0, blocks = 0;  // units of 4 K values, blocks of 16 columns
  // 64-byte aligned, as the library's packed weights (a vector's 16-byte
  // alignment splits every load across two cache lines).
  bitlane::AlignedBuffer<int8_t> bytes;      // [block][unit][16 columns][4]
  bitlane::AlignedBuffer<uint8_t> k_pairs;   // [block][unit / 2][16][4]: unit 2p low, 2p + 1 high, w + 8
  bitlane::AlignedBuffer<uint8_t> col_pairs;  // [block / 2][unit][16][4]: block 2q low (w + 8), 2q + 1 high (w)
};

Weights pack(const std::vector<int>& w, size_t k, size_t n) {
  Weights p{k, n, k / 4, n / 16, {}, {}, {}};
  p.bytes.resize(p.blocks * p.units * 64);  // zeroed
  p.k_pairs.resize(p.blocks * p.units / 2 * 64);
  p.col_pairs.resize(p.blocks / 2 * p.units * 64);
  for (size_t c = 0; c < n; ++c)
    for (size_t i = 0; i < k; ++i) {
      const size_t b = c / 16, lane = c % 16, u = i / 4, byte = lane * 4 + i % 4;
      const int v = w[c * k + i];
      p.bytes[(b * p.units + u) * 64 + byte] = static_cast<int8_t>(v);
      p.k_pairs[(b * p.units / 2 + u / 2) * 64 + byte] |= static_cast<uint8_t>((v + 8) << (4 * (u % 2)));
      p.col_pairs[(b / 2 * p.units + u) * 64 + byte] |=
          b % 2 == 0 ? static_cast<uint8_t>(v + 8) : static_cast<uint8_t>((v & 15) << 4);
    }
  return p;
}

#if defined(__x86_64__)
BL_VNNI512 inline __m512i broadcast4(const uint8_t* a) {
  int32_t x;
  std::memcpy(&x, a, 4);
  return _mm512_set1_epi32(x);
}

// Each kernel runs 64 columns per pass with 8 accumulator chains (VPDPBUSD's
// latency hidden), one activation broadcast per unit shared by the columns.
BL_VNNI512 void gemv_bytes(const uint8_t* a, const Weights& p, int32_t* out) {
  for (size_t b = 0; b < p.blocks; b += 4) {
    __m512i even[4], odd[4];  // units 2i and 2i + 1
    for (size_t j = 0; j < 4; ++j) even[j] = odd[j] = _mm512_setzero_si512();
    size_t u = 0;
    for (; u + 2 <= p.units; u += 2) {
      const __m512i a0 = broadcast4(a + 4 * u), a1 = broadcast4(a + 4 * u + 4);
      for (size_t j = 0; j < 4; ++j) {
        const int8_t* w = &p.bytes[((b + j) * p.units + u) * 64];
        even[j] = _mm512_dpbusd_epi32(even[j], a0, _mm512_loadu_si512(w));
        odd[j] = _mm512_dpbusd_epi32(odd[j], a1, _mm512_loadu_si512(w + 64));
      }
    }
    for (; u < p.units; ++u)
      for (size_t j = 0; j < 4; ++j)
        even[j] = _mm512_dpbusd_epi32(even[j], broadcast4(a + 4 * u),
                                      _mm512_loadu_si512(&p.bytes[((b + j) * p.units + u) * 64]));
    for (size_t j = 0; j < 4; ++j) _mm512_storeu_si512(out + (b + j) * 16, _mm512_add_epi32(even[j], odd[j]));
  }
}

// Sums of a x (w + 8): the caller subtracts 8 x sum(a).
BL_VNNI512 void gemv_k_pairs(const uint8_t* a, const Weights& p, int32_t* out) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  const size_t pairs = p.units / 2;
  for (size_t b = 0; b < p.blocks; b += 4) {
    __m512i lo[4], hi[4];
    for (size_t j = 0; j < 4; ++j) lo[j] = hi[j] = _mm512_setzero_si512();
    for (size_t q = 0; q < pairs; ++q) {
      const __m512i a0 = broadcast4(a + 8 * q), a1 = broadcast4(a + 8 * q + 4);
      for (size_t j = 0; j < 4; ++j) {
        const __m512i raw = _mm512_loadu_si512(&p.k_pairs[((b + j) * pairs + q) * 64]);
        lo[j] = _mm512_dpbusd_epi32(lo[j], a0, _mm512_and_si512(raw, low));
        hi[j] = _mm512_dpbusd_epi32(hi[j], a1, _mm512_and_si512(_mm512_srli_epi16(raw, 4), low));
      }
    }
    for (size_t j = 0; j < 4; ++j) _mm512_storeu_si512(out + (b + j) * 16, _mm512_add_epi32(lo[j], hi[j]));
  }
}

// Block A (even) as sums of a x (w + 8), block B exact. Units u and u + 1
// of pairs q and q + 1 per step (adjacent 64-byte rows), each pair's unit
// parities in their own chains.
BL_VNNI512 void gemv_col_pairs(const uint8_t* a, const Weights& p, int32_t* out) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (size_t q = 0; q < p.blocks / 2; q += 2) {
    __m512i raw_sum[2][2], low_sum[2][2];  // [pair][unit parity]
    for (size_t j = 0; j < 2; ++j)
      for (size_t e = 0; e < 2; ++e) raw_sum[j][e] = low_sum[j][e] = _mm512_setzero_si512();
    for (size_t u = 0; u < p.units; u += 2) {  // an even count: K is a multiple of 8
      const __m512i a0 = broadcast4(a + 4 * u), a1 = broadcast4(a + 4 * u + 4);
      for (size_t j = 0; j < 2; ++j) {
        const uint8_t* w = &p.col_pairs[((q + j) * p.units + u) * 64];
        const __m512i x0 = _mm512_loadu_si512(w), x1 = _mm512_loadu_si512(w + 64);
        raw_sum[j][0] = _mm512_dpbusd_epi32(raw_sum[j][0], a0, x0);
        low_sum[j][0] = _mm512_dpbusd_epi32(low_sum[j][0], a0, _mm512_and_si512(x0, low));
        raw_sum[j][1] = _mm512_dpbusd_epi32(raw_sum[j][1], a1, x1);
        low_sum[j][1] = _mm512_dpbusd_epi32(low_sum[j][1], a1, _mm512_and_si512(x1, low));
      }
    }
    for (size_t j = 0; j < 2; ++j) {
      const __m512i raws = _mm512_add_epi32(raw_sum[j][0], raw_sum[j][1]);
      const __m512i lows = _mm512_add_epi32(low_sum[j][0], low_sum[j][1]);
      _mm512_storeu_si512(out + 2 * (q + j) * 16, lows);
      // (The masked form: GCC 12 warns on the plain one's undefined source.)
      const __m512i high = _mm512_maskz_srai_epi32(0xFFFF, _mm512_sub_epi32(raws, lows), 4);
      _mm512_storeu_si512(out + (2 * (q + j) + 1) * 16, high);
    }
  }
}
#endif

bool parse_shape(const std::string& s, size_t& k, size_t& n) {
  unsigned long m = 0, kk = 0, nn = 0;
  char x1 = 0, x2 = 0;
  std::istringstream in(s);
  if (!(in >> m >> x1 >> kk >> x2 >> nn) || x1 != 'x' || x2 != 'x' || m != 1) return false;
  k = kk, n = nn;
  return k >= 8 && k % 8 == 0 && k <= (1u << 16) && n >= 64 && n % 64 == 0 && n <= (1u << 16);
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options opts("bitlane_nibble_layouts", "GEMV speed of 4-bit weights in three layouts (a layout probe)");
  opts.add_options()("shapes", "comma list of 1xKxN (K a multiple of 8, N of 64)",
                     cxxopts::value<std::string>()->default_value("1x784x512,1x512x512,1x2304x256"))(
      "min-time", "seconds per measurement", cxxopts::value<double>()->default_value("0.1"))(
      "rounds", "interleaved rounds; each layout's best is reported", cxxopts::value<int>()->default_value("7"))(
      "h,help", "show help");
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", opts.help().c_str());
    return 0;
  }
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vnni")) {
    std::printf("bitlane_nibble_layouts needs AVX-512 VNNI; not measured on this CPU.\n");
    return 0;
  }
  const double min_time = args["min-time"].as<double>();
  const int rounds = std::max(1, args["rounds"].as<int>());
  std::printf("| shape | bytes GOPS | nibbles by K unit | nibbles by column | by column / bytes |"
              " by column / by K unit |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  std::stringstream list(args["shapes"].as<std::string>());
  for (std::string s; std::getline(list, s, ',');) {
    size_t k = 0, n = 0;
    if (!parse_shape(s, k, n)) {
      std::fprintf(stderr, "bitlane_nibble_layouts: shape '%s' is not 1xKxN with K a multiple of 8 and N of 64\n",
                   s.c_str());
      return 2;
    }
    std::mt19937 rng(7);
    std::vector<uint8_t> a(k);
    std::vector<int> w(n * k);
    for (auto& v : a) v = static_cast<uint8_t>(rng() % 256);
    for (auto& v : w) v = static_cast<int>(rng() % 16) - 8;
    const Weights p = pack(w, k, n);
    int32_t sum_a = 0;
    for (uint8_t v : a) sum_a += v;
    std::vector<int32_t> want(n), got(n);
    for (size_t c = 0; c < n; ++c)
      for (size_t i = 0; i < k; ++i) want[c] += a[i] * w[c * k + i];
    // Each layout's sums, corrected to the GEMV's, against the scalar one.
    auto check = [&](const char* name, auto correction) {
      for (size_t c = 0; c < n; ++c)
        if (got[c] - correction(c) != want[c]) {
          std::fprintf(stderr, "bitlane_nibble_layouts: %s wrong at column %zu of %s\n", name, c, s.c_str());
          return false;
        }
      return true;
    };
    gemv_bytes(a.data(), p, got.data());
    bool ok = check("bytes", [](size_t) { return 0; });
    gemv_k_pairs(a.data(), p, got.data());
    ok = ok && check("nibbles by K unit", [&](size_t) { return 8 * sum_a; });
    gemv_col_pairs(a.data(), p, got.data());
    ok = ok && check("nibbles by column", [&](size_t c) { return c / 16 % 2 == 0 ? 8 * sum_a : 0; });
    if (!ok) return 1;
    // Interleaved rounds, the best of each: the shared host's neighbours
    // halve a measurement now and then, for whole runs of calls.
    auto gops = [&](void (*f)(const uint8_t*, const Weights&, int32_t*)) {
      const auto t = time_calls([&] { f(a.data(), p, got.data()); }, min_time);
      return 2.0 * static_cast<double>(k * n) / t.median_s * 1e-9;
    };
    double bytes = 0, by_k = 0, by_col = 0;
    for (int r = 0; r < rounds; ++r) {
      bytes = std::max(bytes, gops(gemv_bytes));
      by_k = std::max(by_k, gops(gemv_k_pairs));
      by_col = std::max(by_col, gops(gemv_col_pairs));
    }
    std::printf("| %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", s.c_str(), bytes, by_k, by_col, by_col / bytes,
                by_col / by_k);
  }
#else
  std::printf("bitlane_nibble_layouts measures x86 instructions only; not measured on this CPU.\n");
#endif
  return 0;
}
