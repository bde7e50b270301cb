// Term decompositions and truncation: exhaustive checks against the
// one-pass scanner of TECHNIQUES.md (an independent formulation of HESE),
// the independent test vectors (tests/data/testvectors, from another
// implementation), the worked examples and every listed invariant.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "quant/terms.h"
#include "tests/test_paths.h"

using namespace bitlane::quant;

namespace {

// TECHNIQUES.md's scanner: MSB to LSB over (b[i+1], b[i], b[i-1]):
// 010 -> +2^i and skip bit i-1; 011 -> +2^(i+1); 110 -> -2^i.
std::vector<Term> scanner_hese(uint32_t m) {
  std::vector<Term> out;
  auto bit = [&](int i) { return i < 0 || i > 31 ? 0u : (m >> i) & 1u; };
  for (int i = 20; i >= 0; --i) {
    const unsigned p = bit(i + 1) << 2 | bit(i) << 1 | bit(i - 1);
    if (p == 0b010) {
      out.push_back({1, static_cast<uint8_t>(i)});
      --i;  // skip bit i-1 (it is zero)
    } else if (p == 0b011) {
      out.push_back({1, static_cast<uint8_t>(i + 1)});
    } else if (p == 0b110) {
      out.push_back({-1, static_cast<uint8_t>(i)});
    }
  }
  return out;
}

std::string render(const Term* t, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (t[i].sign > 0 ? "+" : "-") + std::to_string(t[i].exponent);
  return s;
}

TermEncoding encoding(const std::string& s) { return s == "hese" ? TermEncoding::kHese : TermEncoding::kBinary; }

}  // namespace

TEST_CASE("HESE: every value below 2^16 against the scanner, sums, order, never more than binary") {
  Term t[34];
  for (uint32_t m = 0; m < (1u << 16); ++m) {
    const int n = terms_of(m, TermEncoding::kHese, t);
    const auto ref = scanner_hese(m);
    REQUIRE_MESSAGE(n == static_cast<int>(ref.size()), m);
    int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
      REQUIRE(t[i].sign == ref[static_cast<size_t>(i)].sign);
      REQUIRE(t[i].exponent == ref[static_cast<size_t>(i)].exponent);
      REQUIRE(t[i].exponent <= 16);
      if (i) REQUIRE(t[i].exponent < t[i - 1].exponent);  // distinct, decreasing
      sum += t[i].sign * (int64_t{1} << t[i].exponent);
    }
    REQUIRE(sum == m);
    REQUIRE(n <= term_count(m, TermEncoding::kBinary));
  }
}

TEST_CASE("worked examples of TECHNIQUES.md") {
  Term t[34];
  CHECK(render(t, terms_of(110, TermEncoding::kHese, t)) == "+7-5+4-1");  // 128 - 32 + 16 - 2
  CHECK(render(t, terms_of(27, TermEncoding::kHese, t)) == "+5-3+2-0");   // 32 - 8 + 4 - 1
  CHECK(render(t, terms_of(255, TermEncoding::kHese, t)) == "+8-0");      // 256 - 1
  const int32_t w[] = {110, 5, 3, 0};
  int32_t out[4];
  truncate_group(w, 4, TermEncoding::kHese, out);
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{112, 4, 0, 0});
  truncate_group(w, 6, TermEncoding::kHese, out);
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{110, 4, 4, 0});
  truncate_group(w, 8, TermEncoding::kHese, out);
  CHECK(std::vector<int32_t>(out, out + 4) == std::vector<int32_t>{110, 5, 3, 0});
  const TermStats h8 = term_statistics(8, TermEncoding::kHese), b8 = term_statistics(8, TermEncoding::kBinary);
  CHECK(h8.mean == 3.25);
  CHECK(b8.mean == 4.0);
}

TEST_CASE("independent vectors: terms of every 12-bit value, term statistics, truncated groups") {
  std::ifstream csv(bitlane::test::source_path("tests/data/testvectors/terms_u12.csv"));
  std::string line;
  std::getline(csv, line);  // header
  Term t[34];
  int rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string q, bin, hese;
    std::getline(ss, q, ',');
    std::getline(ss, bin, ',');
    std::getline(ss, hese, ',');
    const auto m = static_cast<uint32_t>(std::stoul(q));
    REQUIRE_MESSAGE(render(t, terms_of(m, TermEncoding::kBinary, t)) == bin, m);
    REQUIRE_MESSAGE(render(t, terms_of(m, TermEncoding::kHese, t)) == hese, m);
    ++rows;
  }
  CHECK(rows == 4096);

  std::ifstream js(bitlane::test::source_path("tests/data/testvectors/tq_groups.json"));
  const auto doc = nlohmann::json::parse(js);
  for (auto it = doc["term_statistics"].begin(); it != doc["term_statistics"].end(); ++it) {
    const int bits = std::stoi(it.key());
    for (TermEncoding e : {TermEncoding::kBinary, TermEncoding::kHese}) {
      const TermStats s = term_statistics(bits, e);
      const std::string name = encoding_name(e);
      CHECK(s.mean == doctest::Approx(it.value()["mean_" + name].get<double>()));
      CHECK(s.max == it.value()["max_" + name].get<int>());
    }
  }
  for (const auto& c : doc["cases"]) {
    const auto values = c["values"].get<std::vector<int32_t>>();
    std::vector<int32_t> out(values.size());
    truncate_group(values, c["k"].get<int>(), encoding(c["encoding"]), out);
    REQUIRE_MESSAGE(out == c["kept"].get<std::vector<int32_t>>(), c.dump());
  }
}

