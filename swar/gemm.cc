// GEMM driver: validation, the split into parallel tasks, and the calls into
// the method of the packed weights (swar/gemm_internal.h). What a method does
// lives in its row (swar/method_table.cc) and kernel file (swar/kernels/).
#include "swar/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/error.h"
#include "core/executor.h"
#include "swar/dot_family.h"
#include "swar/gemm_internal.h"
#include "swar/pack_kernels.h"
#include "swar/targets.h"

namespace bitlane::swar {
namespace {

using detail::ceil_div;
using detail::MethodSpec;
using detail::PackedActivations;
using detail::PackedData;

// Parallel tasks. With enough rows, a task owns a block of rows: it packs
// them and computes all their columns, so packed rows stay in cache and one
// parallel region does everything. With few rows (GEMV), the rows are packed
// first and tasks also split the columns.
// Multiples of 4, 8, 10 and 16: the register tiles' rows (pair tiles have 10:
// with 48, LeNet's convolutions ran a short 8-row tile per task; 80: LeNet
// 4-5% faster, ResNet and the kernel table unchanged).
constexpr size_t kMaxTaskRows = 80;
// On one thread (micro-batches run their GEMMs inline) no task has to be
// small enough to balance threads, and each one costs a kernel call with its
// set-up and an epilogue call: ResNet at 4 bits 3.5-4.5% faster with 240
// rows than with 80, LeNet 4% (320 and 480 alike). Also a multiple of 12 (the
// one-vector tiles on 32-register targets without pair tiles). With several
// threads, 240-row tasks lost 5-8% on 3136x576x64 (14 tasks for 2 threads:
// one straggling task is 7% of the work), so they keep 80.
constexpr size_t kMaxTaskRowsOneThread = 240;
constexpr size_t kTaskCols = 64;

// Starting a parallel region costs a few microseconds (waking workers);
// below this much work one thread is faster.
constexpr double kParallelMinUs = 20.0;

// Whether a call writes the caller's C (int32 calls with per-task sums do
// not, so they may pass none).
bool writes_c(const GemmOptions& o) { return !(o.c_per_task && o.epilogue.fn); }

void check_shapes(const MatrixView& a, const PackedWeights& w, const void* c, size_t ldc, bool c_needed = true) {
  if (w.method().automatic()) fail("swar::gemm", "weights are not packed");
  if (a.cols != w.k())
    fail("swar::gemm", "activations have K = " + std::to_string(a.cols) +
                           " but the weights were packed for K = " + std::to_string(w.k()));
  if (a.stride < a.cols) fail("swar::gemm", "activation row stride is smaller than K");
  if (ldc < w.n()) fail("swar::gemm", "ldc is smaller than N");
  if (a.rows && w.n() && ((c_needed && !c) || (a.cols && !a.data)))
    fail("swar::gemm", "null data pointer");
}

// Where the activations of one call come from: a matrix, or a producer that
// writes rows into a staging matrix as tasks need them.
struct Source {
  MatrixView view;                         // the matrix, or the staging matrix
  const ActivationRows* rows = nullptr;    // the producer, if any
  const ActivationGather* gather = nullptr;  // bytes multiplied in place, if any
  bool gather_packed = false;                // or packed by the method (pack_gathered)
  void produce(size_t r0, size_t r1) const {
    if (!rows) return;
    auto* base = static_cast<uint8_t*>(const_cast<void*>(view.data));
    rows->produce(rows->ctx, r0, r1, base + r0 * view.stride * elem_bytes(view.type), view.stride);
  }
};

// g.row_sums[r] for rows [r0, r1), when the gather asks for them.
void sum_gathered_rows(const ActivationGather& g, size_t r0, size_t r1) {
  if (!g.row_sums) return;
  int64_t runs[16];
  for (size_t r = r0; r < r1; ++r) {
    int64_t total = 0;
    for (size_t s0 = 0; s0 < g.segments; s0 += 16) {
      const size_t n = std::min<size_t>(16, g.segments - s0);
      detail::sum_byte_rows(g.base + g.row_offset[r] + s0 * g.segment_stride, n, g.run, g.segment_stride, 0, runs);
      for (size_t i = 0; i < n; ++i) total += runs[i];
    }
    g.row_sums[r] = static_cast<float>(total);
  }
}

// Runs a GEMM whose activations hold values of w's activation format, or of
// `af` (the digit split feeds bytes of wider activations).
void run_gemm(const Source& src, IntFormat af, const PackedData& packed, void* c, bool wide, size_t ldc,
              const Executor& executor, const GemmOptions& options = {}) {
  const MatrixView& a = src.view;
  const size_t m = a.rows, n = packed.n;
  if (m == 0 || n == 0) return;
  const FeatureSet have = kernel_features();
  const MethodSpec& method = detail::runnable(*packed.method, have);
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(packed.k);
  const Executor& ex = macs / method.macs_per_us(af, packed.w_format, have, {packed.k, n}) < kParallelMinUs
                           ? Executor::inline_executor()
                           : executor;
  // Reused across calls: packing buffers are only allocated when they grow.
  // (A reference, because lambdas name thread_locals instead of capturing
  // them: worker threads would see their own, empty, instance.)
  thread_local PackedActivations per_thread;
  PackedActivations& pa = per_thread;
  method.prepare_activations(a, af, packed, options, pa);
  pa.row_offset = nullptr;
  if (src.gather_packed) {
    method.prepare_gathered(*src.gather, packed, ex, pa);
  } else if (src.gather) {  // in place: the kernel reads each K unit where it lies
    const ActivationGather& g = *src.gather;
    const size_t per_run = g.run / 4;
    pa.unit_offset.resize(packed.k_units);
    for (size_t k = 0; k < packed.k_units; ++k)
      pa.unit_offset[k] = static_cast<uint32_t>((k / per_run) * g.segment_stride + (k % per_run) * 4);
    pa.rows = g.base;
    pa.row_offset = g.row_offset;
    pa.in_place = true;
  }
  const size_t width = method.block;

  const size_t threads = static_cast<size_t>(ex.threads());
  // Rows per task: enough tasks for the threads (2 each), at most
  // kMaxTaskRows (kMaxTaskRowsOneThread on one thread).
  const size_t task_rows = std::min(threads == 1 ? kMaxTaskRowsOneThread : kMaxTaskRows,
                                    std::max<size_t>(4, ceil_div(ceil_div(m, 2 * threads), 4) * 4));
  const size_t row_tasks = ceil_div(m, task_rows);
  std::atomic<bool> in_range{true};
  auto pack = [&](size_t m0, size_t m1) {
    if (src.gather_packed) {
      method.pack_gathered(*src.gather, packed, pa, m0, m1);
      return;
    }
    if (src.gather) {  // read in place: nothing to pack
      sum_gathered_rows(*src.gather, m0, m1);
      return;
    }
    src.produce(m0, m1);
    if (!method.pack_rows(a, packed, pa, m0, m1)) in_range = false;
  };
  const size_t c_bytes = wide ? sizeof(int64_t) : sizeof(int32_t);
  auto tile = [&](size_t m0, size_t m1, size_t c0, size_t c1) {
    void* tc;  // row m0 of the sums
    if (writes_c(options)) {
      tc = static_cast<uint8_t*>(c) + m0 * ldc * c_bytes;
    } else {
      // A few hundred rows' sums, rewritten by every task of the thread,
      // stay in cache; the whole call's C (ResNet's first convolutions: 400
      // KB of int32 per micro-batch of 8 images, 3.2 MB for 64) pushed the
      // layer's input and output out of L2.
      thread_local AlignedBuffer<uint8_t> own;
      own.reserve_scratch((m1 - m0) * ldc * c_bytes + 64);  // + the epilogue's whole-vector reads
      tc = own.data();
    }
    method.run_tile(detail::TileJob{pa, packed, m0, m1, c0, c1, tc, ldc, wide, options.c_block_padded});
    if (options.epilogue.fn) options.epilogue.fn(options.epilogue.ctx, tc, m0, m1, c0, c1);
  };

  if (row_tasks >= 2 * threads || threads == 1) {
    ex.parallel_for(row_tasks, 1, [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) {
        const size_t m0 = t * task_rows, m1 = std::min(m, m0 + task_rows);
        pack(m0, m1);
        if (in_range) tile(m0, m1, 0, n);
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
          tile(m0, m1, c0, c1);
        }
      });
    }
  }
  // A packer saw a value outside the format: find and name it.
  if (!in_range) check_range(a, af, "activations");
}

