// The vectorised epilogues (ops/kernels/epilogue.h) against their scalar
// definition (epilogue_value, then clamp(round_half_even((y * inv + off) *
// half))) bit for bit, on every SIMD target: every form (activation,
// zero-point correction, residual), column counts around a vector and half
// a vector (narrow tiles take two rows per vector), odd row counts, column
// offsets inside the layer, outputs whose rows follow each other (packed
// row pairs), every output type, and grids that take a ReLU into their
// clamp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ops/kernels/epilogue.h"
#include "tests/simd_targets.h"

using namespace bitlane::ops::detail;

namespace {

template <typename T>
T requantize_scalar(float y, const RequantParams& q) {
  const float g = (y * q.inv_scale + q.offset) * q.half;
  return static_cast<T>(std::clamp(std::nearbyint(g), q.lo, q.hi));
}

struct Case {
  size_t rows, c0, c1;
  EpilogueAct act;
  bool row_scale, residual;
  bool back_to_back = false;  // outputs' rows follow each other (ldo = the tile's width)
};

// Runs every output kind of one case; false after reporting a difference.
bool check_case(const Case& k, std::mt19937& rng) {
  INFO("rows=" << k.rows << " cols [" << k.c0 << ", " << k.c1 << ") act=" << int(k.act) << " row_scale=" << k.row_scale << " residual=" << k.residual << " back_to_back=" << k.back_to_back);
  const size_t cols = k.c1 + 64;  // the padding the kernels may read
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::uniform_int_distribution<int32_t> acc_d(-40000, 40000);
  std::vector<float> scale(cols, 0.f), offset(cols, 0.f), row_scale(cols, 0.f);
  for (size_t c = 0; c < k.c1; ++c) scale[c] = u(rng) * 1e-3f, offset[c] = u(rng), row_scale[c] = u(rng) * 1e-2f;
  const size_t lda = std::max<size_t>(16, (k.c1 - k.c0 + 15) / 16 * 16) + 16 * (k.rows % 2);
  std::vector<int32_t> acc(k.rows * lda + 16);
  for (auto& v : acc) v = acc_d(rng);
  std::vector<float> ra(k.rows), res(k.rows * (k.c1 + 3));
  for (auto& v : ra) v = u(rng) * 100.f;
  for (auto& v : res) v = u(rng);
  EpilogueParams p{scale.data(), offset.data(), k.row_scale ? row_scale.data() : nullptr, k.act};
  EpilogueTile t{acc.data(), lda, k.rows, k.c0, k.c1, ra.data()};
  const size_t ldr = k.c1 + 3;
  if (k.residual) t.res = res.data(), t.ldr = ldr;
  const RequantParams q{7.5f, 3.f, 1.f, 0.f, 255.f}, qs{6.25f, 0.f, 1.f, -128.f, 127.f},
      q16{100.f, 0.f, 0.5f, -32768.f, 32767.f};
  // Grids whose zero is their lowest value (a ReLU's output, 4 bits; as
  // int8), where the kernels leave the ReLU to the clamp.
  const RequantParams q_low{7.5f, 0.f, 1.f, 0.f, 15.f}, qs_low{6.25f, -128.f, 1.f, -128.f, 127.f};

  // Outputs keep the layer's column numbering: element (r, c) at r * ldo + c,
  // with ldo past the tile or (back to back) its width; 16 guard elements.
  const size_t ldo = k.back_to_back ? k.c1 - k.c0 : k.c1 + 5, size = k.rows * ldo + k.c1 + 16;
  std::vector<float> want(size), got_f(size, -99.f);
  std::vector<bool> inside(size, false);
  for (size_t r = 0; r < k.rows; ++r)
    for (size_t c = k.c0; c < k.c1; ++c) {
      want[r * ldo + c] = epilogue_value(acc[r * lda + c - k.c0], c, ra[r], p, k.residual ? res.data() + r * ldr : nullptr);
      inside[r * ldo + c] = true;
    }
  std::vector<uint8_t> got_u8(size, 0xEE);
  std::vector<int8_t> got_i8(size, 0x5A);
  std::vector<int16_t> got_i16(size, 0x5A5A);
  std::vector<uint8_t> got_u8_low(size, 0xEE);
  std::vector<int8_t> got_i8_low(size, 0x5A);
  epilogue_to_f32(t, p, got_f.data(), ldo);
  epilogue_to_u8(t, p, q_low, got_u8_low.data(), ldo);
  epilogue_to_i8(t, p, qs_low, got_i8_low.data(), ldo);
  epilogue_to_u8(t, p, q, got_u8.data(), ldo);
  epilogue_to_i8(t, p, qs, got_i8.data(), ldo);
  epilogue_to_i16(t, p, q16, got_i16.data(), ldo);
  // Floats and an integer twin in one pass: each output as both kernels
  // above write it (u8 here, i16 with half steps below).
  std::vector<float> twin_f(size, -99.f), twin_f16(size, -99.f);
  std::vector<uint8_t> twin_u8(size, 0xEE);
  std::vector<int16_t> twin_i16(size, 0x5A5A);
  epilogue_to_f32_and_int(t, p, q, twin_f.data(), ldo, IntType::kU8, twin_u8.data(), ldo);
  epilogue_to_f32_and_int(t, p, q16, twin_f16.data(), ldo, IntType::kI16, twin_i16.data(), ldo);
  if (twin_f != got_f || twin_f16 != got_f || twin_u8 != got_u8 || twin_i16 != got_i16) {
    FAIL_CHECK("rows=" << k.rows << " cols [" << k.c0 << ", " << k.c1 << ") act=" << int(k.act) << " row_scale="
                       << k.row_scale << " residual=" << k.residual << ": floats + twin differ from the single kernels");
    return false;
  }
  for (size_t i = 0; i < size; ++i) {
    // Outside the tile nothing may be written.
    const float wf = inside[i] ? want[i] : -99.f;
    const uint8_t wu = inside[i] ? requantize_scalar<uint8_t>(want[i], q) : 0xEE;
    const int8_t wi = inside[i] ? requantize_scalar<int8_t>(want[i], qs) : 0x5A;
    const int16_t w16 = inside[i] ? requantize_scalar<int16_t>(want[i], q16) : 0x5A5A;
    const uint8_t wu_low = inside[i] ? requantize_scalar<uint8_t>(want[i], q_low) : 0xEE;
    const int8_t wi_low = inside[i] ? requantize_scalar<int8_t>(want[i], qs_low) : 0x5A;
    if (got_u8_low[i] != wu_low || got_i8_low[i] != wi_low) {
      FAIL_CHECK("rows=" << k.rows << " cols [" << k.c0 << ", " << k.c1 << ") act=" << int(k.act)
                         << " at element " << i << ", grids with zero at their lowest value: u8 "
                         << int(got_u8_low[i]) << " vs " << int(wu_low) << ", i8 " << int(got_i8_low[i]) << " vs "
                         << int(wi_low));
      return false;
    }
    if (std::memcmp(&got_f[i], &wf, 4) != 0 || got_u8[i] != wu || got_i8[i] != wi || got_i16[i] != w16) {
      FAIL_CHECK("rows=" << k.rows << " cols [" << k.c0 << ", " << k.c1 << ") act=" << int(k.act)
                         << " row_scale=" << k.row_scale << " residual=" << k.residual << " back_to_back="
                         << k.back_to_back << " at element " << i << " (row " << i / ldo << "): f32 " << got_f[i]
                         << " vs " << wf << ", u8 " << int(got_u8[i]) << " vs " << int(wu) << ", i8 "
                         << int(got_i8[i]) << " vs " << int(wi) << ", i16 " << got_i16[i] << " vs " << w16);
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("epilogue: every target, form and tile width matches the scalar definition bit for bit") {
  bitlane::test::for_each_simd_target([&](const std::string&) {
    std::mt19937 rng(3);
    bool ok = true;
    for (size_t width : {1, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33})
      for (size_t c0 : {0, 16})
        for (size_t rows : {1, 2, 5, 16})
          for (EpilogueAct act : {EpilogueAct::kNone, EpilogueAct::kRelu, EpilogueAct::kRelu6})
            for (int form = 0; form < 8 && ok; ++form)
              ok = check_case(Case{rows, c0, c0 + width, act, (form & 1) != 0, (form & 2) != 0, (form & 4) != 0}, rng);
    CHECK(ok);
  });
}

TEST_CASE("epilogue: values past the grid, past int32 and infinite clamp to the grid's ends on every target") {
  // y reaches the requantizer through a residual (scale and offset 0): the
  // grid's ends, halves around them, values past int32 (the conversion's
  // overflow) and infinities must give clamp(round_half_even(y), lo, hi) --
  // whichever order a kernel clamps and rounds in. NaN gives lo where the
  // float compare says so (x86's MAXPS / MINPS return their second operand).
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> ys = {-inf, -1e30f, -3e9f, -2147483904.f, -129.5f, -128.5f, -128.f, -0.5f, -0.f,
                                 0.f,  0.49f,  0.5f,  1.5f, 14.5f,  15.f,   15.5f,  126.5f, 127.5f, 200.f,
                                 2147483520.f, 3e9f, 1e30f, inf, nan};
  const size_t rows = ys.size(), cols = 16;
  std::vector<float> zero(cols + 64, 0.f), res(rows * cols);
  for (size_t r = 0; r < rows; ++r) std::fill_n(res.begin() + static_cast<long>(r * cols), cols, ys[r]);
  std::vector<int32_t> acc(rows * cols + 16, 0);
  const EpilogueParams p{zero.data(), zero.data(), nullptr, EpilogueAct::kNone};
  EpilogueTile t{acc.data(), cols, rows, 0, cols, nullptr};
  t.res = res.data(), t.ldr = cols;
  const RequantParams q4{1.f, 0.f, 1.f, 0.f, 15.f}, q8{1.f, 0.f, 1.f, -128.f, 127.f};
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    std::vector<uint8_t> u(rows * cols);
    std::vector<int8_t> s8(rows * cols);
    epilogue_to_u8(t, p, q4, u.data(), cols);
    epilogue_to_i8(t, p, q8, s8.data(), cols);
    const bool x86 = target.find("AVX") != std::string::npos || target.find("SSE") != std::string::npos;
    for (size_t r = 0; r < rows; ++r) {
      const float y = ys[r];
      if (std::isnan(y) && !x86) continue;
      INFO("y = " << y);
      const int want4 = std::isnan(y) ? 0 : static_cast<int>(std::clamp(std::nearbyint(y), 0.f, 15.f));
      const int want8 = std::isnan(y) ? -128 : static_cast<int>(std::clamp(std::nearbyint(y), -128.f, 127.f));
      for (size_t c = 0; c < cols; ++c) {
        CHECK(int{u[r * cols + c]} == want4);
        CHECK(int{s8[r * cols + c]} == want8);
      }
    }
  });
}

TEST_CASE("epilogue: 1- and 2-bit grids by thresholds on the sums give the float path's bits on every target") {
  // EpilogueSteps: the thresholds come from bisecting the scalar
  // definition; the kernels must then give, for every sum in the layer's
  // range, what the float epilogue gives -- here at each threshold and on
  // either side of it, at both ends of the range and at random, for grids of
  // 2, 3 and 4 integers (unsigned and signed, whole and half steps), every
  // activation, narrow tiles (two rows a vector) and wide ones, scales of 0.
  // Where the sums alone do not decide the output the thresholds are empty.
  std::mt19937 rng(11);
  const int64_t bound = 50000;
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::uniform_int_distribution<int32_t> acc_d(-bound, bound);
  const RequantParams grids[] = {{3.f, 0.f, 1.f, 0.f, 1.f},   {2.5f, 1.f, 1.f, 0.f, 2.f}, {1.7f, 1.f, 1.f, 0.f, 3.f},
                                 {4.f, -0.5f, 1.f, -2.f, 1.f}, {3.f, 0.f, 0.5f, 0.f, 1.f}};
  bitlane::test::for_each_simd_target([&](const std::string&) {
    for (size_t n : {1, 6, 8, 17, 33})
      for (EpilogueAct act : {EpilogueAct::kNone, EpilogueAct::kRelu, EpilogueAct::kRelu6})
        for (const RequantParams& q : grids) {
          std::vector<float> scale(n + 64, 0.f), offset(n + 64, 0.f);
          for (size_t c = 0; c < n; ++c) scale[c] = c == 2 ? 0.f : std::abs(u(rng)) * 1e-4f, offset[c] = u(rng);
          const EpilogueParams p{scale.data(), offset.data(), nullptr, act};
          const EpilogueSteps s = epilogue_steps(p, q, n, bound);
          REQUIRE(s.levels == static_cast<size_t>(q.hi - q.lo));
          // Rows: each column's thresholds -1, 0, +1, the range's ends, random sums.
          std::vector<int32_t> sums = {static_cast<int32_t>(-bound), static_cast<int32_t>(bound)};
          for (size_t c = 0; c < n; ++c)
            for (size_t j = 0; j < s.levels; ++j)
              for (int d : {-1, 0, 1}) sums.push_back(std::clamp<int32_t>(s.t[j * s.ld + c] + d, -bound, bound));
          for (int i = 0; i < 15; ++i) sums.push_back(acc_d(rng));
          const size_t rows = sums.size(), lda = n + 16;
          std::vector<int32_t> acc(rows * lda + 16);
          for (size_t r = 0; r < rows; ++r)
            for (size_t c = 0; c < n; ++c) acc[r * lda + c] = sums[(r + c) % rows];
          const EpilogueTile t{acc.data(), lda, rows, 0, n, nullptr};
          std::vector<uint8_t> want_u(rows * n), got_u(rows * n);
          std::vector<int8_t> want_s(rows * n), got_s(rows * n);
          if (q.lo >= 0) {
            epilogue_to_u8(t, p, q, want_u.data(), n);
            epilogue_steps_to_u8(t, s, got_u.data(), n);
          }
          epilogue_to_i8(t, p, q, want_s.data(), n);
          epilogue_steps_to_i8(t, s, got_s.data(), n);
          CAPTURE(n);
          CAPTURE(int(act));
          CAPTURE(q.hi);
          CAPTURE(q.half);
          CHECK(got_u == want_u);
          CHECK(got_s == want_s);
        }
    // Not for zero-point corrections, 5 integers or more, a negative scale.
    std::vector<float> one(80, 1.f), minus(80, -1.f);
    CHECK(epilogue_steps({one.data(), one.data(), one.data(), EpilogueAct::kNone}, grids[0], 8, bound).empty());
    CHECK(epilogue_steps({one.data(), one.data(), nullptr, EpilogueAct::kNone}, {1.f, 0.f, 1.f, 0.f, 4.f}, 8, bound)
              .empty());
    CHECK(epilogue_steps({minus.data(), one.data(), nullptr, EpilogueAct::kNone}, grids[0], 8, bound).empty());
  });
}
