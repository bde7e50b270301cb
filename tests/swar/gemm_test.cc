// Every GEMM method of the table (swar/method_table.cc) on every SIMD target
// this machine runs, against the int64 reference: all width pairs 1..8 with
// every signedness, wider widths up to 16, edge shapes around the block and
// vector sizes, extreme values. A method whose CPU features the target lacks
// is skipped there with a message (its weights would run on its fallback,
// which the table tests as a method of its own).
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/cpu_info.h"
#include "core/error.h"
#include "core/executor.h"
#include "swar/cpu_features.h"
#include "swar/gemm.h"
#include "swar/targets.h"
#include "tests/simd_targets.h"

using namespace bitlane;
using namespace bitlane::swar;

namespace {

enum class Fill { kRandom, kMin, kMax, kAlternate };

std::vector<int32_t> make_values(size_t n, IntFormat f, Fill fill, std::mt19937& rng) {
  std::vector<int32_t> v(n);
  std::uniform_int_distribution<int64_t> d(f.min_value(), f.max_value());
  for (size_t i = 0; i < n; ++i) {
    switch (fill) {
      case Fill::kRandom: v[i] = static_cast<int32_t>(d(rng)); break;
      case Fill::kMin: v[i] = static_cast<int32_t>(f.min_value()); break;
      case Fill::kMax: v[i] = static_cast<int32_t>(f.max_value()); break;
      case Fill::kAlternate:
        v[i] = static_cast<int32_t>(i % 3 ? f.max_value() : f.min_value());
        break;
    }
  }
  return v;
}

// Runs one case through `method` (int64 and, when it fits, int32 output) and
// compares with the reference. Returns false after reporting a mismatch.
bool check_fills(GemmMethod method, IntFormat af, IntFormat wf, size_t m, size_t k, size_t n, Fill a_fill,
                 Fill w_fill, std::mt19937& rng, const Executor& ex) {
  const auto a = make_values(m * k, af, a_fill, rng);
  const auto w = make_values(n * k, wf, w_fill, rng);
  const MatrixView av = MatrixView::of(a.data(), m, k), wv = MatrixView::of(w.data(), n, k);
  std::vector<int64_t> want(m * n), got(m * n, -1);
  gemm_reference(av, wv, want.data(), n);
  const PackedWeights p = PackedWeights::pack(wv, wf, af, method);
  gemm(av, p, got.data(), n, ex);
  for (size_t i = 0; i < m * n; ++i)
    if (got[i] != want[i]) {
      FAIL_CHECK(std::string(method_name(method)) << " on " << current_target() << ": " << af.to_string()
                                     << " x " << wf.to_string() << " M=" << m << " K=" << k
                                     << " N=" << n << " at (" << i / n << ", " << i % n
                                     << "): " << got[i] << " != " << want[i]);
      return false;
    }
  const long double bound =
      static_cast<long double>(k) * af.max_magnitude() * wf.max_magnitude();
  if (bound <= 2147483647.0L) {
    std::vector<int32_t> got32(m * n, -1);
    gemm(av, p, got32.data(), n, ex);
    for (size_t i = 0; i < m * n; ++i)
      if (got32[i] != want[i]) {
        FAIL_CHECK(std::string(method_name(method)) << " int32 on " << current_target() << ": "
                                       << af.to_string() << " x " << wf.to_string()
                                       << " M=" << m << " K=" << k << " N=" << n);
        return false;
      }
  }
  return true;
}
bool check_case(GemmMethod method, IntFormat af, IntFormat wf, size_t m, size_t k, size_t n, Fill fill,
                std::mt19937& rng, const Executor& ex) {
  return check_fills(method, af, wf, m, k, n, fill, fill == Fill::kAlternate ? Fill::kMin : fill, rng, ex);
}

// The methods whose kernels run on the current target, for these widths.
std::vector<GemmMethod> methods_here(IntFormat af, IntFormat wf) {
  std::vector<GemmMethod> out;
  for (GemmMethod m : all_methods()) {
    if (!method_supports(m, af, wf)) continue;
    if (!method_runs_here(m)) {
      MESSAGE(std::string(method_name(m)) << " skipped on " << current_target() << ": the CPU or target lacks its features");
      continue;
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE("gemm: every method, target and width pair 1..8 matches the reference") {
  Executor ex(1);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (GemmMethod method : methods_here(IntFormat{1, false}, IntFormat{1, true})) {
      CAPTURE(method_name(method));
      std::mt19937 rng(11);
      // Shapes cycle through sizes around 64-bit words, blocks and vectors.
      const size_t shapes[][3] = {{1, 64, 8},  {3, 65, 9},  {5, 63, 17}, {2, 127, 16},
                                  {4, 129, 7}, {6, 1, 1},   {1, 257, 33}, {9, 31, 15}};
      size_t s = 0;
      bool ok = true;
      for (int ab = 1; ab <= 8 && ok; ++ab)
        for (int wb = 1; wb <= 8 && ok; ++wb)
          for (int signs = 0; signs < 4 && ok; ++signs) {
            const IntFormat af{ab, (signs & 1) != 0}, wf{wb, (signs & 2) != 0};
            if (!method_supports(method, af, wf)) continue;  // int7: activations of <= 7 bits
            const auto& sh = shapes[s++ % std::size(shapes)];
            const Fill fill = s % 5 == 0 ? Fill::kMin : s % 7 == 0 ? Fill::kMax : Fill::kRandom;
            ok = check_case(method, af, wf, sh[0], sh[1], sh[2], fill, rng, ex);
          }
    }
  });
}

TEST_CASE("gemm: edge shapes and extreme values") {
  Executor ex(1);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(5);
    for (GemmMethod method : methods_here(IntFormat{1, false}, IntFormat{1, true})) {
      CAPTURE(method_name(method));
      for (IntFormat af : {IntFormat{1, false}, IntFormat{2, true}, IntFormat{7, false}, IntFormat{8, false}})
        for (IntFormat wf : {IntFormat{1, true}, IntFormat{4, true}, IntFormat{8, true}, IntFormat{8, false}})
          for (size_t m : {1, 4, 5})
            if (method_supports(method, af, wf))
            for (size_t k : {1, 63, 64, 65, 257})
              for (size_t n : {1, 15, 16, 17, 65})
                for (Fill fill : {Fill::kRandom, Fill::kMin, Fill::kMax, Fill::kAlternate})
                  if (!check_case(method, af, wf, m, k, n, fill, rng, ex)) return;
    }
  });
}

