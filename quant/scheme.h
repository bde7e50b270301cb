// A number format as layers use it: one Scheme per entry of SchemeOptions,
// each in its own file under quant/schemes/, with its settings table and its
// hooks. Ops, the cost report and the systolic estimator call these hooks;
// nothing outside quant/schemes/ switches on the scheme.
//
//   execution        how a layer under the scheme runs: float, the integer
//                    kernels (swar/), or the exponent domain (DNA-TEQ)
//   quantize_weights the weights as integers, with their grid per row
//   activation_*     the activations' grid for a calibrated range, and the
//                    integer format the GEMM sees after the run-time transform
//   transform        the run-time reduction of quantized activations (term
//                    truncation, SDP parts, DRQ regions); null for none
//   pairs_per_mac    the papers' cost; weight_bits_per_param its storage
//   pe_work          what one processing element of a systolic array does per
//                    step under the scheme (runtime/estimate)
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "quant/plan.h"
#include "quant/settings.h"
#include "quant/terms.h"
#include "quant/uniform.h"
#include "swar/int_format.h"

namespace bitlane::quant {

enum class Execution { kFloat, kInteger, kExponent };

// The PE integer layers with a uniform (or DRQ) plan use on the array.
enum class UniformPe {
  kBitParallel,  // b_w x b_x multiplier: 1 cycle per MAC
  kBitSerial,    // both operands bit-serial: b_w x b_x cycles per MAC
  kSerialData,   // bit-parallel weights, bit-serial data: b_x cycles per MAC
};

// One PE step of a scheme on a systolic array: the reduction values it
// consumes, its cycles, and its energy as multiples of the estimator's
// per-operation energies (runtime/estimate/estimate.h, Energies).
struct PeWork {
  std::string kind;      // "bit-parallel", "term", ...
  int64_t values = 1;    // reduction values per step
  double cycles = 1;     // cycles per step
  double mac8 = 0;       // 8 x 8-bit MACs (a b_w x b_x multiplier is b_w b_x / 64 of one)
  double fp32_macs = 0;  // float multiply-adds
  double bit_cycles = 0; // cycles of a bit-serial or term-pair PE
  double exp_ops = 0;    // exponent add + counter increment
  double weight_bits = 8, activation_bits = 8;  // storage per value (buffer traffic)
};

// Quantized activations laid out as `items` blocks of height x width
// positions of `channels` consecutive values (conv: NHWC images; dense:
// items = rows, height = width = 1). Groups run along the channels of one
// position; DRQ regions are height/width blocks (or runs of channels when
// height = width = 1).
struct ActivationLayout {
  int64_t items, height, width, channels;
  int64_t item_stride;  // elements between items (>= height * width * channels)
};

// A run-time transform of quantized activations, in place. Returns how many
// regions kept full precision (DRQ; 0 for the others) and adds the regions
// it looked at to *regions.
class ActivationTransform {
 public:
  virtual ~ActivationTransform() = default;
  virtual int64_t apply(uint8_t* data, const ActivationLayout& layout, int64_t* regions) const = 0;
  virtual int64_t apply(int8_t* data, const ActivationLayout& layout, int64_t* regions) const = 0;
  virtual int64_t apply(int16_t* data, const ActivationLayout& layout, int64_t* regions) const = 0;
};

class Scheme {
 public:
  virtual ~Scheme() = default;
  virtual const char* name() const = 0;
  // The scheme's options with their defaults (selects the scheme).
  virtual SchemeOptions defaults() const = 0;
  // The scheme's own settings (the common ones are common_settings()).
  virtual std::span<const Setting> settings() const = 0;
  virtual Execution execution() const = 0;
  // Consistency once every setting is in (may fix widths the scheme needs,
  // throw naming `where`).
  virtual void finish(LayerPlan& p, const std::string& where) const;
  // to_string after the scheme's name.
  virtual std::string describe(const LayerPlan& p) const;

  // Integer execution.
  // Weights [rows, cols] as integers; term groups stay within segments of
  // `segment` columns (a conv's input channels at one kernel position).
  virtual QuantizedWeights quantize_weights(const float* w, int64_t rows, int64_t cols, int64_t segment,
                                            const LayerPlan& p) const;
  // The activation grid for the calibrated range [lo, hi].
  virtual Affine activation_affine(float lo, float hi, const LayerPlan& p) const;
  // The integer format the GEMM sees after the run-time transform.
  virtual swar::IntFormat activation_storage(const Affine& a, const LayerPlan& p) const;
  virtual std::shared_ptr<const ActivationTransform> transform(const LayerPlan& p, const Affine& a) const;
  // How term pairs are counted (the scheme's encoding for term, binary else).
  virtual TermEncoding cost_encoding(const LayerPlan& p) const;

  // Cost. The papers' term pairs per multiply-accumulate (drq_sensitive:
  // measured share of full-precision regions, 0.5 when unknown), weight
  // storage in bits per parameter, and the PE step on a systolic array.
  virtual double pairs_per_mac(const LayerPlan& p, double drq_sensitive) const = 0;
  virtual double weight_bits_per_param(const LayerPlan& p) const;
  virtual PeWork pe_work(const LayerPlan& p, UniformPe uniform_pe, double drq_sensitive) const = 0;
};

// The registry, in SchemeOptions order.
std::span<const Scheme* const> all_schemes();
const Scheme& scheme_for(const SchemeOptions& options);
// By name ("term"); nullptr if there is none.
const Scheme* find_scheme(std::string_view name);

// Shared pieces of scheme implementations.
// Sign-magnitude activations with activation_bits of magnitude (term, sdp, drq).
Affine sign_magnitude_affine(float lo, float hi, int bits);
// The uniform PE step for b_w x b_x-bit integers.
PeWork uniform_pe_work(const LayerPlan& p, UniformPe pe);

// Applies f(T* data) for the three storage types of ActivationTransform.
template <class Derived>
class ActivationTransformBase : public ActivationTransform {
 public:
  int64_t apply(uint8_t* d, const ActivationLayout& l, int64_t* r) const override {
    return static_cast<const Derived*>(this)->run(d, l, r);
  }
  int64_t apply(int8_t* d, const ActivationLayout& l, int64_t* r) const override {
    return static_cast<const Derived*>(this)->run(d, l, r);
  }
  int64_t apply(int16_t* d, const ActivationLayout& l, int64_t* r) const override {
    return static_cast<const Derived*>(this)->run(d, l, r);
  }
};

}  // namespace bitlane::quant