// The staging matrix of a producer, reused across calls: rows padded to a
// multiple of 4 values (every method's K unit, so unsigned bytes are
// already the int8 kernels' layout), plus 32 bytes of slack a producer may
// scribble on (ActivationRows).
Source staged(const ActivationRows& rows) {
  if (!rows.produce) fail("swar::gemm", "activation rows without a producer");
  thread_local AlignedBuffer<uint64_t> staging;
  const size_t eb = elem_bytes(rows.type);
  const size_t stride = ceil_div(std::max<size_t>(rows.cols, 1), 4) * 4 + 32 / eb;
  staging.reserve_scratch(std::max<size_t>(1, ceil_div(rows.rows * stride * eb, 8)));
  Source s;
  s.view = {staging.data(), rows.type, rows.rows, rows.cols, stride};
  s.rows = &rows;
  return s;
}

void run_gemm(const MatrixView& a, IntFormat af, const PackedData& packed, void* c, bool wide, size_t ldc,
              const Executor& executor, const GemmOptions& options = {}) {
  run_gemm(Source{a}, af, packed, c, wide, ldc, executor, options);
}

// 16-bit x 16-bit int16 products can reach 2^31 per pair, which no exact int32
// pass can hold: split the activations into a high byte and a low byte.
bool needs_digit_split(const PackedData& w) {
  return w.method->dot_group == 2 && detail::dot_exact_units(w, w.a_format, detail::kWords2) < 1;
}