TEST_CASE("gemm: activations given as bytes take every method's byte packer and match the reference") {
  // Quantized layers hand their activations over as u8 or i8 rows; int16
  // widens them, the byte methods bias them, bit-serial splits them into
  // planes. A value outside the declared format is an error, not a wrong sum.
  Executor ex(1);
  std::mt19937 rng(23);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat af : {IntFormat{8, false}, IntFormat{8, true}, IntFormat{5, false}, IntFormat{4, true}})
      for (IntFormat wf : {IntFormat{8, true}, IntFormat{3, true}})
        for (GemmMethod method : methods_here(af, wf))
          for (size_t k : {1, 15, 16, 17, 143, 144, 145})
            for (size_t n : {6, 16, 33}) {
              const std::string name = method_name(method);
              CAPTURE(name);
              CAPTURE(af.to_string());
              CAPTURE(wf.to_string());
              CAPTURE(k);
              CAPTURE(n);
              const size_t m = 7, stride = k + 3;
              const auto values = make_values(m * stride, af, Fill::kRandom, rng);
              std::vector<uint8_t> bytes(values.size());
              for (size_t i = 0; i < values.size(); ++i) bytes[i] = static_cast<uint8_t>(values[i]);
              bytes[0] = static_cast<uint8_t>(af.min_value());
              bytes[m * stride - 4] = static_cast<uint8_t>(af.max_value());
              const auto w = make_values(n * k, wf, Fill::kRandom, rng);
              const MatrixView wv = MatrixView::of(w.data(), n, k);
              const MatrixView av = af.is_signed ? MatrixView::of(reinterpret_cast<const int8_t*>(bytes.data()), m, k, stride)
                                                 : MatrixView::of(bytes.data(), m, k, stride);
              std::vector<int64_t> want(m * n), got(m * n, -1);
              gemm_reference(av, wv, want.data(), n);
              const PackedWeights p = PackedWeights::pack(wv, wf, af, method);
              gemm(av, p, got.data(), n, ex);
              REQUIRE(got == want);
              if (af.bits == 8) continue;  // every byte is in range
              bytes[stride + k / 2] = static_cast<uint8_t>(af.max_value() + 1);
              CHECK_THROWS_WITH(gemm(av, p, got.data(), n, ex), doctest::Contains("activations"));
            }
  });
}

TEST_CASE("gemm: int7's pair sums added in int16 lanes stay exact at the chunk bound") {
  // Where operands are narrow, int7 adds PMADDUBSW's pair sums in int16
  // lanes over chunks of K units and widens once per chunk (dot_tiles-inl.h,
  // BytePairSums16Product). The longest exact chunk, derived here from the
  // operands' ranges: 32767 / (2 max|a'| max|w'|) units, a' = a biased to
  // unsigned bytes, w' = w (unsigned 8-bit weights: w - 128). Operands all at
  // the ends of their ranges make every pair sum as large as it gets, so a
  // chunk one unit longer than the bound would wrap; K runs around one and
  // two chunks of it.
  Executor ex(1);
  std::mt19937 rng(17);
  const GemmMethod int7 = parse_method("int7");
  bitlane::test::for_each_simd_target([&](const std::string&) {
    if (!method_runs_here(int7)) {
      MESSAGE("int7 skipped on " << current_target() << ": no PMADDUBSW or SDOT tiles there");
      return;
    }
    for (IntFormat af : {IntFormat{2, false}, IntFormat{3, true}, IntFormat{4, false}, IntFormat{4, true},
                         IntFormat{5, false}, IntFormat{6, false}})
      for (IntFormat wf : {IntFormat{2, true}, IntFormat{3, true}, IntFormat{4, true}, IntFormat{4, false},
                           IntFormat{6, true}, IntFormat{8, false}}) {
        const int64_t amax = (int64_t{1} << af.bits) - 1;
        const int64_t wmax = wf.is_signed ? int64_t{1} << (wf.bits - 1)
                                          : wf.bits == 8 ? 128 : (int64_t{1} << wf.bits) - 1;
        const size_t units = static_cast<size_t>(32767 / (2 * amax * wmax));
        for (size_t k : {4 * units - 1, 4 * units, 4 * units + 1, 4 * units + 4, 8 * units + 5})
          for (const auto& [a_fill, w_fill] : {std::pair{Fill::kMax, Fill::kMin}, std::pair{Fill::kMax, Fill::kMax},
                                               std::pair{Fill::kMin, Fill::kMin}})
            if (!check_fills(int7, af, wf, 3, k, 17, a_fill, w_fill, rng, ex)) return;
      }
  });
}


