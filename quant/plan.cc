#include "quant/plan.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace bitlane::quant {
namespace {

using json = nlohmann::json;

int parse_bits(const json& v, const std::string& where, const char* key) {
  if (!v.is_number_integer()) fail(where, std::string("'") + key + "' must be an integer");
  const int64_t b = v.get<int64_t>();
  if (b < 1 || b > 16)
    fail(where, std::string("'") + key + "' must be 1..16, got " + std::to_string(b));
  return static_cast<int>(b);
}

std::string get_string(const json& v, const std::string& where, const char* key) {
  if (!v.is_string()) fail(where, std::string("'") + key + "' must be a string");
  return v.get<std::string>();
}

}  // namespace

const char* scheme_name(Scheme s) { return s == Scheme::kFp32 ? "fp32" : "uniform"; }

const char* calibration_name(Calibration c) {
  switch (c) {
    case Calibration::kMinMax: return "minmax";
    case Calibration::kPercentile: return "percentile";
    case Calibration::kMse: return "mse";
  }
  return "?";
}

std::string LayerPlan::to_string() const {
  if (!quantized()) return "fp32";
  std::string s = std::string(scheme_name(scheme)) + " w" + std::to_string(weight_bits) + "a" +
                  std::to_string(activation_bits);
  s += weight_granularity == Granularity::kPerChannel ? " per-channel" : " per-tensor";
  if (!weight_symmetric) s += " asymmetric";
  s += std::string(" ") + calibration_name(calibration);
  return s;
}

LayerPlan parse_layer_plan(const json& j, const LayerPlan& base, const std::string& where) {
  if (!j.is_object()) fail(where, "a layer plan must be a JSON object");
  LayerPlan p = base;
  // "bits" without a scheme means uniform.
  if (!j.contains("scheme") && (j.contains("bits") || j.contains("weight_bits") ||
                                j.contains("activation_bits")))
    p.scheme = Scheme::kUniform;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const std::string at = where + ": '" + k + "'";
    if (k == "scheme") {
      const std::string s = get_string(v, where, "scheme");
      if (s == "fp32") p.scheme = Scheme::kFp32;
      else if (s == "uniform") p.scheme = Scheme::kUniform;
      else fail(at, "unknown scheme '" + s + "' (expected fp32 or uniform)");
    } else if (k == "bits") {
      p.weight_bits = p.activation_bits = parse_bits(v, where, "bits");
    } else if (k == "weight_bits") {
      p.weight_bits = parse_bits(v, where, "weight_bits");
    } else if (k == "activation_bits") {
      p.activation_bits = parse_bits(v, where, "activation_bits");
    } else if (k == "weight_granularity") {
      const std::string s = get_string(v, where, "weight_granularity");
      if (s == "per_channel") p.weight_granularity = Granularity::kPerChannel;
      else if (s == "per_tensor") p.weight_granularity = Granularity::kPerTensor;
      else fail(at, "expected per_channel or per_tensor, got '" + s + "'");
    } else if (k == "weight_symmetric" || k == "activation_symmetric") {
      if (!v.is_boolean()) fail(at, "must be true or false");
      (k == "weight_symmetric" ? p.weight_symmetric : p.activation_symmetric) = v.get<bool>();
    } else if (k == "calibration") {
      const std::string s = get_string(v, where, "calibration");
      if (s == "minmax") p.calibration = Calibration::kMinMax;
      else if (s == "percentile") p.calibration = Calibration::kPercentile;
      else if (s == "mse") p.calibration = Calibration::kMse;
      else fail(at, "unknown calibration '" + s + "' (expected minmax, percentile or mse)");
    } else if (k == "percentile") {
      if (!v.is_number()) fail(at, "must be a number");
      p.percentile = v.get<double>();
      if (!(p.percentile > 50.0 && p.percentile <= 100.0)) fail(at, "must lie in (50, 100]");
    } else {
      fail(at, "unknown setting (expected scheme, bits, weight_bits, activation_bits, "
               "weight_granularity, weight_symmetric, activation_symmetric, calibration, "
               "percentile)");
    }
  }
  return p;
}

LayerPlan QuantPlan::for_layer(const std::string& name, int index, int count) const {
  auto it = layers.find(name);
  if (it != layers.end()) return it->second;
  if ((first_fp32 && index == 0) || (last_fp32 && index == count - 1)) return LayerPlan{};
  return defaults;
}