void gemm_digit_split(const MatrixView& a, const PackedData& w, int64_t* c, size_t ldc, const Executor& ex) {
  const IntFormat af = w.a_format;
  const size_t m = a.rows, k = a.cols, n = w.n;
  std::vector<int16_t> hi(m * k), lo(m * k);
  for (size_t r = 0; r < m; ++r)
    for (size_t i = 0; i < k; ++i) {
      const int32_t v = a.at(r, i);
      lo[r * k + i] = static_cast<int16_t>(v & 0xFF);
      hi[r * k + i] = static_cast<int16_t>(v >> 8);  // arithmetic: floor(v / 256)
    }
  std::vector<int64_t> c_hi(m * n);
  run_gemm(MatrixView::of(lo.data(), m, k), IntFormat{8, false}, w, c, true, ldc, ex);
  run_gemm(MatrixView::of(hi.data(), m, k), IntFormat{af.bits - 8, af.is_signed}, w, c_hi.data(), true, n, ex);
  for (size_t r = 0; r < m; ++r)
    for (size_t i = 0; i < n; ++i) c[r * ldc + i] += 256 * c_hi[r * n + i];
}

}  // namespace

namespace detail {

void read_row(const MatrixView& v, size_t r, int32_t* dst) {
  auto copy = [&](const auto* base) {
    const auto* row = base + r * v.stride;
    for (size_t c = 0; c < v.cols; ++c) dst[c] = static_cast<int32_t>(row[c]);
  };
  switch (v.type) {
    case ElemType::kI8: copy(static_cast<const int8_t*>(v.data)); break;
    case ElemType::kU8: copy(static_cast<const uint8_t*>(v.data)); break;
    case ElemType::kI16: copy(static_cast<const int16_t*>(v.data)); break;
    case ElemType::kU16: copy(static_cast<const uint16_t*>(v.data)); break;
    case ElemType::kI32: copy(static_cast<const int32_t*>(v.data)); break;
  }
}

bool fits_type(ElemType t, IntFormat f) {
  switch (t) {
    case ElemType::kI8: return f.min_value() >= -128 && f.max_value() <= 127;
    case ElemType::kU8: return f.min_value() >= 0 && f.max_value() <= 255;
    case ElemType::kI16: return f.min_value() >= -32768 && f.max_value() <= 32767;
    case ElemType::kU16: return f.min_value() >= 0 && f.max_value() <= 65535;
    case ElemType::kI32: return false;
  }
  return false;
}

}  // namespace detail

PackedWeights::PackedWeights() = default;
PackedWeights::~PackedWeights() = default;
PackedWeights::PackedWeights(const PackedWeights&) = default;
PackedWeights::PackedWeights(PackedWeights&&) noexcept = default;
PackedWeights& PackedWeights::operator=(const PackedWeights&) = default;
PackedWeights& PackedWeights::operator=(PackedWeights&&) noexcept = default;

size_t PackedWeights::n() const { return d_ ? d_->n : 0; }
size_t PackedWeights::k() const { return d_ ? d_->k : 0; }
GemmMethod PackedWeights::method() const { return GemmMethod(d_ ? d_->method : nullptr); }
IntFormat PackedWeights::weight_format() const { return d_ ? d_->w_format : IntFormat{}; }
IntFormat PackedWeights::activation_format() const { return d_ ? d_->a_format : IntFormat{}; }
size_t PackedWeights::bytes() const { return d_ ? d_->data.size() * 8 + d_->col_sum.size() * 8 : 0; }