TEST_CASE("gemm: int8 with the activations' top bit flipped: pair sums at their bound, a -128 weight") {
  // On Arm int8 multiplies a - 128 (an s8) and starts from 128 x the
  // weights' column sums; on NEON without the dot product it adds pairs of
  // those products in int16, exact while no weight is -128: (-128) x (-127)
  // twice is 32512. Weights of [-127, 127] at their ends against activations
  // 0 and 255 reach that bound; a single -128 weight (with a = 0 the pair
  // would be 32768) must send the whole matrix to the exact emulation. Both
  // int32 (over all K) and int64 results (K chunks, corrected per step).
  Executor ex(1);
  std::mt19937 rng(23);
  const GemmMethod int8 = parse_method("int8");
  const IntFormat af{8, false}, wf{8, true};
  auto run = [&](const std::vector<int32_t>& a, const std::vector<int32_t>& w, size_t m, size_t k, size_t n) {
    const MatrixView av = MatrixView::of(a.data(), m, k), wv = MatrixView::of(w.data(), n, k);
    std::vector<int64_t> want(m * n), got(m * n, -1);
    gemm_reference(av, wv, want.data(), n);
    const PackedWeights p = PackedWeights::pack(wv, wf, af, int8);
    gemm(av, p, got.data(), n, ex);
    std::vector<int32_t> got32(m * n, -1);
    gemm(av, p, got32.data(), n, ex);
    for (size_t i = 0; i < m * n; ++i)
      if (got[i] != want[i] || got32[i] != want[i]) {
        FAIL_CHECK("int8 on " << current_target() << " M=" << m << " K=" << k << " N=" << n << " at (" << i / n
                              << ", " << i % n << "): " << got[i] << " / " << got32[i] << " != " << want[i]);
        return false;
      }
    return true;
  };
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::uniform_int_distribution<int32_t> wd(-127, 127), ad(0, 255);
    for (size_t m : {1, 4, 13})
      for (size_t k : {1, 4, 63, 65, 1000})
        for (size_t n : {1, 16, 17, 65})
          for (int pattern = 0; pattern < 4; ++pattern) {
            std::vector<int32_t> a(m * k), w(n * k);
            for (size_t i = 0; i < a.size(); ++i)
              a[i] = pattern == 0 ? ad(rng) : pattern == 1 ? 0 : pattern == 2 ? 255 : (i % 2 ? 255 : 0);
            for (size_t i = 0; i < w.size(); ++i)
              w[i] = pattern == 0 ? wd(rng) : pattern == 3 ? (i % 2 ? 127 : -127) : -127;
            if (!run(a, w, m, k, n)) return;
            if (pattern == 1) {  // a = 0 everywhere: one -128 weight, then all of them
              w[w.size() / 2] = -128;
              if (!run(a, w, m, k, n)) return;
              std::fill(w.begin(), w.end(), -128);
              if (!run(a, w, m, k, n)) return;
            }
          }
  });
}
TEST_CASE("gemm: widths 9..16 (generic path) including int64 results") {
  Executor ex(1);
  std::mt19937 rng(9);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (GemmMethod method : methods_here(IntFormat{16, true}, IntFormat{16, true}))
      for (int ab : {3, 9, 12, 15, 16})
        for (int wb : {2, 8, 13, 16})
          for (int signs = 0; signs < 4; ++signs) {
            const IntFormat af{ab, (signs & 1) != 0}, wf{wb, (signs & 2) != 0};
            for (Fill fill : {Fill::kRandom, Fill::kMin, Fill::kMax})
              if (!check_case(method, af, wf, 3, 129, 17, fill, rng, ex)) return;
          }
  });
}

TEST_CASE("gemm: large K with extreme values stays exact in int64") {
  // 8-bit x 8-bit over K = 70000 exceeds int32 for all-min operands: the int8
  // path must split K into exact passes.
  Executor ex(1);
  std::mt19937 rng(1);
  for (GemmMethod method : methods_here(IntFormat{8, true}, IntFormat{8, true}))
    CHECK(check_case(method, IntFormat{8, true}, IntFormat{8, true}, 1, 70000, 3, Fill::kMin, rng,
                     ex));
  CHECK(check_case(parse_method("int16"), IntFormat{16, true}, IntFormat{16, true}, 2, 5000, 3,
                   Fill::kMin, rng, ex));
  // Column-paired nibbles recover a block's sums as (raw - low) / 16, exact
  // while 16 x them fits int32: K = 70000 takes two passes at their bound
  // (u8 x s4 extremes), 40 columns a lone last block, int32 output too.
  const IntFormat u8{8, false}, s4{4, true};
  for (GemmMethod method : methods_here(u8, s4))
    for (Fill fill : {Fill::kMax, Fill::kMin, Fill::kAlternate}) {
      CAPTURE(method_name(method));
      CHECK(check_fills(method, u8, s4, 2, 70000, 40, Fill::kMax, fill, rng, ex));
    }
}

TEST_CASE("gemm: long K split into cache panels that start at odd K units") {
  // K = 1300 is 325 units of 4: the dot tiles' L1 panels start at odd units,
  // so int4's nibble pairs straddle a panel edge (the odd first unit and the
  // lone last one take its single-unit path).
  Executor ex(1);
  std::mt19937 rng(12);
  for (IntFormat af : {IntFormat{8, false}, IntFormat{5, true}})
    for (IntFormat wf : {IntFormat{4, true}, IntFormat{4, false}, IntFormat{2, true}})
      for (GemmMethod method : methods_here(af, wf)) {
        CAPTURE(method_name(method));
        for (size_t k : {1300, 1299, 2053})
          for (Fill fill : {Fill::kRandom, Fill::kMin, Fill::kMax})
            if (!check_case(method, af, wf, 5, k, 33, fill, rng, ex)) return;
      }
}

TEST_CASE("gemm: row tasks of one thread, their edges and a short last one, match the reference") {
  // One thread runs tasks of up to 240 rows (several threads: 80): 481 rows
  // are two whole tasks and one of a single row; 250 is one and 10.
  Executor ex(1);
  std::mt19937 rng(13);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat af : {IntFormat{4, false}, IntFormat{8, false}, IntFormat{1, false}})
      for (GemmMethod method : methods_here(af, IntFormat{4, true})) {
        CAPTURE(method_name(method));
        for (size_t m : {481, 250}) CHECK(check_case(method, af, IntFormat{4, true}, m, 67, 33, Fill::kRandom, rng, ex));
      }
  });
}

TEST_CASE("gemm: columns of stacked tiles over several K panels match the reference") {
  // A task's whole tiles of a column run in one call, its remaining rows in
  // another. 29 rows are at least two whole tiles and a rest for every tile
  // height (2 to 12 rows, pair tiles 10), and K = 1300 spans several L1
  // panels and int16-sum chunks, so every tile after the first starts from
  // the sums its own rows stored in the panel before. N = 16, 33 and 64 take
  // one, three and four vectors of columns.
  Executor ex(1);
  std::mt19937 rng(14);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat af : {IntFormat{4, false}, IntFormat{8, false}})
      for (GemmMethod method : methods_here(af, IntFormat{4, true})) {
        CAPTURE(method_name(method));
        for (size_t n : {16, 33, 64})
          CHECK(check_case(method, af, IntFormat{4, true}, 29, 1300, n, Fill::kRandom, rng, ex));
      }
  });
}

TEST_CASE("gemm: results are identical for 1 and 2 threads") {
  Executor one(1), two(2);
  std::mt19937 rng(4);
  const IntFormat af{4, false}, wf{3, true};
  const size_t m = 530, k = 300, n = 200;  // one thread: tasks of 240, 240, 50 rows; two: of 80
  const auto a = make_values(m * k, af, Fill::kRandom, rng);
  const auto w = make_values(n * k, wf, Fill::kRandom, rng);
  for (GemmMethod method : methods_here(af, wf)) {
    const PackedWeights p =
        PackedWeights::pack(MatrixView::of(w.data(), n, k), wf, af, method);
    std::vector<int32_t> c1(m * n), c2(m * n);
    gemm(MatrixView::of(a.data(), m, k), p, c1.data(), n, one);
    gemm(MatrixView::of(a.data(), m, k), p, c2.data(), n, two);
    CHECK(c1 == c2);
  }
}

