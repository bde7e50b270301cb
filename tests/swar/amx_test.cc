// Method "amx" (swar/kernels/amx_tiles.h): the tile kernel runs on a scalar
// model of the AMX instructions (amx_emulator.h) on every machine, and on
// the CPU's AMX unit where it has one (else that part says it was skipped).
// References: a scalar loop over the dot kernel's contract (dot_family.h)
// for the kernel alone, gemm_reference through the whole method (packing,
// bias corrections, the partial last column block, int64 results).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "swar/cpu_features.h"
#include "swar/dot_family.h"
#include "swar/gemm.h"
#include "swar/gemm_internal.h"
#include "swar/kernels/amx_tiles.h"
#include "tests/swar/amx_emulator.h"

using namespace bitlane;
using namespace bitlane::swar;
using namespace bitlane::swar::detail;

namespace {

// The contract with plain loops over the packed layout: the reference, and
// the `rest` kernel whose rows it records.
size_t g_rest_rows = 0;
void scalar_dot_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                       int32_t* out, size_t ldo) {
  for (size_t m = m0; m < m1; ++m)
    for (size_t col = col0; col < col1; ++col) {
      uint32_t acc = (g.col_init ? static_cast<uint32_t>(g.col_init[col]) : 0) +
                     (g.row_init ? static_cast<uint32_t>(g.row_init[m]) : 0);
      const auto* a = static_cast<const uint8_t*>(g.a) + m * g.a_row_bytes;
      const auto* w = static_cast<const int8_t*>(g.w) + (col / 16) * g.w_block_bytes + (col % 16) * 4;
      for (size_t k = ku0; k < ku1; ++k)
        for (size_t i = 0; i < 4; ++i) acc += static_cast<uint32_t>(int32_t{a[4 * k + i]} * w[k * 64 + i]);
      out[(m - m0) * ldo + col - col0] = static_cast<int32_t>(acc);
    }
}
void rest_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                 int32_t* out, size_t ldo) {
  g_rest_rows += m1 - m0;
  scalar_dot_kernel(g, m0, m1, col0, col1, ku0, ku1, out, ldo);
}

void emulated_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                     int32_t* out, size_t ldo) {
  amx_dot_tiles<test::EmulatedTiles>(g, m0, m1, col0, col1, ku0, ku1, out, ldo, rest_kernel);
}
void hardware_kernel(const DotArgs& g, size_t m0, size_t m1, size_t col0, size_t col1, size_t ku0, size_t ku1,
                     int32_t* out, size_t ldo) {
  amx_int8_tiles(g, m0, m1, col0, col1, ku0, ku1, out, ldo, rest_kernel);
}

GemmMethod amx_method() { return parse_method("amx"); }

// One kernel call on random bytes against the scalar contract. Returns false
// after reporting a difference.
bool check_kernel(DotKernel kernel, size_t m, size_t blocks, size_t units, size_t ku0, size_t ku1, bool init,
                  size_t row_pad, std::mt19937& rng) {
  const size_t k = units * 4, n = blocks * 16;
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  std::vector<int32_t> w(n * k);
  for (auto& v : w) v = s8(rng);
  const PackedWeights p = PackedWeights::pack(MatrixView::of(w.data(), n, k), IntFormat{8, true},
                                              IntFormat{8, false}, amx_method());
  const size_t lda = k + row_pad;  // rows at any stride
  std::vector<uint8_t> a(m * lda);
  for (auto& v : a) v = static_cast<uint8_t>(u8(rng));
  // Starting values near the int32 limits, so sums wrap.
  std::vector<int32_t> col_init(n), row_init(m);
  for (auto& v : col_init) v = 2147000000 + s8(rng) * 1000;  // within 3.6e5 of the limit
  for (auto& v : row_init) v = s8(rng) * 100000;
  DotArgs g{a.data(), lda, p.data().data.data(), units * 64};
  if (init) g.col_init = col_init.data(), g.row_init = row_init.data();
  const size_t ldo = n + 16 * (m % 2);  // an output wider than the tile, now and then
  std::vector<int32_t> want(m * ldo, -7), got(m * ldo, -7);
  scalar_dot_kernel(g, 0, m, 0, n, ku0, ku1, want.data(), ldo);
  g_rest_rows = 0;
  test::EmulatedTiles::state().products = 0;
  kernel(g, 0, m, 0, n, ku0, ku1, got.data(), ldo);
  const size_t tiled = ku1 > ku0 && m >= 16 ? m / 16 * 16 : 0;
  CHECK_MESSAGE(g_rest_rows == m - tiled, "rows left to the rest kernel");
  if (kernel == emulated_kernel) {
    // One TDPBUSD per 16 x 16 result tile per step of 16 K quads: none wasted.
    const size_t steps = (ku1 - ku0 + 15) / 16;
    CHECK(test::EmulatedTiles::state().products == (tiled / 16) * blocks * steps);
  }
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < ldo; ++j)
      if (got[i * ldo + j] != want[i * ldo + j]) {
        FAIL_CHECK("M=" << m << " N=" << n << " K units=" << units << " [" << ku0 << ", " << ku1
                        << ") init=" << init << " row_pad=" << row_pad << " at (" << i << ", " << j
                        << "): " << got[i * ldo + j] << " != " << want[i * ldo + j]);
        return false;
      }
  return true;
}

