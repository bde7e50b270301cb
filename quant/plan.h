// Quantization plans: how each layer of a model is executed. A plan has
// defaults for every quantizable layer and per-layer overrides by node name;
// it comes from the model JSON ("quantization"), the CLI (--quant, --bits) or
// the C API, and is validated with errors that name where it came from.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "quant/terms.h"

namespace bitlane::quant {

// fp32: float layer. uniform: uniform integers. term: term quantization
// (weights per group of g, activations per value). exponential: DNA-TEQ.
// sdp: structured dynamic precision on the activations. drq: DRQ-style
// region precision (8 bits in sensitive regions, 4 elsewhere).
enum class Scheme { kFp32, kUniform, kTerm, kExponential, kSdp, kDrq };
enum class Granularity { kPerTensor, kPerChannel };
enum class Calibration { kMinMax, kPercentile, kMse };

const char* scheme_name(Scheme s);
const char* calibration_name(Calibration c);

struct LayerPlan {
  Scheme scheme = Scheme::kFp32;
  int weight_bits = 8;      // 1..16
  int activation_bits = 8;  // 1..16
  Granularity weight_granularity = Granularity::kPerChannel;
  bool weight_symmetric = true;  // false: per-channel/tensor zero point
  // Activations are unsigned (zero point) when calibration saw no negative
  // value, symmetric signed otherwise; this forces signed symmetric.
  bool activation_symmetric = false;
  Calibration calibration = Calibration::kMinMax;
  double percentile = 99.99;  // for Calibration::kPercentile

  // term: weight_bits / activation_bits are magnitude bits (a sign comes on
  // top); weights keep `budget` terms per `group` values along the reduction
  // axis, activations `activation_terms` terms per value, or with
  // activation_group > 1 `activation_budget` terms per group.
  TermEncoding encoding = TermEncoding::kBinary;
  int group = 16, budget = 10, activation_terms = 6, activation_group = 1, activation_budget = 0;
  // exponential: the search settings (base 0 = searched).
  double exp_threshold = 0.01, exp_base = 0;
  int exp_min_bits = 3, exp_max_bits = 8;
  bool exp_histogram = false;  // run the exponent-domain dot product
  // sdp: keep sdp_keep of the 2 * sdp_group parts of each group.
  int sdp_group = 4, sdp_keep = 4;
  // drq: regions of drq_region values (conv: drq_region x drq_region pixels)
  // whose mean reaches drq_threshold of the range keep 8 bits.
  int drq_region = 4;
  double drq_threshold = 0.25;

  bool quantized() const { return scheme != Scheme::kFp32; }
  // Schemes that run on the swar/ integer kernels (all but fp32, exponential).
  bool integer() const { return quantized() && scheme != Scheme::kExponential; }
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

  // JSON form (models/FORMAT.md): {"default": {...}, "layers": {"fc1": {...}},
  // "first": "fp32", "last": "fp32"}. `where` prefixes errors.
  static QuantPlan from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  // CLI forms: "fp32", "8" (w8a8), "w4a8", "w4a8,first=fp32,last=fp32,calib=mse",
  // scheme settings as key=value ("scheme=term,w4a6,g=16,k=10,s=6,enc=hese"),
  // or JSON text. Overrides layered on top of `base`.
  static QuantPlan from_cli(std::string_view spec, const QuantPlan& base);
};

// Parses one layer's settings on top of `base`; unknown keys and bad values
// are errors naming `where`.
LayerPlan parse_layer_plan(const nlohmann::json& j, const LayerPlan& base, const std::string& where);

}  // namespace bitlane::quant