TEST_CASE("gemm: sums handed to the epilogue per task (c_per_task) cover C once, leave C unwritten, need no C") {
  // With c_per_task each task's sums go to a per-thread buffer handed to the
  // epilogue (row m0 at its pointer, ldc apart), and the caller's C is not
  // written. The epilogue copies every tile it gets into `got`: each element
  // must arrive exactly once and equal the reference, on 1 and 2 threads,
  // for row tasks (M = 481: tasks of 240 and 80 rows, a short last one), a
  // GEMV split across columns (M = 1) and padded column blocks (N = 33).
  struct Copy {
    std::vector<int32_t>* got;
    std::vector<int>* seen;
    size_t n, ldc;
    static void fn(void* ctx, const void* c, size_t m0, size_t m1, size_t c0, size_t c1) {
      auto* self = static_cast<Copy*>(ctx);
      const auto* sums = static_cast<const int32_t*>(c);
      for (size_t m = m0; m < m1; ++m)
        for (size_t col = c0; col < c1; ++col) {
          (*self->got)[m * self->n + col] = sums[(m - m0) * self->ldc + col];
          ++(*self->seen)[m * self->n + col];
        }
    }
  };
  Executor one(1), two(2);
  std::mt19937 rng(21);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    const IntFormat af{4, false}, wf{4, true};
    for (GemmMethod method : methods_here(af, wf))
      for (const auto& [m, k, n] : {std::tuple<size_t, size_t, size_t>{481, 67, 33}, {1, 300, 200}})
        for (const Executor* ex : {&one, &two}) {
          CAPTURE(method_name(method));
          CAPTURE(m);
          CAPTURE(ex->threads());
          const auto a = make_values(m * k, af, Fill::kRandom, rng);
          const auto w = make_values(n * k, wf, Fill::kRandom, rng);
          const MatrixView av = MatrixView::of(a.data(), m, k), wv = MatrixView::of(w.data(), n, k);
          std::vector<int64_t> want(m * n);
          gemm_reference(av, wv, want.data(), n);
          const size_t ldc = (n + 15) / 16 * 16;
          std::vector<int32_t> c(m * ldc + 16, 12345), got(m * n, -1);
          std::vector<int> seen(m * n, 0);
          Copy copy{&got, &seen, n, ldc};
          GemmOptions options;
          options.c_block_padded = true;
          options.c_per_task = true;
          options.epilogue = {Copy::fn, &copy};
          const PackedWeights packed = PackedWeights::pack(wv, wf, af, method);
          gemm(av, packed, c.data(), ldc, *ex, options);
          CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
          CHECK(std::equal(got.begin(), got.end(), want.begin()));
          CHECK(std::all_of(c.begin(), c.end(), [](int32_t v) { return v == 12345; }));
          // No C at all: the same sums reach the epilogue.
          std::fill(got.begin(), got.end(), -1);
          std::fill(seen.begin(), seen.end(), 0);
          gemm(av, packed, static_cast<int32_t*>(nullptr), ldc, *ex, options);
          CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
          CHECK(std::equal(got.begin(), got.end(), want.begin()));
        }
  });
  // C may be left out only where nothing writes it.
  Executor ex(1);
  std::vector<int8_t> w(4 * 8, 1), a(2 * 8, 1);
  const PackedWeights p = PackedWeights::pack(MatrixView::of(w.data(), 4, 8), IntFormat{2, true}, IntFormat{2, true});
  const MatrixView av = MatrixView::of(a.data(), 2, 8);
  std::vector<int32_t> got(8, -1);
  std::vector<int> seen(8, 0);
  Copy copy{&got, &seen, 4, 16};
  GemmOptions per_task;
  per_task.c_per_task = true;
  per_task.epilogue = {Copy::fn, &copy};
  GemmOptions no_epilogue;
  no_epilogue.c_per_task = true;
  CHECK_THROWS_WITH_AS(gemm(av, p, static_cast<int32_t*>(nullptr), 4, ex), doctest::Contains("null data pointer"),
                       Error);
  CHECK_THROWS_WITH_AS(gemm(av, p, static_cast<int32_t*>(nullptr), 4, ex, no_epilogue),
                       doctest::Contains("null data pointer"), Error);
  CHECK_THROWS_WITH_AS(gemm(av, p, static_cast<int64_t*>(nullptr), 4, ex, per_task),
                       doctest::Contains("null data pointer"), Error);
  gemm(av, p, static_cast<int32_t*>(nullptr), 16, ex, per_task);
  CHECK(got == std::vector<int32_t>(8, 8));  // eight products of 1 x 1 per sum
}

TEST_CASE("gemm: bad arguments give clear errors") {
  Executor ex(1);
  std::vector<int8_t> w(4 * 8, 1), a(2 * 8, 1);
  const PackedWeights p =
      PackedWeights::pack(MatrixView::of(w.data(), 4, 8), IntFormat{2, true}, IntFormat{2, true});
  std::vector<int32_t> c(8);
  CHECK_THROWS_WITH_AS(gemm(MatrixView::of(a.data(), 2, 7), p, c.data(), 4, ex),
                       doctest::Contains("K = 7"), Error);
  a[3] = 2;  // outside s2 [-2, 1]
  CHECK_THROWS_WITH_AS(gemm(MatrixView::of(a.data(), 2, 8), p, c.data(), 4, ex),
                       doctest::Contains("value 2 at (0, 3)"), Error);
  CHECK_THROWS_AS(PackedWeights::pack(MatrixView::of(w.data(), 4, 8), IntFormat{0, true},
                                      IntFormat{2, true}),
                  Error);
  CHECK_THROWS_WITH_AS(PackedWeights::pack(MatrixView::of(w.data(), 4, 8), IntFormat{12, true},
                                           IntFormat{2, true}, parse_method("int8")),
                       doctest::Contains("at most 8 bits"), Error);
  CHECK_THROWS_AS(parse_method("simd"), Error);
  std::vector<int16_t> big(20000, 127);
  const PackedWeights wide = PackedWeights::pack(MatrixView::of(big.data(), 1, 20000),
                                                 IntFormat{16, true}, IntFormat{16, true});
  std::vector<int32_t> out(1);
  CHECK_THROWS_WITH_AS(gemm(MatrixView::of(big.data(), 1, 20000), wide, out.data(), 1, ex),
                       doctest::Contains("int64 overload"), Error);
}

