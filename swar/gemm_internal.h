// The insides of swar::gemm shared by the driver (gemm.cc), the method
// table (method_table.cc) and the methods (swar/kernels/*.cc). Not part of
// the public API.
//
// A method is one row of the table: how it lays out weights (packed once)
// and activations (packed per call, per task), which CPU features its kernel
// needs, roughly how fast it is, and the tile routine the driver's tasks
// call. Weight layouts are the same on every SIMD target, so packed weights
// survive a change of target; a method whose features go missing runs its
// `fallback` (same layout) instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/aligned_buffer.h"
#include "swar/cpu_features.h"
#include "swar/gemm.h"
#include "swar/kernels/gathered_planes.h"

namespace bitlane::swar::detail {

struct MethodSpec;

// What PackedWeights holds.
struct PackedData {
  const MethodSpec* method = nullptr;
  IntFormat w_format, a_format;
  size_t n = 0, k = 0;
  size_t k_units = 0;  // K in the method's packing unit (words, byte quads, pairs)
  int64_t w_bias = 0;  // stored w' = w - w_bias
  AlignedBuffer<uint64_t> data;
  std::vector<int64_t> col_sum;  // per output column: sum over k of w' (biased methods)
  // Dot methods: the columns' bias corrections (PackedActivations::col_init)
  // for activations biased by col_init_bias -- a_format's bias, which nearly
  // every call has -- computed once here instead of n of them per call (a
  // GEMV's set-up: 6% of the char LSTM at batch 1); empty when zero.
  std::vector<int32_t> col_init;
  int64_t col_init_bias = 0;
  // Byte weights (not nibbles): 128 x col_sum per column, padded to whole
  // blocks, and whether no stored byte is -128. Arm's int8 kernels flip the
  // activations' top bit (a - 128 is an s8) and start from these sums
  // instead of adding 128 x w every step (DotArgs::flip_init).
  std::vector<int32_t> flip_init;
  bool no_byte_min = false;
};

// The activations of one call, packed by the tasks (disjoint row ranges).
struct PackedActivations {
  IntFormat format;               // the values' format in this call
  AlignedBuffer<uint64_t> data;   // owned packed rows (unless `rows` points at the input)
  const void* rows = nullptr;     // first packed row: data.data() or the caller's matrix
  size_t row_stride = 0;          // in words (bitserial, widemul) or bytes (dot methods)
  std::vector<int64_t> row_sum;   // sum of a' per row (biased methods, when needed)
  int64_t bias = 0;               // a = a' + bias
  bool fast = false;              // vectorised packer (checks the range as it goes)
  bool in_place = false;          // `rows` is the caller's matrix
  bool need_sums = false;
  bool trusted = false;           // skip range checks the packer would not do anyway
  // Dot methods: the bias corrections as accumulator starting values (int32
  // results), acc(m, col) = col_inits[col] + row_init[m]; null / empty when
  // zero. col_inits points at the weights' precomputed corrections, or at
  // col_init when this call's bias differs.
  std::vector<int32_t> col_init, row_init;
  const int32_t* col_inits = nullptr;
  // Gathered in place (ActivationGather): row m's K unit k lies at
  // rows + row_offset[m] + unit_offset[k] bytes; null for packed rows.
  const int64_t* row_offset = nullptr;
  std::vector<uint32_t> unit_offset;
  // Gathered and packed by the method (MethodSpec::pack_gathered): the
  // source bytes' bit planes, built once per call.
  SourcePlanes source;
};

// One task of a GEMM: rows [m0, m1) x columns [c0, c1) of C (c0 a multiple
// of the method's block).
struct TileJob {
  const PackedActivations& a;
  const PackedData& w;
  size_t m0, m1, c0, c1;
  void* c;  // row m0 of C (a task's own rows: GemmOptions::c_per_task); row m at c + (m - m0) * ldc
  size_t ldc;
  bool wide;  // int64 results; else int32, exact modulo 2^32
  bool c_block_padded;  // GemmOptions::c_block_padded
};

struct MethodSpec {
  const char* name;     // "bitserial", "int8", ... (parse_method, --methods)
  const char* summary;  // what the kernel computes, one line
  size_t block;         // columns per weight block (tasks split columns at multiples)
  int dot_group;        // dot methods: K values per int32 lane; 0 for the others
  FeatureSet needs;     // every one must be present for the kernel to run
  const MethodSpec* fallback;  // same weight layout, runs when `needs` are missing
  // Operand widths the layout and kernel handle.
  bool (*supports)(IntFormat a, IntFormat w);
  // Multiply-accumulates per microsecond on one core with these features,
  // from bench/bitlane_kernels --methods all (bench/README.md). It chooses
  // the method and decides whether threads pay; only ratios matter.
  double (*macs_per_us)(IntFormat a, IntFormat w, FeatureSet have, GemmShape shape);
  void (*pack_weights)(const MatrixView& w, PackedData& p);
  // Chooses the layout of activations a (M x K) holding values of format
  // af (w's activation format, or narrower) and sizes the buffers;
  // pack_rows then packs rows [r0, r1) (returns false if a value lies
  // outside the format).
  void (*prepare_activations)(const MatrixView& a, IntFormat af, const PackedData& w,
                              const GemmOptions& options, PackedActivations& out);
  bool (*pack_rows)(const MatrixView& a, const PackedData& w, PackedActivations& out, size_t r0,
                    size_t r1);
  void (*run_tile)(const TileJob& job);
  // Multiplies unsigned bytes gathered in place (PackedActivations::row_offset).
  bool reads_gathered = false;
  // Or packs gathered rows itself, without copying them into rows first
  // (null: copied): prepare_gathered once per call, after
  // prepare_activations; pack_gathered per task, with the rows' sums when
  // the gather asks for them (ActivationGather::row_sums). Unsigned values
  // of at most 8 bits.
  void (*prepare_gathered)(const ActivationGather& g, const PackedData& w, const Executor& ex,
                           PackedActivations& out) = nullptr;
  void (*pack_gathered)(const ActivationGather& g, const PackedData& w, PackedActivations& out, size_t r0,
                        size_t r1) = nullptr;
};

// The rows, in the order ties are broken (method_table.cc).
std::span<const MethodSpec* const> method_table();
// The method that runs packed weights now: the packed one, or its fallback.
const MethodSpec& runnable(const MethodSpec& m, FeatureSet have);

// ------------------------------------------------------------ shared helpers

inline size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Row r of a view as int32 values.
void read_row(const MatrixView& v, size_t r, int32_t* dst);

// Whether every value of format f fits the view's element type, so that a
// vectorised packer can check the range with one unsigned comparison.
bool fits_type(ElemType t, IntFormat f);

inline int32_t wrap32(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

// Writes C = raw + the bias corrections for rows [m0, m1) x cols [c0, c1):
//   sum a*w = sum a'w' + w_bias * sum a' + a_bias * sum w' + K * a_bias * w_bias
// (int32 results modulo 2^32). `raw` holds the tile's sums, ldr apart.
template <class Raw>
void write_corrected(const Raw* raw, size_t ldr, const TileJob& job) {
  const int64_t ab = job.a.bias, wb = job.w.w_bias;
  const int64_t kk = static_cast<int64_t>(job.w.k);
  for (size_t m = job.m0; m < job.m1; ++m) {
    const int64_t row_term = (wb != 0 ? wb * job.a.row_sum[m] : 0) + kk * ab * wb;  // row sums only when wb != 0
    const Raw* src = raw + (m - job.m0) * ldr;
    for (size_t n = job.c0; n < job.c1; ++n) {
      int64_t v = static_cast<int64_t>(src[n - job.c0]) + row_term;
      if (ab) v += ab * job.w.col_sum[n];
      if (job.wide)
        static_cast<int64_t*>(job.c)[(m - job.m0) * job.ldc + n] = v;
      else
        static_cast<int32_t*>(job.c)[(m - job.m0) * job.ldc + n] = wrap32(v);
    }
  }
}

}  // namespace bitlane::swar::detail
