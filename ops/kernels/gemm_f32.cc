#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/kernels/gemm_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/kernels/gemm_f32.h"
#include "swar/kernels/register_tiles.h"

#include <algorithm>

#if defined(BITLANE_OPS_GEMM_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef BITLANE_OPS_GEMM_F32_INL_H_
#undef BITLANE_OPS_GEMM_F32_INL_H_
#else
#define BITLANE_OPS_GEMM_F32_INL_H_
#endif

HWY_BEFORE_NAMESPACE();
namespace bitlane::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using detail::F32Args;

// Vector v of packed weight columns (L lanes each): its K rows, kBlock apart.
inline const float* WeightColumn(const F32Args& g, size_t v, size_t L) {
  const size_t per_block = PackedF32::kBlock / L;
  return g.w->data.data() + static_cast<int64_t>(v / per_block) * g.w->k * PackedF32::kBlock + (v % per_block) * L;
}

// Where run s of A's row `row` starts (F32Args).
inline const float* RowRun(const F32Args& g, size_t row, int64_t s) {
  return g.row_offset ? g.a + g.row_offset[row] + g.run_offset[s]
                      : g.a + static_cast<int64_t>(row) * g.lda + s * g.seg;
}

template <int MR, int NV>
struct F32Tile {
  static void Run(size_t m, size_t v, const F32Args& g) {
    const hn::CappedTag<float, PackedF32::kBlock> d;
    const size_t L = hn::Lanes(d);
    const int64_t seg = g.seg;
    const float* wcol[tiles::kTileVecs] = {};
    for (int c = 0; c < NV; ++c) wcol[c] = WeightColumn(g, v + c, L);
#define BL_DECL(R, V) auto c##R##V = hn::Zero(d);
    BL_FOR_TILE(BL_DECL)
#undef BL_DECL
    for (int64_t s = 0; s < g.segments; ++s) {
      const float* arow[tiles::kTileRows] = {};
      for (int r = 0; r < MR; ++r) arow[r] = RowRun(g, m + r, s);
      for (int64_t kk = 0; kk < seg; ++kk) {
#define BL_LOAD_A(R) const auto a##R = hn::Set(d, (R < MR) ? arow[R < MR ? R : 0][kk] : 0.f);
        BL_FOR_ROWS(BL_LOAD_A)
#undef BL_LOAD_A
#define BL_LOAD_W(V)                                                                        \
  const auto w##V = (V < NV) ? hn::LoadU(d, wcol[V < NV ? V : 0] + kk * PackedF32::kBlock) \
                             : hn::Zero(d);
        BL_FOR_VECS(BL_LOAD_W)
#undef BL_LOAD_W
#define BL_STEP(R, V) \
  if constexpr (R < MR && V < NV) c##R##V = hn::MulAdd(a##R, w##V, c##R##V);
        BL_FOR_TILE(BL_STEP)
#undef BL_STEP
      }
      for (int c = 0; c < NV; ++c) wcol[c] += seg * PackedF32::kBlock;
    }
    const int64_t n = g.w->n;
#define BL_STORE(R, V)                                                       \
  if constexpr (R < MR && V < NV) Store(d, c##R##V, m + R, (v + V) * L, n, g);
    BL_FOR_TILE(BL_STORE)
#undef BL_STORE
  }

  template <class D, class V>
  static HWY_INLINE void Store(D d, V acc, size_t row, size_t col, int64_t n, const F32Args& g) {
    const size_t L = hn::Lanes(d);
    if (static_cast<int64_t>(col) >= n) return;
    float* dst = g.c + static_cast<int64_t>(row) * g.ldc + static_cast<int64_t>(col);
    const F32Epilogue& e = g.epilogue;
    const float* res = e.residual ? e.residual + static_cast<int64_t>(row) * e.ld_residual + col : nullptr;
    const size_t valid = std::min<size_t>(L, static_cast<size_t>(n) - col);
    if (valid == L) {  // the same operations as below (+0 without a bias), a vector at a time
      auto y = hn::Add(acc, g.bias ? hn::LoadU(d, g.bias + col) : hn::Zero(d));
      if (res) y = hn::Add(y, hn::LoadU(d, res));
      const auto zero = hn::Zero(d);
      if (e.act == Activation::kRelu) {
        y = hn::IfThenElse(hn::Gt(y, zero), y, zero);  // x > 0 ? x : 0 (NaN and -0 give +0)
      } else if (e.act == Activation::kRelu6) {       // std::clamp: NaN and -0 stay
        y = hn::IfThenElse(hn::Lt(y, zero), zero, y);
        const auto six = hn::Set(d, 6.f);
        y = hn::IfThenElse(hn::Lt(six, y), six, y);
      }
      hn::StoreU(y, d, dst);
      return;
    }
    HWY_ALIGN float lanes[hn::MaxLanes(d)];
    hn::Store(acc, d, lanes);
    for (size_t i = 0; i < valid; ++i) {
      float y = lanes[i] + (g.bias ? g.bias[col + i] : 0.f);
      if (res) y = y + res[i];
      dst[i] = apply_activation(e.act, y);
    }
  }
};

// Eight rows of one vector of columns (layers of <= 16 outputs on AVX-512):
// a 4 x 1 tile keeps only four FMA chains in flight, too few to cover the
// FMA's latency on two pipes (ResNet's 16-channel convolutions ran at half
// speed in F32Tile<4, 1>). Each output is the same chain as in F32Tile.
struct F32Rows8 {
  static void Run(size_t m, size_t v, const F32Args& g) {
    const hn::CappedTag<float, PackedF32::kBlock> d;
    const size_t L = hn::Lanes(d);
    const int64_t seg = g.seg;
    const float* wcol = WeightColumn(g, v, L);
    auto c0 = hn::Zero(d), c1 = hn::Zero(d), c2 = hn::Zero(d), c3 = hn::Zero(d);
    auto c4 = hn::Zero(d), c5 = hn::Zero(d), c6 = hn::Zero(d), c7 = hn::Zero(d);
    for (int64_t s = 0; s < g.segments; ++s, wcol += seg * PackedF32::kBlock) {
      const float *a0 = RowRun(g, m, s), *a1 = RowRun(g, m + 1, s), *a2 = RowRun(g, m + 2, s);
      const float *a3 = RowRun(g, m + 3, s), *a4 = RowRun(g, m + 4, s), *a5 = RowRun(g, m + 5, s);
      const float *a6 = RowRun(g, m + 6, s), *a7 = RowRun(g, m + 7, s);
      for (int64_t kk = 0; kk < seg; ++kk) {
        const auto w = hn::LoadU(d, wcol + kk * PackedF32::kBlock);
        c0 = hn::MulAdd(hn::Set(d, a0[kk]), w, c0);
        c1 = hn::MulAdd(hn::Set(d, a1[kk]), w, c1);
        c2 = hn::MulAdd(hn::Set(d, a2[kk]), w, c2);
        c3 = hn::MulAdd(hn::Set(d, a3[kk]), w, c3);
        c4 = hn::MulAdd(hn::Set(d, a4[kk]), w, c4);
        c5 = hn::MulAdd(hn::Set(d, a5[kk]), w, c5);
        c6 = hn::MulAdd(hn::Set(d, a6[kk]), w, c6);
        c7 = hn::MulAdd(hn::Set(d, a7[kk]), w, c7);
      }
    }
    const int64_t n = g.w->n;
    using Tile = F32Tile<1, 1>;
    Tile::Store(d, c0, m, v * L, n, g), Tile::Store(d, c1, m + 1, v * L, n, g);
    Tile::Store(d, c2, m + 2, v * L, n, g), Tile::Store(d, c3, m + 3, v * L, n, g);
    Tile::Store(d, c4, m + 4, v * L, n, g), Tile::Store(d, c5, m + 5, v * L, n, g);
    Tile::Store(d, c6, m + 6, v * L, n, g), Tile::Store(d, c7, m + 7, v * L, n, g);
  }
};

void GemmF32Rows(const F32Args& g, size_t m0, size_t m1, size_t col0, size_t col1) {
  const size_t L = hn::Lanes(hn::CappedTag<float, PackedF32::kBlock>());
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_NEON || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2
  constexpr int kRows = 4;
#elif HWY_TARGET == HWY_AVX2
  // 12 accumulators of 16 registers: GCC takes the weights as FMA memory
  // operands (ResNet fp32 on AVX2 -8%, the MLP -15% against 2 x 4 tiles).
  constexpr int kRows = 3;
#else
  constexpr int kRows = 2;
#endif
  const size_t v0 = col0 / L, v1 = (col1 + L - 1) / L;
  if (HWY_TARGET != HWY_SCALAR && v1 - v0 == 1) {
    for (; m0 + 8 <= m1; m0 += 8) F32Rows8::Run(m0, v0, g);
  }
  // Two vectors of columns (16-channel layers on AVX2) in 4 x 2 tiles: the
  // 2 x 2 tile kept four FMA chains in flight, half of what two FMA pipes
  // need (ResNet's 16-channel convolutions: 3.9 ms each on AVX2, 1.4 on AVX-512).
  if (kRows < 4 && v1 - v0 == 2) {
    tiles::for_each<F32Tile, 4, 2>(m0, m1, v0, v1, g);
    return;
  }
  tiles::for_each<F32Tile, kRows, 4>(m0, m1, v0, v1, g);
}

}  // namespace HWY_NAMESPACE
}  // namespace bitlane::ops
HWY_AFTER_NAMESPACE();