TEST_CASE("gemm: GEMV split across columns by threads equals the reference and one thread") {
  // Few rows (M <= 3) with enough work for threads: the rows are packed once
  // and the tasks split the columns (swar/gemm.cc). The driver keeps work
  // estimated under ~20 us on the calling thread, so N is sized per method
  // and target for about 1.5 times that.
  const Executor one(1), two(2), three(3);
  const IntFormat af{4, false}, wf{3, true};
  const size_t k = 256;
  std::mt19937 rng(6);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (GemmMethod method : methods_here(af, wf)) {
      CAPTURE(method_name(method));
      const double rate = estimated_macs_per_us(method, af, wf);
      const size_t n = std::max<size_t>(64, static_cast<size_t>(30.0 * rate / k) / 64 * 64 + 64);
      std::vector<int8_t> w(n * k);
      for (auto& x : w) x = static_cast<int8_t>(static_cast<int>(rng() % 8) - 4);
      const MatrixView wv = MatrixView::of(w.data(), n, k);
      const PackedWeights p = PackedWeights::pack(wv, wf, af, method);
      for (size_t m : {1, 3}) {
        CAPTURE(m);
        REQUIRE(static_cast<double>(n * k) / rate > 20.0);
        std::vector<uint8_t> a(m * k);
        for (auto& x : a) x = static_cast<uint8_t>(rng() % 16);
        const MatrixView av = MatrixView::of(a.data(), m, k);
        std::vector<int64_t> want(m * n), got1(m * n), got2(m * n), got3(m * n);
        gemm_reference(av, wv, want.data(), n);
        gemm(av, p, got1.data(), n, one);
        gemm(av, p, got2.data(), n, two);
        gemm(av, p, got3.data(), n, three);
        CHECK(got1 == want);
        CHECK(got2 == want);
        CHECK(got3 == want);
      }
    }
  });
}

TEST_CASE("gemm: nibble weights are chosen only for weights beyond L1 as bytes, and not where unpacking takes VNNI's ports") {
  // int4 reads half int8's weight bytes and unpacks them in registers: it
  // pays where those bytes stream from beyond L1 (swar/kernels/dot_u8s8.cc),
  // so the automatic choice looks at the shape it packs. At exactly L1's size
  // the bytes still fit. Where VPDPBUSD shares its ports with the unpacking
  // (kDotSharesPorts: Intel's AVX-512 cores), or runs on 256-bit vectors
  // (AVX-VNNI), int8 is ahead everywhere.
  const IntFormat af{4, false}, wf{4, true};
  const GemmMethod int8 = parse_method("int8"), int4 = parse_method("int4");
  const size_t n = 16, k_fits = l1_data_cache_bytes() / n, k_beyond = k_fits + 4;
  const GemmShape fits{k_fits, n}, beyond{k_beyond, n};
  std::mt19937 rng(14);
  std::vector<int8_t> w(n * k_beyond);
  for (auto& x : w) x = static_cast<int8_t>(static_cast<int>(rng() % 16) - 8);
  std::vector<uint8_t> a(3 * k_beyond);
  for (auto& x : a) x = static_cast<uint8_t>(rng() % 16);
  const Executor one(1);
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    auto rate = [&](GemmMethod m, GemmShape s) { return estimated_macs_per_us(m, af, wf, s); };
    const FeatureSet f = kernel_features();
    // Measured ahead only with VNNI on 512-bit vectors on ports of their own
    // (Zen 4 and 5); emulated dot products, AVX-VNNI (0.70x int8) and shared
    // ports never.
    const bool int4_pays = (f & kByteDot) && (f & kVectors512) && !(f & kDotSharesPorts);
    if (!int4_pays) {
      CHECK(rate(int4, fits) < rate(int8, fits));
      CHECK(rate(int4, beyond) < rate(int8, beyond));
      CHECK(rate(int4, GemmShape{}) < rate(int8, GemmShape{}));
      if (!(f & kByteDot)) return;
    } else {
      CHECK(rate(int4, fits) < rate(int8, fits));
      CHECK(rate(int4, beyond) > rate(int8, beyond));
      CHECK(rate(int4, GemmShape{}) > rate(int8, GemmShape{}));  // unknown: taken as beyond
    }
    for (const size_t k : {k_fits, k_beyond}) {
      CAPTURE(k);
      const MatrixView wv = MatrixView::of(w.data(), n, k), av = MatrixView::of(a.data(), 3, k);
      const PackedWeights p = PackedWeights::pack(wv, wf, af);  // automatic choice
      CHECK(p.method() == choose_method(af, wf, {k, n}));
      if (k == k_fits || !int4_pays) CHECK(p.method() != int4);
      else if (!(f & kAmxInt8)) CHECK(p.method() == int4);
      MESSAGE(target << ": " << n << " x " << k << " 4-bit weights packed for " << std::string(method_name(p.method())));
      std::vector<int64_t> want(3 * n), got(3 * n);
      gemm_reference(av, wv, want.data(), n);
      gemm(av, p, got.data(), n, one);
      CHECK(got == want);
    }
  });
}