TEST_CASE("truncation invariants on random groups") {
  std::mt19937 rng(3);
  Term t[34];
  for (TermEncoding e : {TermEncoding::kBinary, TermEncoding::kHese})
    for (int trial = 0; trial < 3000; ++trial) {
      const int g = 1 + static_cast<int>(rng() % 16), k = static_cast<int>(rng() % 24);
      std::uniform_int_distribution<int32_t> d(-4095, 4095);
      std::vector<int32_t> v(static_cast<size_t>(g)), out(v.size());
      for (auto& x : v) x = d(rng);
      const int kept = truncate_group(v, k, e, out);
      CHECK(kept <= k);
      int total = 0, min_kept = 99, max_dropped = -1;
      for (size_t i = 0; i < v.size(); ++i) {
        const int n = terms_of(static_cast<uint32_t>(std::abs(v[i])), e, t);
        total += n;
        // Kept terms of a value are a prefix of its term list.
        int64_t prefix = 0;
        int j = 0;
        const int64_t target = std::abs(out[i]);  // magnitudes: the sign is the value's
        while (j < n && prefix != target) prefix += t[j].sign * (int64_t{1} << t[j].exponent), ++j;
        REQUIRE_MESSAGE(prefix == target, "value " << v[i] << " kept " << out[i]);
        if (out[i] != 0 && (out[i] < 0) != (v[i] < 0)) FAIL("sign changed");
        for (int a = 0; a < j; ++a) min_kept = std::min(min_kept, static_cast<int>(t[a].exponent));
        if (j < n) max_dropped = std::max(max_dropped, static_cast<int>(t[j].exponent));
      }
      if (kept && max_dropped >= 0) CHECK(min_kept >= max_dropped);  // every kept >= every dropped
      if (k >= total) CHECK(out == v);                                // enough budget: exact
      if (k == 0) CHECK(out == std::vector<int32_t>(v.size(), 0));
    }
}

TEST_CASE("the term-pair dot product equals the integer dot product of truncated vectors") {
  std::mt19937 rng(9);
  for (TermEncoding e : {TermEncoding::kBinary, TermEncoding::kHese})
    for (int trial = 0; trial < 500; ++trial) {
      const int n = 1 + static_cast<int>(rng() % 64), g = 16, k = 10, s = 3;
      std::uniform_int_distribution<int32_t> dw(-15, 15), dx(0, 63);
      std::vector<int32_t> w(static_cast<size_t>(n)), x(w.size()), wt(w.size()), xt(w.size());
      for (auto& v : w) v = dw(rng);
      for (auto& v : x) v = dx(rng);
      truncate_rows(w, 1, n, g, k, e, wt);
      for (size_t i = 0; i < x.size(); ++i) xt[i] = truncate_value(x[i], s, e);
      int64_t want = 0;
      for (size_t i = 0; i < w.size(); ++i) want += int64_t{wt[i]} * xt[i];
      int64_t pairs = 0;
      CHECK(term_pair_dot(wt, xt, e, &pairs) == want);
      CHECK(pairs <= int64_t{k} * s * ((n + g - 1) / g));  // at most k x s pairs per group
    }
}

TEST_CASE("truncation tables agree with truncate_value") {
  for (TermEncoding e : {TermEncoding::kBinary, TermEncoding::kHese})
    for (int s : {1, 2, 3, 6}) {
      const TruncationTable table(8, s, e);
      for (int32_t m = 0; m < 256; ++m) {
        REQUIRE(table.value[static_cast<size_t>(m)] == truncate_value(m, s, e));
        REQUIRE(table.terms[static_cast<size_t>(m)] == std::min(s, term_count(static_cast<uint32_t>(m), e)));
      }
    }
}

TEST_CASE("group truncation at run-time speed equals truncate_group") {
  std::mt19937 rng(17);
  for (TermEncoding enc : {TermEncoding::kBinary, TermEncoding::kHese}) {
    for (int bits : {4, 6, 8, 12}) {
      const GroupTruncator fast(bits, enc);
      for (int trial = 0; trial < 3000; ++trial) {
        const int n = 1 + static_cast<int>(rng() % 20);
        const int k = static_cast<int>(rng() % 40);
        std::vector<int32_t> v(static_cast<size_t>(n)), want(static_cast<size_t>(n));
        for (auto& x : v) {
          const int32_t m = static_cast<int32_t>(rng() % (1u << bits));
          x = rng() % 4 == 0 ? 0 : (rng() % 2 ? m : -m);  // zeros and ties are common
          if (rng() % 5 == 0) x = v[0];
        }
        const int kept_ref = truncate_group(v, k, enc, want);
        std::vector<int32_t> got = v;
        const int kept = fast.apply(got.data(), n, k);
        INFO(encoding_name(enc) << " bits " << bits << " n " << n << " k " << k);
        REQUIRE(kept == kept_ref);
        REQUIRE(got == want);
      }
    }
  }
}
