// Quantization plans: how each layer of a model is executed. A plan has
// defaults for every quantizable layer and per-layer overrides by node name;
// it comes from the model JSON ("quantization"), from text (the CLI's
// --quant, the C API) or from code, and is validated with errors that name
// where it came from.
//
// A layer plan is a scheme with its own options (one type per scheme, whose
// behaviour lives in quant/schemes/) plus the settings every quantized
// scheme shares (widths, weight grid, calibration). The settings tables
// (quant/settings.h) parse and print both forms.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "quant/terms.h"
#include "quant/trained_grid.h"

namespace bitlane::quant {

class Scheme;

enum class Granularity { kPerTensor, kPerChannel };
enum class Calibration { kMinMax, kPercentile, kMse };
// How a uniform weight grid is scaled: to the largest |w| of its channel
// (or tensor), or to the clipped range with the least squared error.
enum class WeightClip { kMax, kMse };

// The options of each scheme (quant/schemes/<scheme>.cc says what they mean).
struct Fp32Options {
  bool operator==(const Fp32Options&) const = default;
};
// Grids fixed by training (quant/trained_grid.h), used instead of weight
// scaling and activation calibration when present; otherwise the weights'
// grid is scaled by `weight_clip`.
struct UniformOptions {
  std::optional<TrainedGrid> weights, activations;
  WeightClip weight_clip = WeightClip::kMax;
  bool operator==(const UniformOptions&) const = default;
};
// Term quantization: weights keep `budget` terms per `group` values along the
// reduction axis; activations keep `activation_terms` terms per value, or
// with activation_group > 1 `activation_budget` terms per group.
struct TermOptions {
  TermEncoding encoding = TermEncoding::kBinary;
  int group = 16, budget = 10, activation_terms = 6, activation_group = 1, activation_budget = 0;
  bool operator==(const TermOptions&) const = default;
};
// DNA-TEQ: the search for base and width (base 0 = searched).
struct ExpOptions {
  double threshold = 0.01, base = 0;
  int min_bits = 3, max_bits = 8;
  bool histogram = false;  // run the exponent-domain dot product
  bool operator==(const ExpOptions&) const = default;
};
// Structured dynamic precision: keep `keep` of the 2 * `group` parts of each group.
struct SdpOptions {
  int group = 4, keep = 4;
  bool operator==(const SdpOptions&) const = default;
};
// DRQ-style regions: regions of `region` values (conv: region x region
// pixels) whose mean reaches `threshold` of the range keep 8 bits.
struct DrqOptions {
  int region = 4;
  double threshold = 0.25;
  bool operator==(const DrqOptions&) const = default;
};
// Which scheme, and its options. The order is the scheme registry's
// (quant/scheme.cc).
using SchemeOptions = std::variant<Fp32Options, UniformOptions, TermOptions, ExpOptions, SdpOptions, DrqOptions>;

struct LayerPlan {
  SchemeOptions options;    // fp32 by default
  int weight_bits = 8;      // 1..16
  int activation_bits = 8;  // 1..16
  Granularity weight_granularity = Granularity::kPerChannel;
  bool weight_symmetric = true;  // false: per-channel/tensor zero point
  // Activations are unsigned (zero point) when calibration saw no negative
  // value, symmetric signed otherwise; this forces signed symmetric.
  bool activation_symmetric = false;
  Calibration calibration = Calibration::kMinMax;
  double percentile = 99.99;  // for Calibration::kPercentile

  const Scheme& scheme() const;
  template <class O>
  bool is() const {
    return std::holds_alternative<O>(options);
  }
  template <class O>
  const O& get() const {
    return std::get<O>(options);
  }
  template <class O>
  O& get() {
    return std::get<O>(options);
  }
  bool quantized() const { return !is<Fp32Options>(); }
  // Needs calibration samples: quantized, and not on trained activation grids.
  bool needs_samples() const;
  // Runs on the swar/ integer kernels (uniform, term, sdp, drq).
  bool integer() const;
  bool operator==(const LayerPlan&) const = default;
  std::string to_string() const;  // "uniform w4a8 per-channel minmax"
};

struct QuantPlan {
  LayerPlan defaults;                       // every quantizable layer...
  std::map<std::string, LayerPlan> layers;  // ...unless overridden by node name
  bool first_fp32 = false;                  // keep the first quantizable layer in fp32
  bool last_fp32 = false;                   // keep the last one in fp32

  // The plan of the index-th of `count` quantizable layers, named `name`.
  LayerPlan for_layer(const std::string& name, int index, int count) const;
  bool any_quantized() const;
  bool needs_samples() const;  // some layer's plan needs calibration samples

  // JSON form (models/FORMAT.md): {"default": {...}, "layers": {"fc1": {...}},
  // "first": "fp32", "last": "fp32"}. `where` prefixes errors.
  static QuantPlan from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  // Text forms: "fp32", "8" (w8a8), "w4a8", "w4a8,first=fp32,last=fp32,calib=mse",
  // scheme settings as key=value ("scheme=term,w4a6,g=16,k=10,s=6,enc=hese"),
  // or JSON text. Items apply in any order, on top of `base`. Errors name
  // `where` (default: "plan '<spec>'").
  static QuantPlan from_text(std::string_view spec, const QuantPlan& base, const std::string& where = "");
};

// Parses one layer's settings on top of `base`; unknown keys and bad values
// are errors naming `where`.
LayerPlan parse_layer_plan(const nlohmann::json& j, const LayerPlan& base, const std::string& where);
nlohmann::json layer_plan_json(const LayerPlan& p);

}  // namespace bitlane::quant