TEST_CASE("gemm: bit-serial's estimate pays per plane pair, tile, column and gathered run") {
  // The estimate (swar/kernels/bitplane_popcount.cc) is one pass over K per
  // plane pair, a fixed cost per tile that K's words share and the packing
  // of the activations' planes that the N columns share: per value from
  // rows, per row and 56-bit read from gathered rows (a convolution's
  // implicit im2col, gathered_planes.h). Where that was measured (AVX3_DL,
  // Zen 4, bench/README.md, thirty-fifth session) the choice for gathered
  // rows follows the layers' times: LeNet's first convolution (runs of 8
  // bits, 6 columns) and ResNet's 16-channel ones (on Winograd, 1.4x the
  // direct GEMM) stay on the byte methods, ResNet's 32-channel stride-2 one
  // takes bit-serial at 1 bit (0.16 against 0.30 ms), none at 2 bits.
  const GemmMethod bitserial = parse_method("bitserial");
  const IntFormat u1{1, false}, s1{1, true}, u2{2, false}, s2{2, true};
  auto gathered = [](size_t k, size_t n, size_t run, double speedup = 1.0) {
    GemmShape shape{k, n};
    shape.gathered_run = run;
    shape.in_place_speedup = speedup;
    return shape;
  };
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    auto rate = [&](IntFormat a, IntFormat w, GemmShape shape) {
      return estimated_macs_per_us(bitserial, a, w, shape);
    };
    CHECK(rate(u1, s1, {784, 512}) > rate(u1, s2, {784, 512}));
    CHECK(rate(u1, s2, {784, 512}) > rate(u2, s2, {784, 512}));
    // Per MAC, two plane pairs cost less than twice one: the tile's fixed
    // cost is shared.
    CHECK(rate(u1, s2, {784, 512}) > rate(u1, s1, {784, 512}) / 2);
    CHECK(rate(u1, s1, {64, 512}) < rate(u1, s1, {768, 512}));  // both whole words: the tile cost alone
    CHECK(rate(u1, s1, {784, 512}) < rate(u1, s1, {8192, 512}));
    CHECK(rate(u1, s1, {784, 64}) < rate(u1, s1, {784, 512}));  // planes packed for fewer columns
    CHECK(rate(u1, s1, {784, 9}) < rate(u1, s1, {784, 8}));      // a block of 8 columns mostly padding
    CHECK(estimated_macs_per_us(bitserial, u1, s1, {}) == rate(u1, s1, {784, 512}));  // unknown shape
    // Gathered: a read per run of up to 56 bits, so short runs cost more.
    CHECK(rate(u1, s1, gathered(288, 32, 8)) < rate(u1, s1, gathered(288, 32, 48)));
    CHECK(rate(u1, s1, gathered(240, 32, 60)) < rate(u1, s1, gathered(240, 32, 48)));  // two reads a run
    if (target != "AVX3_DL") return;
    CAPTURE(target);
    // 1 bit (binary weights) and 2 bits, as the layers quantize them.
    for (const auto& [a, w] : {std::pair{u1, IntFormat{1, false}}, std::pair{u2, s2}}) {
      CAPTURE(a.to_string() + " x " + w.to_string());
      CHECK(method_reads_gathered(choose_method_in_place(a, w, gathered(40, 6, 8))));          // LeNet conv1
      CHECK(method_reads_gathered(choose_method_in_place(a, w, gathered(144, 16, 48, 1.4))));  // ResNet, Winograd
      const GemmMethod strided = choose_method_in_place(a, w, gathered(288, 64, 96));          // ResNet, stride 2
      CHECK((strided == bitserial) == (a.bits == 1));
    }
  });
}

TEST_CASE("gemm: in place at 1 x 1 bit, int7 counts its int16 sums: a convolution's pixels are never a GEMV") {
  // int7's estimate leaves its int16 pair sums out at 1 x 1 bit so that
  // dense layers, which may be GEMVs, stay on bit-serial (its 1-bit weights
  // win those). Convolutions used the same estimate, and ResNet's 64-channel
  // ones went to bit-serial on AVX2 at 1 bit, 12-27% slower than int7 in place.
  const GemmMethod int7 = parse_method("int7"), bitserial = parse_method("bitserial");
  const IntFormat u1{1, false}, s1{1, true};
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    CAPTURE(target);
    // int8 with VNNI; Arm's SDOT has no int16 sums.
    if (!(kernel_features() & kByteMulAdd) || (kernel_features() & kByteDot)) return;
    for (const IntFormat w : {u1, s1}) {
      GemmShape many{576, 64}, one{576, 64};
      many.rows = GemmShape::Rows::kMany;
      one.rows = GemmShape::Rows::kOne;
      CHECK(estimated_macs_per_us(int7, u1, w, many) > estimated_macs_per_us(int7, u1, w, {576, 64}));
      CHECK(estimated_macs_per_us(int7, u1, w, one) == estimated_macs_per_us(int7, u1, w, {576, 64}));
      // Products whose calls may be GEMVs stay on bit-serial (a dense layer's
      // packing for single rows; ops/quantized_matmul.h keeps another for many).
      CHECK(choose_method(u1, w, {784, 512}) == bitserial);
      one.k = 784, one.n = 512;
      CHECK(choose_method(u1, w, one) == bitserial);
#if defined(__x86_64__)
      if (!(kernel_features() & kVectors256)) continue;
      // ResNet's 32- and 64-channel convolutions into 64 channels (measured).
      for (const GemmShape shape : {GemmShape{288, 64}, GemmShape{576, 64}}) {
        CAPTURE(shape.k);
        CHECK(method_reads_gathered(choose_method_in_place(u1, w, shape)));
      }
#endif
    }
  });
}

TEST_CASE("gemm: with AVX-VNNI, 1 x 1 bit GEMVs go to bit-serial, other products to int8") {
  // Measured on the AVX2 target with AVX-VNNI (bench/README.md, thirty-ninth
  // session): int8 / bit-serial 0.56-0.76 on GEMVs with K >= 300, 1.18 at
  // 1x64x64; from 2 rows int8 level or ahead.
  const IntFormat u1{1, false}, s1{1, true};
  int seen = 0;
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    if (target != "AVX2" || !avx_vnni_usable()) return;
    ++seen;
    for (const IntFormat w : {u1, s1})
      for (const GemmShape base : {GemmShape{784, 512}, GemmShape{512, 10}, GemmShape{300, 40}, GemmShape{64, 64}}) {
        CAPTURE(base.k);
        CAPTURE(base.n);
        GemmShape one = base, many = base;
        one.rows = GemmShape::Rows::kOne;
        many.rows = GemmShape::Rows::kMany;
        CHECK(choose_method(u1, w, one) == parse_method(base.k >= 300 ? "bitserial" : "int8"));
        CHECK(choose_method(u1, w, many) == parse_method("int8"));
        CHECK(choose_method(u1, w, base) == parse_method("int8"));  // rows unknown: as before
      }
  });
  if (seen == 0) MESSAGE("no AVX2 target with AVX-VNNI here");
}

