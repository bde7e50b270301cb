// GEMM driver: validation, packing, the split into parallel tasks, and the
// epilogue that removes operand biases. Kernels live in gemm_kernels.cc
// (SIMD, per target) and gemm_pack.cc (widemul, scalar).
#include "swar/gemm.h"

#include <vector>

#include <algorithm>
#include <atomic>
#include <limits>

#include "core/error.h"
#include "core/executor.h"
#include "swar/gemm_internal.h"
#include "swar/gemm_pack.h"
#include "swar/targets.h"

namespace bitlane::swar {
namespace {

using detail::PackedActivations;

// Parallel tasks. With enough rows, a task owns a block of rows: it packs
// them and computes all their columns, so packed rows stay in cache and one
// parallel region does everything. With few rows (GEMV), the rows are packed
// first and tasks also split the columns.
constexpr size_t kMaxTaskRows = 48;  // multiples of 4: every target's register-tile rows
constexpr size_t kTaskCols = 64;

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

struct TaskScratch {
  AlignedBuffer<int64_t> wide;
  AlignedBuffer<int32_t> narrow;
  AlignedBuffer<int64_t> sum;
};
TaskScratch& scratch() {
  thread_local TaskScratch s;
  return s;
}

void check_shapes(const MatrixView& a, const PackedWeights& w, const void* c, size_t ldc) {
  if (w.method() == GemmMethod::kAuto) fail("swar::gemm", "weights are not packed");
  if (a.cols != w.k())
    fail("swar::gemm", "activations have K = " + std::to_string(a.cols) +
                           " but the weights were packed for K = " + std::to_string(w.k()));
  if (a.stride < a.cols) fail("swar::gemm", "activation row stride is smaller than K");
  if (ldc < w.n()) fail("swar::gemm", "ldc is smaller than N");
  if (a.rows && w.n() && (!c || (a.cols && !a.data)))
    fail("swar::gemm", "null data pointer");
}

// How many K units one int32 pass may cover and still be exact (|sum| < 2^31).
size_t exact_units(const PackedWeights& w, IntFormat af) {
  const GemmMethod m = w.method();
  const int64_t amax = detail::max_abs_biased(detail::activation_bias(m, af), af);
  const int64_t wmax = detail::max_abs_biased(GemmAccess::w_bias(w), w.weight_format());
  const int64_t per_unit =
      amax * wmax * static_cast<int64_t>(m == GemmMethod::kInt8 ? detail::kInt8Group
                                                                : detail::kInt16Group);
  return static_cast<size_t>(std::numeric_limits<int32_t>::max() / std::max<int64_t>(1, per_unit));
}

// Writes c[m][n] = raw + corrections for the tile rows [m0, m1), cols [c0, c1).
template <class Out, class Raw>
void epilogue(const Raw* raw, size_t ldr, const PackedActivations& pa, const PackedWeights& w,
              size_t m0, size_t m1, size_t c0, size_t c1, Out* c, size_t ldc) {
  const int64_t ab = pa.bias, wb = GemmAccess::w_bias(w);
  const auto& col_sum = GemmAccess::col_sum(w);
  const int64_t kk = static_cast<int64_t>(w.k());
  for (size_t m = m0; m < m1; ++m) {
    const int64_t row_term = wb * pa.row_sum[m] + kk * ab * wb;
    const Raw* src = raw + (m - m0) * ldr;
    Out* dst = c + m * ldc;
    for (size_t n = c0; n < c1; ++n) {
      int64_t v = static_cast<int64_t>(src[n - c0]) + row_term;
      if (ab) v += ab * col_sum[n];
      // int32 results are computed modulo 2^32, exact whenever they fit.
      if constexpr (sizeof(Out) == 4)
        dst[n] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
      else
        dst[n] = v;
    }
  }
}

// Per-call state shared by the tasks of one GEMM.
struct CallState {
  PackedActivations pa;
  std::vector<int32_t> col_init, row_init;  // bias corrections mod 2^32 (int8/int16)
};

int32_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// Bias corrections as accumulator starting values, for int32 results.
void prepare_col_inits(CallState& st, const PackedWeights& w, size_t n_padded) {
  const int64_t ab = st.pa.bias, wb = GemmAccess::w_bias(w);
  const int64_t kk = static_cast<int64_t>(w.k());
  st.col_init.clear();
  st.row_init.clear();
  if (ab != 0 || wb != 0) {
    const auto& col_sum = GemmAccess::col_sum(w);
    st.col_init.assign(n_padded, 0);
    for (size_t n = 0; n < w.n(); ++n) st.col_init[n] = wrap32(ab * col_sum[n] + kk * ab * wb);
  }
  if (wb != 0) st.row_init.assign(st.pa.row_sum.size(), 0);
}

// Row part of the corrections, once the rows' sums are known.
void prepare_row_inits(CallState& st, const PackedWeights& w, size_t m0, size_t m1) {
  const int64_t wb = GemmAccess::w_bias(w);
  if (wb == 0) return;
  for (size_t m = m0; m < m1; ++m) st.row_init[m] = wrap32(wb * st.pa.row_sum[m]);
}

// One task: the tile rows [m0, m1) x cols [c0, c1) of C.
template <class Out>
void run_tile(const CallState& st, IntFormat af, const PackedWeights& w, size_t m0, size_t m1,
              size_t c0, size_t c1, Out* c, size_t ldc) {
  const PackedActivations& pa = st.pa;
  TaskScratch& s = scratch();
  const size_t cols = c1 - c0;
  const size_t ldo = ceil_div(cols, detail::block_width(w.method())) *
                     detail::block_width(w.method());
  const size_t rows = m1 - m0;
  switch (w.method()) {
    case GemmMethod::kBitSerial: {
      detail::BitSerialArgs g{static_cast<const uint64_t*>(pa.rows),
                              pa.row_stride,
                              GemmAccess::data(w).data(),
                              static_cast<size_t>(w.weight_format().bits) *
                                  GemmAccess::k_units(w) * detail::kBitSerialBlock,
                              GemmAccess::k_units(w),
                              af.bits,
                              w.weight_format().bits,
                              af.is_signed,
                              w.weight_format().is_signed};
      // Bit planes need no bias: the kernel writes C itself.
      detail::bitserial_kernel(g, m0, m1, c0, c0 + ldo,
                               detail::BitSerialOut{c, ldc, sizeof(Out) == 8, w.n()});
      return;
    }
    case GemmMethod::kInt8:
    case GemmMethod::kInt16: {
      const bool bytes = w.method() == GemmMethod::kInt8;
      const size_t width = bytes ? detail::kInt8Block : detail::kInt16Block;
      const size_t group = bytes ? detail::kInt8Group : detail::kInt16Group;
      detail::DotArgs g{pa.rows, pa.row_stride, GemmAccess::data(w).data(),
                        GemmAccess::k_units(w) * width * group * (bytes ? 1 : 2)};
      auto kernel = bytes ? detail::int8_kernel : detail::int16_kernel;
      const size_t units = GemmAccess::k_units(w);
      if constexpr (sizeof(Out) == 4) {
        // The kernel starts from the corrections and writes whole column
        // blocks straight into C; a last, partial block goes via scratch.
        g.col_init = st.col_init.empty() ? nullptr : st.col_init.data();
        g.row_init = st.row_init.empty() ? nullptr : st.row_init.data();
        const size_t direct_end = std::min(c0 + ldo, w.n() / width * width);
        if (direct_end > c0) kernel(g, m0, m1, c0, direct_end, 0, units, c + m0 * ldc + c0, ldc);
        if (direct_end < c1) {
          s.narrow.reserve_scratch(rows * width);
          kernel(g, m0, m1, direct_end, direct_end + width, 0, units, s.narrow.data(), width);
          for (size_t m = m0; m < m1; ++m)
            std::copy_n(s.narrow.data() + (m - m0) * width, c1 - direct_end,
                        c + m * ldc + direct_end);
        }
      } else {
        // Exact int64: int32 passes over K chunks that cannot overflow.
        const size_t chunk = std::max<size_t>(1, exact_units(w, af));
        s.narrow.reserve_scratch(rows * ldo);
        s.sum.reserve_scratch(rows * ldo);
        std::fill(s.sum.data(), s.sum.data() + rows * ldo, int64_t{0});
        for (size_t k = 0; k < units; k += chunk) {
          kernel(g, m0, m1, c0, c0 + ldo, k, std::min(units, k + chunk), s.narrow.data(), ldo);
          for (size_t i = 0; i < rows * ldo; ++i) s.sum[i] += s.narrow[i];
        }
        epilogue(s.sum.data(), ldo, pa, w, m0, m1, c0, c1, c, ldc);
      }
      return;
    }
    case GemmMethod::kWideMul: {
      s.wide.reserve_scratch(rows * cols);
      detail::widemul_kernel(pa, w, m0, m1, c0, c1, s.wide.data(), cols);
      epilogue(s.wide.data(), cols, pa, w, m0, m1, c0, c1, c, ldc);
      return;
    }
    case GemmMethod::kAuto: break;
  }
}

// Rough single-thread time in microseconds, from the measured throughput of
// each method (bench/README.md); only used to decide whether threads pay.
double estimated_us(const PackedWeights& w, IntFormat af, size_t m) {
  const double macs = static_cast<double>(m) * static_cast<double>(w.n()) * static_cast<double>(w.k());
  switch (w.method()) {
    case GemmMethod::kBitSerial: return macs * af.bits * w.weight_format().bits / 9.0e5;
    case GemmMethod::kInt8: return macs / 3.0e5;
    case GemmMethod::kInt16: return macs / 1.5e5;
    default: return macs / 5.0e3;
  }
}

// Starting a parallel region costs a few microseconds (waking workers);
// below this much work one thread is faster.
constexpr double kParallelMinUs = 20.0;

const Executor& inline_executor() {
  static const Executor one(1);
  return one;
}

template <class Out>
void run_gemm(const MatrixView& a, IntFormat af, const PackedWeights& w, Out* c, size_t ldc,
              const Executor& executor, const GemmOptions& options = {}) {
  const size_t m = a.rows, n = w.n();
  if (m == 0 || n == 0) return;
  const Executor& ex = estimated_us(w, af, m) < kParallelMinUs ? inline_executor() : executor;
  // Reused across calls: packing buffers are only allocated when they grow.
  // (A reference, because lambdas name thread_locals instead of capturing
  // them: worker threads would see their own, empty, instance.)
  thread_local CallState per_thread;
  CallState& st = per_thread;
  detail::prepare_activations(a, af, w, options, st.pa);
  const size_t width = detail::block_width(w.method());
  if constexpr (sizeof(Out) == 4) prepare_col_inits(st, w, ceil_div(n, width) * width);

  const size_t threads = static_cast<size_t>(ex.threads());
  // Rows per task: enough tasks for the threads (2 each), at most kMaxTaskRows.
  const size_t task_rows =
      std::min(kMaxTaskRows, std::max<size_t>(4, ceil_div(ceil_div(m, 2 * threads), 4) * 4));
  const size_t row_tasks = ceil_div(m, task_rows);
  std::atomic<bool> in_range{true};
  auto pack = [&](size_t m0, size_t m1) {
    if (!detail::pack_activation_rows(a, af, w, st.pa, m0, m1)) in_range = false;
    if constexpr (sizeof(Out) == 4) prepare_row_inits(st, w, m0, m1);
  };

  if (row_tasks >= 2 * threads || threads == 1) {
    ex.parallel_for(row_tasks, 1, [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) {
        const size_t m0 = t * task_rows, m1 = std::min(m, m0 + task_rows);
        pack(m0, m1);
        if (in_range) run_tile(st, af, w, m0, m1, 0, n, c, ldc);
      }
    });
  } else {
    pack(0, m);
    if (in_range) {
      const size_t task_cols = std::max(width, kTaskCols / width * width);
      const size_t col_tasks = ceil_div(n, task_cols);
      ex.parallel_for(row_tasks * col_tasks, 1, [&](size_t t0, size_t t1) {
        for (size_t t = t0; t < t1; ++t) {
          const size_t rt = t / col_tasks, ct = t % col_tasks;
          const size_t m0 = rt * task_rows, m1 = std::min(m, m0 + task_rows);
          const size_t c0 = ct * task_cols, c1 = std::min(n, c0 + task_cols);
          run_tile(st, af, w, m0, m1, c0, c1, c, ldc);
        }
      });
    }
  }
  // A packer saw a value outside the format: find and name it.
  if (!in_range) check_range(a, af, "activations");
}

// 16-bit x 16-bit int16 products can reach 2^31 per pair, which no exact int32
// pass can hold: split the activations into a high byte and a low byte.
bool needs_digit_split(const PackedWeights& w) {
  return w.method() == GemmMethod::kInt16 && exact_units(w, w.activation_format()) < 1;
}

void gemm_digit_split(const MatrixView& a, const PackedWeights& w, int64_t* c, size_t ldc,
                      const Executor& ex) {
  const IntFormat af = w.activation_format();
  const size_t m = a.rows, k = a.cols, n = w.n();
  std::vector<int16_t> hi(m * k), lo(m * k);
  for (size_t r = 0; r < m; ++r)
    for (size_t i = 0; i < k; ++i) {
      const int32_t v = a.at(r, i);
      lo[r * k + i] = static_cast<int16_t>(v & 0xFF);
      hi[r * k + i] = static_cast<int16_t>(v >> 8);  // arithmetic: floor(v / 256)
    }
  std::vector<int64_t> c_hi(m * n);
  run_gemm(MatrixView::of(lo.data(), m, k), IntFormat{8, false}, w, c, ldc, ex);
  run_gemm(MatrixView::of(hi.data(), m, k), IntFormat{af.bits - 8, af.is_signed}, w,
           c_hi.data(), n, ex);
  for (size_t r = 0; r < m; ++r)
    for (size_t i = 0; i < n; ++i) c[r * ldc + i] += 256 * c_hi[r * n + i];
}

}  // namespace

