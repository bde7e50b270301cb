// Packing of weights (once) and activations (per call) into the layouts of
// swar/gemm_internal.h, plus the bias bookkeeping that lets unsigned-times-
// signed hardware products serve every signedness:
//   a = a' + a_bias, w = w' + w_bias  =>
//   sum a*w = sum a'w' + w_bias * sum a' + a_bias * sum w' + K * a_bias * w_bias
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "swar/gemm.h"

namespace bitlane::swar {

// Friend of PackedWeights: the driver and packers reach its internals here.
struct GemmAccess {
  static GemmMethod& method(PackedWeights& p) { return p.method_; }
  static IntFormat& w_format(PackedWeights& p) { return p.w_format_; }
  static IntFormat& a_format(PackedWeights& p) { return p.a_format_; }
  static size_t& n(PackedWeights& p) { return p.n_; }
  static size_t& k(PackedWeights& p) { return p.k_; }
  static size_t& k_units(PackedWeights& p) { return p.k_units_; }
  static int64_t& w_bias(PackedWeights& p) { return p.w_bias_; }
  static int& lanes_per_word(PackedWeights& p) { return p.lanes_per_word_; }
  static int& field_bits(PackedWeights& p) { return p.field_bits_; }
  static AlignedBuffer<uint64_t>& data(PackedWeights& p) { return p.data_; }
  static std::vector<int64_t>& col_sum(PackedWeights& p) { return p.col_sum_; }

  static size_t k_units(const PackedWeights& p) { return p.k_units_; }
  static int64_t w_bias(const PackedWeights& p) { return p.w_bias_; }
  static int lanes_per_word(const PackedWeights& p) { return p.lanes_per_word_; }
  static int field_bits(const PackedWeights& p) { return p.field_bits_; }
  static const AlignedBuffer<uint64_t>& data(const PackedWeights& p) { return p.data_; }
  static const std::vector<int64_t>& col_sum(const PackedWeights& p) { return p.col_sum_; }
};

}  // namespace bitlane::swar

namespace bitlane::swar::detail {

// Column block width of a method's weight layout (1 for widemul).
size_t block_width(GemmMethod m);

// The bias the method subtracts from each operand before packing.
int64_t activation_bias(GemmMethod m, IntFormat a);
int64_t weight_bias(GemmMethod m, IntFormat w);
// Largest |a'| and |w'| after biasing.
int64_t max_abs_biased(int64_t bias, IntFormat f);

void pack_weights_bitserial(const MatrixView& w, PackedWeights& p);
void pack_weights_dot(const MatrixView& w, PackedWeights& p);  // int8 and int16
void pack_weights_widemul(const MatrixView& w, PackedWeights& p);

struct PackedActivations {
  AlignedBuffer<uint64_t> data;   // owned packed rows (unless `rows` points at the input)
  const void* rows = nullptr;     // first packed row: data.data() or the caller's matrix
  size_t row_stride = 0;          // in words (bitserial, widemul) or bytes (int8, int16)
  std::vector<int64_t> row_sum;   // sum of a' per row (biased methods, when needed)
  int64_t bias = 0;               // a = a' + bias
  bool fast = false;              // vectorised packer (checks the range as it goes)
  bool in_place = false;          // `rows` is the caller's matrix
  bool need_sums = false;
  bool trusted = false;           // skip range checks the packer would not do anyway
};

// Chooses the layout of a (M x K) for the weights' method and sizes the
// buffers; `a_format` is the format the values are in. Rows are then packed
// by pack_activation_rows, in parallel over disjoint row ranges.
void prepare_activations(const MatrixView& a, IntFormat a_format, const PackedWeights& w,
                         const GemmOptions& options, PackedActivations& out);
// Packs rows [r0, r1). Returns false if a value lies outside a_format.
bool pack_activation_rows(const MatrixView& a, IntFormat a_format, const PackedWeights& w,
                          PackedActivations& out, size_t r0, size_t r1);

// Widemul: exact sums of a'w' for rows [m0, m1) x cols [c0, c1).
void widemul_kernel(const PackedActivations& a, const PackedWeights& w, size_t m0, size_t m1,
                    size_t c0, size_t c1, int64_t* out, size_t ldo);

}  // namespace bitlane::swar::detail