void check_kernel_shapes(DotKernel kernel) {
  std::mt19937 rng(23);
  bool ok = true;
  for (size_t m : {1, 15, 16, 17, 31, 32, 33, 48, 64, 70})
    for (size_t blocks : {1, 2, 3, 4})
      for (size_t units : {1, 15, 16, 17, 33, 64})
        for (int range = 0; range < 3 && ok; ++range) {
          // The whole of K, a middle chunk (as the int64 path runs), nothing.
          const size_t ku0 = range == 1 ? units / 3 : 0;
          const size_t ku1 = range == 0 ? units : range == 1 ? units - units / 4 : 0;
          ok = check_kernel(kernel, m, blocks, units, ku0, ku1, (m + units) % 2 == 0, m % 3 == 0 ? 0 : 12, rng);
        }
}

// The whole method: packing, biases of signed activations and unsigned
// 8-bit weights, the last partial column block, int32 and int64 results.
bool check_method(DotKernel kernel, IntFormat af, IntFormat wf, size_t m, size_t k, size_t n, std::mt19937& rng) {
  const GemmMethod amx = amx_method();
  std::uniform_int_distribution<int64_t> da(af.min_value(), af.max_value()), dw(wf.min_value(), wf.max_value());
  std::vector<int32_t> a(m * k), w(n * k);
  for (auto& v : a) v = static_cast<int32_t>(da(rng));
  for (auto& v : w) v = static_cast<int32_t>(dw(rng));
  const MatrixView av = MatrixView::of(a.data(), m, k), wv = MatrixView::of(w.data(), n, k);
  std::vector<int64_t> want(m * n);
  gemm_reference(av, wv, want.data(), n);
  const PackedWeights p = PackedWeights::pack(wv, wf, af, amx);
  const MethodSpec& spec = *amx.spec();
  for (bool wide : {false, true}) {
    PackedActivations pa;
    spec.prepare_activations(av, af, p.data(), GemmOptions{}, pa);
    REQUIRE(spec.pack_rows(av, p.data(), pa, 0, m));
    std::vector<int32_t> c32(m * n, -1);
    std::vector<int64_t> c64(m * n, -1);
    void* c = wide ? static_cast<void*>(c64.data()) : static_cast<void*>(c32.data());
    run_dot_tile(TileJob{pa, p.data(), 0, m, 0, n, c, n, wide, false}, kernel, kBytes4);
    for (size_t i = 0; i < m * n; ++i) {
      const int64_t got = wide ? c64[i] : c32[i];
      if (got != want[i]) {
        FAIL_CHECK(af.to_string() << " x " << wf.to_string() << " M=" << m << " K=" << k << " N=" << n
                                  << (wide ? " int64" : " int32") << " at " << i << ": " << got
                                  << " != " << want[i]);
        return false;
      }
    }
  }
  return true;
}

void check_method_widths(DotKernel kernel) {
  std::mt19937 rng(31);
  const size_t shapes[][3] = {{16, 64, 16}, {33, 65, 17}, {48, 100, 40}, {17, 7, 33}, {64, 257, 64}};
  size_t s = 0;
  bool ok = true;
  for (int ab = 1; ab <= 8 && ok; ++ab)
    for (int wb = 1; wb <= 8 && ok; wb += (wb < 2 ? 1 : 3))
      for (int signs = 0; signs < 4 && ok; ++signs) {
        const auto& sh = shapes[s++ % std::size(shapes)];
        ok = check_method(kernel, IntFormat{ab, (signs & 1) != 0}, IntFormat{wb, (signs & 2) != 0}, sh[0], sh[1],
                          sh[2], rng);
      }
}

}  // namespace

TEST_CASE("amx: the tile kernel on emulated AMX matches the dot kernel contract") {
  check_kernel_shapes(emulated_kernel);
}

TEST_CASE("amx: the method on emulated AMX matches the reference for widths 1..8") {
  check_method_widths(emulated_kernel);
}

TEST_CASE("amx: the emulator rejects what the hardware rejects") {
  using test::EmulatedTiles;
  AmxTileConfig c = amx_tile_config();
  c.palette = 0;
  CHECK_THROWS(EmulatedTiles::configure(c));
  c = amx_tile_config();
  c.colsb[4] = 32;  // A tile of 8 K quads against B tiles of 16 rows
  EmulatedTiles::configure(c);
  CHECK_THROWS((EmulatedTiles::dpbusd<0, 4, 6>()));
  EmulatedTiles::release();
  CHECK_THROWS(EmulatedTiles::zero<0>());
}

TEST_CASE("amx: on the CPU's AMX unit, where there is one") {
  const bool usable = amx_usable();
  CHECK(method_runs_here(amx_method()) == (usable && (kernel_features() & kByteDot)));
  if (!usable) {
    MESSAGE("skipped: this CPU (or OS) grants no AMX-INT8 tiles; the kernel ran on the emulator only");
    CHECK(choose_method(IntFormat{4, false}, IntFormat{4, true}) != amx_method());
    return;
  }
  check_kernel_shapes(hardware_kernel);
  check_method_widths(hardware_kernel);
}