bool QuantPlan::any_quantized() const {
  if (defaults.quantized()) return true;
  for (const auto& [name, p] : layers)
    if (p.quantized()) return true;
  return false;
}

QuantPlan QuantPlan::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "the quantization plan must be a JSON object");
  QuantPlan plan;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "default") {
      plan.defaults = parse_layer_plan(it.value(), plan.defaults, where + ": default");
    } else if (k == "layers") {
      if (!it.value().is_object()) fail(where + ": layers", "must map layer names to plans");
      for (auto l = it.value().begin(); l != it.value().end(); ++l)
        plan.layers[l.key()] =
            parse_layer_plan(l.value(), plan.defaults, where + ": layer '" + l.key() + "'");
    } else if (k == "first" || k == "last") {
      if (!it.value().is_string() || it.value().get<std::string>() != "fp32")
        fail(where + ": '" + k + "'", "the only supported value is \"fp32\"");
      (k == "first" ? plan.first_fp32 : plan.last_fp32) = true;
    } else {
      fail(where + ": '" + k + "'", "unknown key (expected default, layers, first, last)");
    }
  }
  // Layer overrides were parsed before or after "default" depending on key
  // order; re-apply so that they always inherit the final defaults.
  if (j.contains("layers"))
    for (auto l = j["layers"].begin(); l != j["layers"].end(); ++l)
      plan.layers[l.key()] =
          parse_layer_plan(l.value(), plan.defaults, where + ": layer '" + l.key() + "'");
  return plan;
}

json QuantPlan::to_json() const {
  auto layer = [](const LayerPlan& p) {
    json j = {{"scheme", scheme_name(p.scheme)}};
    if (p.quantized()) {
      j["weight_bits"] = p.weight_bits;
      j["activation_bits"] = p.activation_bits;
      j["weight_granularity"] =
          p.weight_granularity == Granularity::kPerChannel ? "per_channel" : "per_tensor";
      j["weight_symmetric"] = p.weight_symmetric;
      j["activation_symmetric"] = p.activation_symmetric;
      j["calibration"] = calibration_name(p.calibration);
      if (p.calibration == Calibration::kPercentile) j["percentile"] = p.percentile;
    }
    return j;
  };
  json j = {{"default", layer(defaults)}};
  for (const auto& [name, p] : layers) j["layers"][name] = layer(p);
  if (first_fp32) j["first"] = "fp32";
  if (last_fp32) j["last"] = "fp32";
  return j;
}

QuantPlan QuantPlan::from_cli(std::string_view spec, const QuantPlan& base) {
  const std::string where = "--quant '" + std::string(spec) + "'";
  if (!spec.empty() && spec.front() == '{') {
    json j;
    try {
      j = json::parse(spec);
    } catch (const json::exception& e) {
      fail(where, std::string("not valid JSON: ") + e.what());
    }
    return from_json(j, where);
  }
  QuantPlan plan = base;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string item(spec.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      if (item == "fp32") {
        plan.defaults.scheme = Scheme::kFp32;
        continue;
      }
      int w = 0, a = 0;
      char tail = 0;
      if (std::sscanf(item.c_str(), "w%da%d%c", &w, &a, &tail) == 2 ||
          (std::sscanf(item.c_str(), "%d%c", &w, &tail) == 1 && (a = w))) {
        plan.defaults = parse_layer_plan(json{{"weight_bits", w}, {"activation_bits", a}},
                                         plan.defaults, where);
        plan.defaults.scheme = Scheme::kUniform;
        continue;
      }
      fail(where, "cannot read '" + item + "' (expected fp32, N, wNaM or key=value)");
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "first" || key == "last") {
      if (value != "fp32") fail(where, key + "= only accepts fp32");
      (key == "first" ? plan.first_fp32 : plan.last_fp32) = true;
    } else if (key == "calib" || key == "calibration") {
      plan.defaults = parse_layer_plan(json{{"calibration", value}}, plan.defaults, where);
    } else if (key == "granularity") {
      plan.defaults = parse_layer_plan(json{{"weight_granularity", value}}, plan.defaults, where);
    } else {
      fail(where, "unknown key '" + key + "' (expected first, last, calib, granularity)");
    }
  }
  return plan;
}

}  // namespace bitlane::quant