const char* method_name(GemmMethod m) {
  switch (m) {
    case GemmMethod::kAuto: return "auto";
    case GemmMethod::kBitSerial: return "bitserial";
    case GemmMethod::kInt8: return "int8";
    case GemmMethod::kInt16: return "int16";
    case GemmMethod::kWideMul: return "widemul";
  }
  return "?";
}

GemmMethod parse_method(std::string_view name) {
  for (GemmMethod m : {GemmMethod::kAuto, GemmMethod::kBitSerial, GemmMethod::kInt8,
                       GemmMethod::kInt16, GemmMethod::kWideMul})
    if (name == method_name(m)) return m;
  fail("GEMM method", "unknown method '" + std::string(name) +
                          "' (expected auto, bitserial, int8, int16 or widemul)");
}

PackedWeights PackedWeights::pack(const MatrixView& w, IntFormat w_format, IntFormat a_format,
                                  GemmMethod method) {
  apply_target_from_environment();
  validate(w_format, "weight format");
  validate(a_format, "activation format");
  if (w.rows && w.cols && !w.data) fail("swar::PackedWeights", "null weight data");
  if (w.stride < w.cols) fail("swar::PackedWeights", "weight row stride is smaller than K");
  check_range(w, w_format, "weights");
  PackedWeights p;
  p.method_ = method == GemmMethod::kAuto ? choose_method(a_format, w_format) : method;
  p.w_format_ = w_format;
  p.a_format_ = a_format;
  p.n_ = w.rows;
  p.k_ = w.cols;
  p.w_bias_ = detail::weight_bias(p.method_, w_format);
  switch (p.method_) {
    case GemmMethod::kBitSerial: detail::pack_weights_bitserial(w, p); break;
    case GemmMethod::kInt8:
      if (a_format.bits > 8 || w_format.bits > 8)
        fail("swar::PackedWeights", "the int8 method takes operands of at most 8 bits, got " +
                                        a_format.to_string() + " x " + w_format.to_string());
      detail::pack_weights_dot(w, p);
      break;
    case GemmMethod::kInt16: detail::pack_weights_dot(w, p); break;
    case GemmMethod::kWideMul: detail::pack_weights_widemul(w, p); break;
    case GemmMethod::kAuto: break;
  }
  return p;
}

