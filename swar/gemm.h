// Integer GEMM at any operand width: C (M x N) = A (M x K) * W^T, where W is
// N x K (one row per output, like torch.nn.Linear.weight). Weights are packed
// once (PackedWeights) for the activation format they will meet; activations
// are packed per call. Every method is bit-exact with gemm_reference().
//
// Methods are the rows of swar/method_table.cc (see swar/README.md for how
// each works and when it wins); the automatic choice picks the fastest one
// the CPU's features allow for the widths:
//   bitserial  AND + popcount over bit planes; cost grows with a_bits * w_bits
//   int8       operands widened to bytes, 4-way byte dot products (VNNI)
//   int7       activations <= 7 bits, byte pair products (PMADDUBSW, no VNNI)
//   amx        the int8 layout on AMX tiles (TDPBUSD), where the CPU has AMX
//   int4       weights of <= 4 bits as nibbles, unpacked into int8's products
//   int16      operands widened to 16 bits, 2-way dot products (PMADDWD)
//   widemul    several products per 64x64->128-bit multiply (SAMD); scalar
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "swar/int_format.h"

namespace bitlane {
class Executor;
}

namespace bitlane::swar {

namespace detail {
struct MethodSpec;
struct PackedData;
}  // namespace detail

// A GEMM method: a row of the method table, or automatic choice (the
// default-constructed value).
class GemmMethod {
 public:
  constexpr GemmMethod() = default;
  explicit constexpr GemmMethod(const detail::MethodSpec* spec) : spec_(spec) {}
  bool automatic() const { return spec_ == nullptr; }
  const detail::MethodSpec* spec() const { return spec_; }
  bool operator==(const GemmMethod&) const = default;

 private:
  const detail::MethodSpec* spec_ = nullptr;
};

const char* method_name(GemmMethod m);  // "auto" for automatic choice
// Parses "auto" or a method's name; throws naming the known ones otherwise.
GemmMethod parse_method(std::string_view name);
// Every method of the table, in table order.
const std::vector<GemmMethod>& all_methods();
// Whether the method's kernel can run on the current SIMD target (else its
// weights run on its fallback), and whether it handles the widths.
bool method_runs_here(GemmMethod m);
bool method_supports(GemmMethod m, IntFormat a, IntFormat w);
// What a method's estimate may know of a product beyond the widths: the
// weights' K and N (0: unknown, taken as weights too large for L1). The rows
// are left out: a layer's weights are packed before its batch size is known,
// and at the sizes measured the weights' bytes, not the rows, decide between
// methods that differ in how many bytes they read (dot_u8s8.cc, int4). All
// that is known of them is whether every call has one or many (rows).
struct GemmShape {
  size_t k = 0, n = 0;
  // What is known of every call's rows: nothing (kAny), one row (a layer's
  // packing for its GEMVs, ops/quantized_matmul.h) or many (a convolution's
  // output pixels read in place, choose_method_in_place; a layer's packing
  // for its calls of several rows). An estimate that favours a method for
  // its GEMVs does so unless the rows are many (dot_u8s8.cc, int7); one that
  // loses GEMVs says so only where they are one (int8 on AVX-VNNI).
  enum class Rows : uint8_t { kAny, kOne, kMany };
  Rows rows = Rows::kAny;
  // Rows gathered in place (choose_method_in_place): each is K / gathered_run
  // runs of gathered_run values (0: rows of a matrix). Bit-serial's cost of
  // packing them grows with the runs (swar/kernels/gathered_planes.h).
  size_t gathered_run = 0;
  // How much faster than its estimate a method that reads gathered rows in
  // place runs for this caller (a convolution's Winograd products: ops/
  // kernels/winograd.h, winograd_gain), against the methods that pack them.
  double in_place_speedup = 1.0;
  // Estimates that need a size take an unknown one as the reference shape
  // of bench/bitlane_kernels (64x784x512), where they were first calibrated.
  size_t k_or_reference() const { return k ? k : 784; }
  size_t n_or_reference() const { return n ? n : 512; }
};

// The method's speed estimate for these widths on the current target, in
// multiply-accumulates per microsecond on one core (only ratios mean much).
double estimated_macs_per_us(GemmMethod m, IntFormat a, IntFormat w, GemmShape shape = {});

// The method gemm uses for these formats (and weights of this shape) on the
// current SIMD target; PackedWeights::pack passes the shape it packs.
GemmMethod choose_method(IntFormat a, IntFormat w, GemmShape shape = {});
// The method for activations that can be gathered in place (an implicit
// im2col, gemm(ActivationGather)): the fastest by its estimate, where the
// methods that neither read them in place (int8, int7, int4) nor pack them
// from there (bit-serial) pay for copying them into rows first: kRowCopyUs
// per activation value, shared by the N columns. Fitted when bit-serial
// still took the copy, to ResNet's 3x3 convolutions at 1 bit against int8 in
// place (bench/README.md, nineteenth session: K = 576, N = 64 1.39x, 2.1x
// as a plain GEMM; K = 288, N = 32 0.64-0.77x, 1.8x as a plain GEMM).
inline constexpr double kRowCopyUs = 9e-5;
GemmMethod choose_method_in_place(IntFormat a, IntFormat w, GemmShape shape = {});
// Whether the method (as it runs on this target) can read gathered
// activations in place at all (reads_gathered below adds the conditions
// on the packed weights).
bool method_reads_gathered(GemmMethod m);

class PackedWeights {
 public:
  PackedWeights();
  ~PackedWeights();
  PackedWeights(const PackedWeights&);
  PackedWeights(PackedWeights&&) noexcept;
  PackedWeights& operator=(const PackedWeights&);
  PackedWeights& operator=(PackedWeights&&) noexcept;