TEST_CASE("gemm: on Intel's AVX-512 cores, GEMVs go to bit-serial, int4col or int4, other products to int8") {
  // Measured on Emerald Rapids (bench/README.md, thirty-ninth session), GOPS
  // on 1x784x512: int8 244-248 at every width, int4 252-254, int4col
  // 396-399, bit-serial 1x2 523, 3x1 404, 2x2 326, 4x4 97; on 1x784x64
  // int4 226-227, int4col 211-212, int8 209-210, bit-serial 2x1 397, 4x4 90.
  // Products whose rows are unknown or many keep their methods: int8
  // (64x784x512: 672, int4col 510-516, int4 509-518), bit-serial up to 2
  // plane pairs.
  int seen = 0;
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    const FeatureSet f = kernel_features();
    if (!(f & kDotSharesPorts) || (f & kAmxInt8)) return;
    ++seen;
    CAPTURE(target);
    const struct {
      size_t n;
      int a, w;
      const char* gemv;
    } cases[] = {{512, 1, 2, "bitserial"}, {512, 3, 1, "bitserial"}, {512, 2, 2, "int4col"}, {512, 1, 4, "int4col"},
                 {512, 2, 3, "int4col"},   {512, 4, 4, "int4col"},   {64, 2, 1, "bitserial"}, {64, 4, 4, "int4"}};
    for (const auto& c : cases) {
      CAPTURE(c.n);
      CAPTURE(c.a);
      CAPTURE(c.w);
      GemmShape one{784, c.n}, many{784, c.n};
      one.rows = GemmShape::Rows::kOne;
      many.rows = GemmShape::Rows::kMany;
      const IntFormat a{c.a, false}, w{c.w, true};
      CHECK(choose_method(a, w, one) == parse_method(c.gemv));
      const GemmMethod gemm = choose_method(a, w, many);
      CHECK(gemm == parse_method(c.a * c.w <= 2 ? "bitserial" : "int8"));
      CHECK(choose_method(a, w, {784, c.n}) == gemm);
    }
  });
  if (seen == 0) MESSAGE("no target here on an Intel AVX-512 core without AMX");
}

TEST_CASE("gemm: the dot methods' estimates count the columns their blocks compute") {
  // The dot kernels compute N rounded up to whole vectors of int32 lanes: on
  // AVX-512 N = 10 computes 16 and N = 24 computes 32 (measured at K = 144:
  // 280, 571 and 462 GOPS at N = 10, 16 and 24); with 8 lanes N = 6
  // computes 8, with 4 lanes (NEON, SSE4) N = 10 computes 12.
  const IntFormat u4{4, false}, s4{4, true};
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    CAPTURE(target);
    const FeatureSet f = kernel_features();
    const size_t lanes = (f & kVectors512) ? 16 : (f & kVectors256) ? 8 : 4;
    auto computed = [&](size_t n) { return static_cast<double>((n + lanes - 1) / lanes * lanes); };
    for (const char* name : {"int8", "int4", "int16"}) {
      const GemmMethod m = parse_method(name);
      auto rate = [&](size_t n) { return estimated_macs_per_us(m, u4, s4, {144, n}); };
      for (size_t n : {6, 10, 24})
        CHECK(rate(n) == doctest::Approx(rate(32) * static_cast<double>(n) / computed(n)));
      CHECK(rate(32) == doctest::Approx(rate(16)));
    }
  });
}

TEST_CASE("dot product on the packed kernels") {
  const std::vector<int8_t> a = {1, -2, 3, -4, 5}, w = {-1, 1, -1, 1, 7};
  // Hand-worked: -1 - 2 - 3 - 4 + 35 = 25.
  for (GemmMethod method : methods_here(IntFormat{4, true}, IntFormat{4, true}))
    CHECK(dot(MatrixView::of(a.data(), 1, 5), IntFormat{4, true}, MatrixView::of(w.data(), 1, 5),
              IntFormat{4, true}, method) == 25);
}

TEST_CASE("gemm: one vector of columns (16-column layers) at every tile height and K start") {
  // On AVX-512 one vector of columns runs tiles of 12 rows that read two K
  // units per load (swar/kernels/pair_tiles-inl.h): full tiles, short ones,
  // odd unit counts, panels that start at odd units (K = 1300), half tiles
  // (N <= 8) and a last column vector of a wider layer (N = 80) against the
  // reference.
  Executor ex(1);
  std::mt19937 rng(16);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat wf : {IntFormat{4, true}, IntFormat{8, true}, IntFormat{3, false}})
      for (GemmMethod method : methods_here(IntFormat{7, false}, wf)) {
        CAPTURE(method_name(method));
        for (size_t m : {1, 11, 12, 13, 25})
          for (size_t k : {4, 8, 20, 144, 1300})
            for (size_t n : {16, 13, 8, 80})
              if (!check_case(method, IntFormat{7, false}, wf, m, k, n, m == 25 ? Fill::kMax : Fill::kRandom, rng,
                              ex))
                return;
      }
  });
}

// Rows of an implicit im2col: row r is `segments` runs of `run` bytes at
// base + offsets[r] + s * stride. Whether `method` multiplying them where
// they lie (swar::ActivationGather) gives the reference's products of the
// same rows copied out, against n random columns of format wf -- and, with
// `sums`, each row's sum of values (ActivationGather::row_sums).
bool gathered_equals_copied(GemmMethod method, IntFormat af, IntFormat wf, const std::vector<uint8_t>& base,
                            const std::vector<int64_t>& offsets, size_t segments, size_t run, size_t stride,
                            size_t n, std::mt19937& rng, const Executor& ex, bool sums = false) {
  const size_t m = offsets.size(), k = segments * run;
  std::vector<uint8_t> rows(m * k);
  for (size_t r = 0; r < m; ++r)
    for (size_t s = 0; s < segments; ++s)
      std::copy_n(base.data() + offsets[r] + s * stride, run, rows.data() + r * k + s * run);
  const auto w = make_values(n * k, wf, Fill::kRandom, rng);
  const MatrixView wv = MatrixView::of(w.data(), n, k);
  std::vector<int64_t> want(m * n);
  gemm_reference(MatrixView::of(rows.data(), m, k), wv, want.data(), n);
  const PackedWeights p = PackedWeights::pack(wv, wf, af, method);
  swar::ActivationGather g;
  g.base = base.data();
  g.rows = m;
  g.segments = segments;
  g.run = run;
  g.segment_stride = stride;
  g.row_offset = offsets.data();
  std::vector<float> row_sums(m, -1.f);
  if (sums) g.row_sums = row_sums.data();
  std::vector<int32_t> got(m * n, -1);
  gemm(g, p, got.data(), n, ex);
  for (size_t i = 0; i < m * n; ++i)
    if (got[i] != want[i]) return false;
  for (size_t r = 0; sums && r < m; ++r)
    if (row_sums[r] != static_cast<float>(std::accumulate(rows.begin() + r * k, rows.begin() + (r + 1) * k, 0)))
      return false;
  return true;
}