PackedWeights PackedWeights::pack(const MatrixView& w, IntFormat w_format, IntFormat a_format, GemmMethod method) {
  apply_target_from_environment();
  validate(w_format, "weight format");
  validate(a_format, "activation format");
  if (w.rows && w.cols && !w.data) fail("swar::PackedWeights", "null weight data");
  if (w.stride < w.cols) fail("swar::PackedWeights", "weight row stride is smaller than K");
  check_range(w, w_format, "weights");
  if (method.automatic()) method = choose_method(a_format, w_format, {w.cols, w.rows});
  if (!method.spec()->supports(a_format, w_format))
    fail("swar::PackedWeights", std::string("the ") + method.spec()->name + " method does not take " +
                                    a_format.to_string() + " x " + w_format.to_string() + " operands" +
                                    (method.spec()->dot_group == 4 ? " (at most 8 bits)" : ""));
  auto p = std::make_shared<detail::PackedData>();
  p->method = method.spec();
  p->w_format = w_format;
  p->a_format = a_format;
  p->n = w.rows;
  p->k = w.cols;
  method.spec()->pack_weights(w, *p);
  PackedWeights out;
  out.d_ = std::move(p);
  return out;
}

void gemm(const MatrixView& a, const PackedWeights& w, int32_t* c, size_t ldc, const Executor& ex,
          const GemmOptions& options) {
  check_shapes(a, w, c, ldc, writes_c(options));
  // Worst case |sum| = K * max|a| * max|w| must fit, or results would wrap.
  const long double bound = static_cast<long double>(w.k()) * w.activation_format().max_magnitude() *
                            w.weight_format().max_magnitude();
  if (bound > std::numeric_limits<int32_t>::max())
    fail("swar::gemm", "K = " + std::to_string(w.k()) + " with " + w.activation_format().to_string() + " x " +
                           w.weight_format().to_string() + " can overflow int32; use the int64 overload");
  run_gemm(a, w.activation_format(), w.data(), c, false, ldc, ex, options);
}