void gemm(const MatrixView& a, const PackedWeights& w, int32_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options) {
  check_shapes(a, w, c, ldc);
  // Worst case |sum| = K * max|a| * max|w| must fit, or results would wrap.
  const long double bound = static_cast<long double>(w.k()) *
                            w.activation_format().max_magnitude() *
                            w.weight_format().max_magnitude();
  if (bound > std::numeric_limits<int32_t>::max())
    fail("swar::gemm", "K = " + std::to_string(w.k()) + " with " +
                           w.activation_format().to_string() + " x " +
                           w.weight_format().to_string() +
                           " can overflow int32; use the int64 overload");
  run_gemm(a, w.activation_format(), w, c, ldc, ex, options);
}

void gemm(const MatrixView& a, const PackedWeights& w, int64_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options) {
  check_shapes(a, w, c, ldc);
  if (needs_digit_split(w))
    gemm_digit_split(a, w, c, ldc, ex);
  else
    run_gemm(a, w.activation_format(), w, c, ldc, ex, options);
}

void gemm_reference(const MatrixView& a, const MatrixView& w, int64_t* c, size_t ldc) {
  if (a.cols != w.cols) fail("swar::gemm_reference", "K of A and W differ");
  // Operands widened to int32 once, so the loop below is the plain
  // definition with nothing in its way (whole models run on it in tests).
  const size_t K = a.cols;
  std::vector<int32_t> wide_w(w.rows * K), wide_a(K);
  for (size_t n = 0; n < w.rows; ++n)
    for (size_t k = 0; k < K; ++k) wide_w[n * K + k] = w.at(n, k);
  for (size_t m = 0; m < a.rows; ++m) {
    for (size_t k = 0; k < K; ++k) wide_a[k] = a.at(m, k);
    for (size_t n = 0; n < w.rows; ++n) {
      const int32_t* wr = wide_w.data() + n * K;
      int64_t sum = 0;
      for (size_t k = 0; k < K; ++k) sum += static_cast<int64_t>(wide_a[k]) * wr[k];
      c[m * ldc + n] = sum;
    }
  }
}

int64_t dot(const MatrixView& a, IntFormat a_format, const MatrixView& w, IntFormat w_format,
            GemmMethod method) {
  if (a.rows != 1 || w.rows != 1 || a.cols != w.cols)
    fail("swar::dot", "expects two vectors (1 x K views) of equal length");
  const PackedWeights p = PackedWeights::pack(w, w_format, a_format, method);
  int64_t result = 0;
  Executor inline_executor(1);
  gemm(a, p, &result, 1, inline_executor);
  return result;
}

}  // namespace bitlane::swar