  // Packs w (N x K). Values must lie in w_format (else bitlane::Error).
  static PackedWeights pack(const MatrixView& w, IntFormat w_format, IntFormat a_format,
                            GemmMethod method = GemmMethod());

  size_t n() const;
  size_t k() const;
  GemmMethod method() const;
  IntFormat weight_format() const;
  IntFormat activation_format() const;
  size_t bytes() const;
  // The packed layout, for swar's methods (gemm_internal.h).
  const detail::PackedData& data() const { return *d_; }

 private:
  std::shared_ptr<const detail::PackedData> d_;  // immutable once packed: copies share it
};

// Called after each finished tile, on the thread that computed it, while its
// sums are in cache: rows [m0, m1) x columns [c0, c1) of C are final, row m0
// at `c` (rows ldc apart: the caller's C, or a task's buffer with
// GemmOptions::c_per_task). Tiles cover C exactly once. (Fuses the caller's
// epilogue -- scaling, bias, activation, requantization -- into the GEMM's
// tasks.)
struct TileEpilogue {
  void (*fn)(void* ctx, const void* c, size_t m0, size_t m1, size_t c0, size_t c1) = nullptr;
  void* ctx = nullptr;
};

// Activations produced on demand instead of read from a matrix: when a task
// needs rows [r0, r1) of the M x K matrix, the driver asks for them, so that
// quantization or im2col runs per task while the rows are in cache. The
// producer writes row r at dst + (r - r0) * stride elements of `type`: K
// values followed by zeros up to a multiple of 4 values; what it writes in
// the 32 bytes after that (the stride has them to spare) is ignored. The
// values must lie in the weights' activation format: they are not checked.
struct ActivationRows {
  ElemType type = ElemType::kU8;
  size_t rows = 0, cols = 0;
  void (*produce)(void* ctx, size_t r0, size_t r1, void* dst, size_t stride) = nullptr;
  void* ctx = nullptr;
};

// Activations read where they lie (an implicit im2col): row m's K unsigned
// bytes are `segments` runs of `run` bytes (a multiple of 4), run s at
// base + row_offset[m] + s * segment_stride. Methods that read bytes in place
// (int8) multiply them there, bit-serial packs its planes from them
// (packs_gathered), the others get them copied into rows first. Values must
// lie in the activation format (not checked); the weights must not need an
// activation row sum (signed weights of at most 8 bits do not).
struct ActivationGather {
  const uint8_t* base = nullptr;
  size_t rows = 0, segments = 0, run = 0, segment_stride = 0;
  const int64_t* row_offset = nullptr;
  // When not null: row_sums[m] = the sum of row m's values, written before
  // the epilogue sees row m (a caller's zero-point corrections).
  float* row_sums = nullptr;
};

// Promises a caller can make to save a pass over the activations, and the
// per-tile epilogue.
struct GemmOptions {
  // Every activation lies in the format (e.g. produced by a clamping
  // quantizer): no range check.
  bool trusted_range = false;
  // Each row's K values are followed by zeros up to a multiple of 4 values
  // (within its stride), so unsigned bytes can be read in place even when K
  // is not a multiple of 4.
  bool zero_padded_rows = false;
  // C's rows may be written up to the next multiple of 16 columns past N
  // (ldc must be at least that): whole column blocks go straight into C.
  bool c_block_padded = false;
  TileEpilogue epilogue;
  // C only carries sums to the epilogue: every task writes its tile into a
  // per-thread buffer that stays in cache and hands that to the epilogue;
  // the caller's C is written only by the digit split of wide formats
  // (int64 C), which hands the epilogue all of C at once. So the int32
  // overloads take c = nullptr (ldc still spaces the rows of the sums the
  // epilogue gets); the int64 overloads need an M x ldc C. Needs an
  // epilogue.
  bool c_per_task = false;
};

// C = A * W^T. A's values must lie in the activation format the weights were
// packed for. The int32 overload throws if K * max|a| * max|w| could exceed
// int32; use the int64 overload then. Results do not depend on the executor's
// thread count.
void gemm(const MatrixView& a, const PackedWeights& w, int32_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});
void gemm(const MatrixView& a, const PackedWeights& w, int64_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});
// The same with activations produced per task, or gathered in place.
void gemm(const ActivationRows& a, const PackedWeights& w, int32_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});
void gemm(const ActivationGather& a, const PackedWeights& w, int32_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});
// Whether the method of these weights multiplies gathered activations in
// place, or packs them without a copy (else they are copied into rows first).
bool reads_gathered(const PackedWeights& w);
bool packs_gathered(const PackedWeights& w);
void gemm(const ActivationRows& a, const PackedWeights& w, int64_t* c, size_t ldc,
          const Executor& ex, const GemmOptions& options = {});

// The definition: plain loops, int64 accumulation.
void gemm_reference(const MatrixView& a, const MatrixView& w, int64_t* c, size_t ldc);

// Dot product of two integer vectors of equal length on the packed kernels.
int64_t dot(const MatrixView& a, IntFormat a_format, const MatrixView& w, IntFormat w_format,
            GemmMethod method = GemmMethod());

}  // namespace bitlane::swar