void gemm(const MatrixView& a, const PackedWeights& w, int64_t* c, size_t ldc, const Executor& ex,
          const GemmOptions& options) {
  check_shapes(a, w, c, ldc);
  if (needs_digit_split(w.data())) {
    gemm_digit_split(a, w.data(), c, ldc, ex);
    if (options.epilogue.fn) options.epilogue.fn(options.epilogue.ctx, c, 0, a.rows, 0, w.n());
  } else {
    run_gemm(a, w.activation_format(), w.data(), c, true, ldc, ex, options);
  }
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

void gemm(const ActivationRows& a, const PackedWeights& w, int32_t* c, size_t ldc, const Executor& ex,
          const GemmOptions& options) {
  const Source src = staged(a);
  check_shapes(src.view, w, c, ldc, writes_c(options));
  const long double bound = static_cast<long double>(w.k()) * w.activation_format().max_magnitude() *
                            w.weight_format().max_magnitude();
  if (bound > std::numeric_limits<int32_t>::max())
    fail("swar::gemm", "K = " + std::to_string(w.k()) + " with " + w.activation_format().to_string() + " x " +
                           w.weight_format().to_string() + " can overflow int32; use the int64 overload");
  GemmOptions o = options;
  o.zero_padded_rows = true;  // the producer's promises
  o.trusted_range = true;
  run_gemm(src, w.activation_format(), w.data(), c, false, ldc, ex, o);
}

void gemm(const ActivationRows& a, const PackedWeights& w, int64_t* c, size_t ldc, const Executor& ex,
          const GemmOptions& options) {
  const Source src = staged(a);
  check_shapes(src.view, w, c, ldc);
  if (needs_digit_split(w.data())) {
    src.produce(0, a.rows);  // the split reads the whole matrix
    gemm_digit_split(src.view, w.data(), c, ldc, ex);
    if (options.epilogue.fn) options.epilogue.fn(options.epilogue.ctx, c, 0, a.rows, 0, w.n());
    return;
  }
  GemmOptions o = options;
  o.zero_padded_rows = true;
  o.trusted_range = true;
  run_gemm(src, w.activation_format(), w.data(), c, true, ldc, ex, o);
}

bool packs_gathered(const PackedWeights& w) {
  if (w.method().automatic()) return false;
  const detail::MethodSpec& m = detail::runnable(*w.data().method, kernel_features());
  return m.pack_gathered && !w.activation_format().is_signed && w.activation_format().bits <= 8;
}

bool reads_gathered(const PackedWeights& w) {
  if (w.method().automatic()) return false;
  const detail::MethodSpec& m = detail::runnable(*w.data().method, kernel_features());
  // In place only while nothing needs biasing or row sums.
  return m.reads_gathered && w.data().w_bias == 0 && !w.activation_format().is_signed &&
         w.activation_format().bits <= 8;
}

namespace {
// n >= 4 bytes (a multiple of 4) from s to d in moves of fixed size, the last
// one overlapping the one before: a convolution's runs are short (LeNet's
// second: 40 bytes), and memcpy of a run-time size is a call each (that
// layer on bit-serial, before it packed gathered rows itself: 175 us
// gathered against 79 from a matrix, 147 with these moves; bench/README.md,
// thirty-fifth session). Nothing is read or written outside the n bytes.
template <size_t kMove>
inline void copy_in_moves(uint8_t* d, const uint8_t* s, size_t n) {
  for (size_t i = 0; i + kMove < n; i += kMove) std::memcpy(d + i, s + i, kMove);
  std::memcpy(d + n - kMove, s + n - kMove, kMove);
}
inline void copy_run(uint8_t* d, const uint8_t* s, size_t n) {
  if (n >= 32) copy_in_moves<32>(d, s, n);
  else if (n >= 16) copy_in_moves<16>(d, s, n);
  else if (n >= 8) copy_in_moves<8>(d, s, n);
  else std::memcpy(d, s, 4);
}

// Gathered rows copied into packed rows, for methods that cannot read them in place.
void copy_gathered(void* ctx, size_t r0, size_t r1, void* dst, size_t stride) {
  const auto* g = static_cast<const ActivationGather*>(ctx);
  auto* d = static_cast<uint8_t*>(dst);
  for (size_t r = r0; r < r1; ++r) {
    uint8_t* row = d + (r - r0) * stride;
    const uint8_t* src = g->base + g->row_offset[r];
    for (size_t s = 0; s < g->segments; ++s) copy_run(row + s * g->run, src + s * g->segment_stride, g->run);
  }
  sum_gathered_rows(*g, r0, r1);
}
}  // namespace

void gemm(const ActivationGather& a, const PackedWeights& w, int32_t* c, size_t ldc, const Executor& ex,
          const GemmOptions& options) {
  if (a.run % 4 || !a.row_offset || (a.rows && !a.base))
    fail("swar::gemm", "gathered activations need runs of a multiple of 4 bytes and row offsets");
  if (a.segments * a.run != w.k())
    fail("swar::gemm", "gathered activations have K = " + std::to_string(a.segments * a.run) +
                           " but the weights were packed for K = " + std::to_string(w.k()));
  const bool packed = packs_gathered(w);
  if (!packed && !reads_gathered(w)) {  // copied into rows, then the usual path
    ActivationRows rows;
    rows.type = ElemType::kU8;
    rows.rows = a.rows;
    rows.cols = a.segments * a.run;
    rows.produce = copy_gathered;
    rows.ctx = const_cast<ActivationGather*>(&a);
    gemm(rows, w, c, ldc, ex, options);
    return;
  }
  Source src;
  src.view = {a.base, ElemType::kU8, a.rows, a.segments * a.run, a.segments * a.run};
  src.gather = &a;
  src.gather_packed = packed;
  check_shapes(src.view, w, c, ldc, writes_c(options));
  const long double bound = static_cast<long double>(w.k()) * w.activation_format().max_magnitude() *
                            w.weight_format().max_magnitude();
  if (bound > std::numeric_limits<int32_t>::max())
    fail("swar::gemm", "K = " + std::to_string(w.k()) + " can overflow int32 with gathered activations");
  GemmOptions o = options;
  o.trusted_range = true;
  o.zero_padded_rows = true;
  run_gemm(src, w.activation_format(), w.data(), c, false, ldc, ex, o);
}

int64_t dot(const MatrixView& a, IntFormat a_format, const MatrixView& w, IntFormat w_format, GemmMethod method) {
  if (a.rows != 1 || w.rows != 1 || a.cols != w.cols)
    fail("swar::dot", "expects two vectors (1 x K views) of equal length");
  const PackedWeights p = PackedWeights::pack(w, w_format, a_format, method);
  int64_t result = 0;
  gemm(a, p, &result, 1, Executor::inline_executor());
  return result;
}

}  // namespace bitlane::swar