TEST_CASE("gemm: gathered rows with at most 8 columns (rows in the lanes) equal the same rows copied") {
  // A convolution's rows: pixels `step` bytes apart along output rows of
  // `width` pixels, output rows `pitch` bytes apart -- runs of 4 or 8 bytes
  // load as vectors (up to 32 rows, then 16, the last block partial), other
  // steps, runs shorter than 8 (width 7) and rows out of order are gathered. Every unit of a row holds
  // `segments` runs of 8 bytes, as a folded kernel row does; 9 columns take
  // the column tiles (the boundary), 20 the column tiles for 16 and rows in
  // the lanes for the last 4.
  Executor ex(1);
  std::mt19937 rng(29);
  const IntFormat af{8, false};
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat wf : {IntFormat{4, true}, IntFormat{8, true}})
      for (GemmMethod method : methods_here(af, wf)) {
        if (!method_reads_gathered(method)) continue;
        CAPTURE(method_name(method));
        CAPTURE(wf.to_string());
        for (size_t step : {4, 8, 12})
          for (size_t width : {7, 28, 40})
            for (bool reversed : {false, true})
              for (size_t segments : {1, 5})
                for (size_t n : {1, 3, 6, 8, 9, 20}) {
                  const size_t run = 8, m = 3 * width + 5;
                  const size_t pitch = width * step + 20, stride = pitch;  // kernel rows: the next output row's bytes
                  std::vector<int64_t> offsets(m);
                  for (size_t r = 0; r < m; ++r) {
                    const size_t i = reversed ? m - 1 - r : r;
                    offsets[r] = static_cast<int64_t>(i / width * pitch + i % width * step);
                  }
                  const int64_t last = *std::max_element(offsets.begin(), offsets.end());
                  std::vector<uint8_t> base(static_cast<size_t>(last) + (segments - 1) * stride + run);
                  for (auto& x : base) x = static_cast<uint8_t>(rng());
                  const bool same =
                      gathered_equals_copied(method, af, wf, base, offsets, segments, run, stride, n, rng, ex);
                  CHECK_MESSAGE(same, "step " << step << " width " << width << " reversed " << reversed
                                              << " segments " << segments << " n " << n);
                  if (!same) return;
                }
      }
  });
}

TEST_CASE("gemm: bit-serial packs gathered rows' planes as it packs the rows copied, and sums them") {
  // Bit-serial joins each row's runs from the planes of the source bytes
  // (swar/kernels/gathered_planes.h), a vector of rows at a time: runs of 4
  // to 192 bytes (one to four 56-bit reads each), at any bit offset (the
  // offsets random, out of order, repeated), row counts that leave a last
  // partial vector, and K past 2048 (a row at a time). The byte methods fill
  // the sums too: int8 reading the rows in place, int16 copying them.
  Executor ex(1);
  std::mt19937 rng(41);
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat af : {IntFormat{1, false}, IntFormat{2, false}, IntFormat{5, false}, IntFormat{8, false}})
      for (IntFormat wf : {IntFormat{1, false}, IntFormat{2, true}, IntFormat{3, true}})
        for (const auto& [run, segments] : {std::pair<size_t, size_t>{4, 1}, {8, 5}, {40, 5}, {56, 2}, {60, 2},
                                            {96, 3}, {192, 3}, {600, 4}})
          for (size_t m : {1, 9, 33}) {
            const size_t stride = run + 12, span = 3 * m + 5;
            std::vector<uint8_t> base(span + (segments - 1) * stride + run);
            for (auto& x : base) x = static_cast<uint8_t>(rng() % (1u << af.bits));
            std::vector<int64_t> offsets(m);
            for (auto& o : offsets) o = static_cast<int64_t>(rng() % span);
            const size_t n = 9;  // a block of 8 columns and one more
            CAPTURE(af.to_string() + " x " + wf.to_string());
            CAPTURE(run);
            CAPTURE(segments);
            CAPTURE(m);
            const bool same = gathered_equals_copied(parse_method("bitserial"), af, wf, base, offsets, segments, run,
                                                     stride, n, rng, ex, true);
            CHECK(same);
            if (!same) return;
            if (af.bits != 8 || wf.bits == 1 || run > 200) continue;
            CHECK(gathered_equals_copied(parse_method("int8"), af, IntFormat{8, true}, base, offsets, segments, run,
                                         stride, n, rng, ex, true));
            CHECK(gathered_equals_copied(parse_method("int16"), af, IntFormat{8, true}, base, offsets, segments, run,
                                         stride, n, rng, ex, true));
          }
  });
}

TEST_CASE("gemm: activations gathered in place equal the same rows copied") {
  // An implicit im2col: each row is `segments` runs of `run` bytes. Runs of
  // one unit never hold a pair of units; runs of 3 units hold pairs that
  // straddle runs; with the stride equal to the run the units are contiguous.
  // K of 1..8 units with one or two vectors of columns takes the short-K
  // rows on AVX-512 (8 units: runs of 16 in 2 segments), 6 columns the half
  // pair tile.
  Executor ex(1);
  std::mt19937 rng(17);
  const IntFormat af{8, false};
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (IntFormat wf : {IntFormat{4, true}, IntFormat{8, true}})
      for (GemmMethod method : methods_here(af, wf)) {
        CAPTURE(method_name(method));
        for (size_t run : {4, 8, 12, 16})
          for (size_t stride_runs : {1, 2})
            for (size_t segments : {1, 2, 3, 9})
              for (size_t n : {6, 16, 32, 80}) {
                const size_t m = 25, stride = run * stride_runs + (stride_runs - 1) * 4;
                const size_t row_pitch = (segments - 1) * stride + run + 4;
                std::vector<uint8_t> base(m * row_pitch);
                for (auto& x : base) x = static_cast<uint8_t>(rng());
                std::vector<int64_t> offsets(m);
                for (size_t r = 0; r < m; ++r) offsets[r] = static_cast<int64_t>((m - 1 - r) * row_pitch);  // out of order
                const bool same =
                    gathered_equals_copied(method, af, wf, base, offsets, segments, run, stride, n, rng, ex);
                CHECK_MESSAGE(same, "run " << run << " stride " << stride << " segments " << segments << " n " << n);
                if (!same) return;
              }
      }
  });
}
