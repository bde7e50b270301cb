// Hash64 (core/hash.h) as a cache key needs: no collisions among nearby
// inputs, every input bit reaching every output bit, and the boundaries
// between pieces counted.
#include <doctest/doctest.h>

#include <bit>
#include <random>
#include <set>
#include <vector>

#include "core/hash.h"

using bitlane::Hash64;

TEST_CASE("Hash64: one flipped input bit changes about half of the output bits, each of them") {
  std::mt19937_64 rng(7);
  std::vector<unsigned char> buf(64);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  const uint64_t base = Hash64().bytes(buf.data(), buf.size()).digest();
  std::set<uint64_t> seen = {base};
  std::vector<int> flips(64, 0);
  long total = 0;
  for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    const uint64_t h = Hash64().bytes(buf.data(), buf.size()).digest();
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    seen.insert(h);
    total += std::popcount(h ^ base);
    for (int o = 0; o < 64; ++o) flips[static_cast<size_t>(o)] += static_cast<int>((h ^ base) >> o & 1);
  }
  CHECK(seen.size() == 513);  // no two of the 512 neighbours, nor the original, alike
  // Binomial(64, 1/2) per flip: the mean of 512 lies within 32 +- 1 (5 sd).
  const double mean = static_cast<double>(total) / 512;
  CHECK(mean > 31);
  CHECK(mean < 33);
  for (int o = 0; o < 64; ++o) {  // each output bit flips in 50% +- 15% (7 sd) of the cases
    CAPTURE(o);
    CHECK(flips[static_cast<size_t>(o)] > 512 * 0.35);
    CHECK(flips[static_cast<size_t>(o)] < 512 * 0.65);
  }
}

TEST_CASE("Hash64: lengths, piece boundaries and seeds are part of the hash") {
  std::set<uint64_t> zeros;
  const std::vector<unsigned char> z(129, 0);
  for (size_t n = 0; n <= 128; ++n) zeros.insert(Hash64().bytes(z.data(), n).digest());
  CHECK(zeros.size() == 129);  // runs of 0 .. 128 zero bytes all differ
  CHECK(Hash64().text("ab").text("c").digest() != Hash64().text("a").text("bc").digest());
  CHECK(Hash64().text("abc").digest() == Hash64().text("abc").digest());
  CHECK(Hash64(1).text("abc").digest() != Hash64(2).text("abc").digest());
  CHECK(Hash64().word(1).word(2).digest() != Hash64().word(2).word(1).digest());
}