#endif

#if HWY_ONCE
#include "core/error.h"
#include "core/executor.h"

#include <string>

namespace bitlane::ops {

HWY_EXPORT(GemmF32Rows);

PackedF32 PackedF32::pack(const float* w, int64_t n, int64_t k) {
  PackedF32 p;
  p.n = n;
  p.k = k;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  p.data.resize(static_cast<size_t>(std::max<int64_t>(1, blocks * k * kBlock)));
  for (int64_t col = 0; col < n; ++col)
    for (int64_t kk = 0; kk < k; ++kk)
      p.data[static_cast<size_t>((col / kBlock) * k * kBlock + kk * kBlock + col % kBlock)] =
          w[col * k + kk];
  return p;
}

namespace {

void run_f32(const detail::F32Args& g, int64_t m, const Executor& ex) {
  const PackedF32& w = *g.w;
  if (m <= 0 || w.n <= 0) return;
  // Tasks of up to 32 rows x 64 columns; small products stay on this thread.
  constexpr int64_t kRows = 32, kCols = 64;
  const int64_t row_tasks = (m + kRows - 1) / kRows, col_tasks = (w.n + kCols - 1) / kCols;
  const double macs = static_cast<double>(m) * static_cast<double>(w.n) * static_cast<double>(w.k);
  auto body = [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      const int64_t rt = static_cast<int64_t>(t) / col_tasks, ct = static_cast<int64_t>(t) % col_tasks;
      const int64_t m0 = rt * kRows, c0 = ct * kCols;
      HWY_DYNAMIC_DISPATCH(GemmF32Rows)(g, static_cast<size_t>(m0),
                                        static_cast<size_t>(std::min(m, m0 + kRows)),
                                        static_cast<size_t>(c0),
                                        static_cast<size_t>(std::min(w.n, c0 + kCols)));
    }
  };
  const size_t tasks = static_cast<size_t>(row_tasks * col_tasks);
  if (macs < 2e6)
    body(0, tasks);
  else
    ex.parallel_for(tasks, 1, body);
}

}  // namespace

void gemm_f32(const float* a, int64_t m, int64_t lda, const PackedF32& w, const float* bias,
              float* c, int64_t ldc, const Executor& ex, const F32Epilogue& epilogue) {
  run_f32({a, lda, &w, bias, c, ldc, nullptr, nullptr, 1, w.k, epilogue}, m, ex);
}

void gemm_f32_gathered(const float* x, const int64_t* row_offset, const int64_t* run_offset, int64_t m,
                       int64_t segments, const PackedF32& w, const float* bias, float* c, int64_t ldc,
                       const Executor& ex, const F32Epilogue& epilogue) {
  if (segments < 1 || w.k % segments)
    fail("gemm_f32_gathered", std::to_string(segments) + " runs do not divide K = " + std::to_string(w.k));
  run_f32({x, 0, &w, bias, c, ldc, row_offset, run_offset, segments, w.k / segments, epilogue}, m, ex);
}

}  // namespace bitlane::ops
#endif
