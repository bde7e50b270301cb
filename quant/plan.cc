#include "quant/plan.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

#include <cmath>
#include <cstdio>

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

const char* scheme_name(Scheme s) {
  switch (s) {
    case Scheme::kFp32: return "fp32";
    case Scheme::kUniform: return "uniform";
    case Scheme::kTerm: return "term";
    case Scheme::kExponential: return "exponential";
    case Scheme::kSdp: return "sdp";
    case Scheme::kDrq: return "drq";
  }
  return "?";
}

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
  switch (scheme) {
    case Scheme::kTerm:
      s += std::string(" ") + encoding_name(encoding) + " g" + std::to_string(group) + " k" +
           std::to_string(budget) + " s" + std::to_string(activation_terms);
      if (activation_group > 1)
        s += " ga" + std::to_string(activation_group) + " ka" + std::to_string(activation_budget);
      break;
    case Scheme::kExponential: {
      char buf[96];
      std::snprintf(buf, sizeof(buf), " err<=%g bits %d..%d%s", exp_threshold, exp_min_bits, exp_max_bits,
                    exp_histogram ? " histogram" : "");
      s = std::string(scheme_name(scheme)) + buf;  // widths come from the search
      if (exp_base > 0) s += " base " + std::to_string(exp_base);
      return s;
    }
    case Scheme::kSdp:
      s += " G" + std::to_string(sdp_group) + " K" + std::to_string(sdp_keep);
      break;
    case Scheme::kDrq: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " region %d threshold %g", drq_region, drq_threshold);
      s += buf;
      break;
    }
    default:
      s += weight_granularity == Granularity::kPerChannel ? " per-channel" : " per-tensor";
      if (!weight_symmetric) s += " asymmetric";
  }
  s += std::string(" ") + calibration_name(calibration);
  return s;
}

namespace {

// The scheme a setting belongs to (kFp32: settings every quantized scheme has).
Scheme setting_owner(const std::string& k) {
  if (k == "encoding" || k == "group" || k == "budget" || k == "activation_terms" || k == "activation_group" ||
      k == "activation_budget")
    return Scheme::kTerm;
  if (k.rfind("exp_", 0) == 0) return Scheme::kExponential;
  if (k.rfind("sdp_", 0) == 0) return Scheme::kSdp;
  if (k.rfind("drq_", 0) == 0) return Scheme::kDrq;
  return Scheme::kFp32;
}

// Resets what the plan's scheme does not use (inherited from a base plan of
// another scheme) to the defaults, so that equal behaviour means equal plans
// and the JSON form, which lists only used settings, round-trips.
LayerPlan without_unused_settings(const LayerPlan& p) {
  const LayerPlan d;
  if (!p.quantized()) return d;
  LayerPlan q = d;
  q.scheme = p.scheme;
  q.weight_bits = p.weight_bits;
  q.activation_bits = p.activation_bits;
  q.weight_granularity = p.weight_granularity;
  q.weight_symmetric = p.weight_symmetric;
  q.activation_symmetric = p.activation_symmetric;
  q.calibration = p.calibration;
  if (p.calibration == Calibration::kPercentile) q.percentile = p.percentile;
  if (p.scheme == Scheme::kTerm) {
    q.encoding = p.encoding;
    q.group = p.group;
    q.budget = p.budget;
    q.activation_terms = p.activation_terms;
    if (p.activation_group > 1) {
      q.activation_group = p.activation_group;
      q.activation_budget = p.activation_budget;
    }
  } else if (p.scheme == Scheme::kExponential) {
    q.exp_threshold = p.exp_threshold;
    q.exp_base = p.exp_base;
    q.exp_min_bits = p.exp_min_bits;
    q.exp_max_bits = p.exp_max_bits;
    q.exp_histogram = p.exp_histogram;
  } else if (p.scheme == Scheme::kSdp) {
    q.sdp_group = p.sdp_group;
    q.sdp_keep = p.sdp_keep;
  } else if (p.scheme == Scheme::kDrq) {
    q.drq_region = p.drq_region;
    q.drq_threshold = p.drq_threshold;
  }
  return q;
}

// The settings of j applied to base, without the final checks: the CLI
// form applies its items one by one and checks once at the end, so that
// their order does not matter ("g=8,scheme=term" = "scheme=term,g=8").
LayerPlan parse_settings(const json& j, const LayerPlan& base, const std::string& where) {
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
      bool found = false;
      for (Scheme c : {Scheme::kFp32, Scheme::kUniform, Scheme::kTerm, Scheme::kExponential, Scheme::kSdp, Scheme::kDrq})
        if (s == scheme_name(c)) {
          p.scheme = c;
          found = true;
        }
      if (!found) fail(at, "unknown scheme '" + s + "' (expected fp32, uniform, term, exponential, sdp or drq)");
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
    } else if (k == "encoding") {
      const std::string s = get_string(v, where, "encoding");
      if (s == "binary") p.encoding = TermEncoding::kBinary;
      else if (s == "hese") p.encoding = TermEncoding::kHese;
      else fail(at, "expected binary or hese, got '" + s + "'");
    } else if (k == "group" || k == "budget" || k == "activation_terms" || k == "activation_group" ||
               k == "activation_budget" || k == "sdp_group" || k == "sdp_keep" || k == "drq_region" ||
               k == "exp_min_bits" || k == "exp_max_bits") {
      if (!v.is_number_integer()) fail(at, "must be an integer");
      const int64_t x = v.get<int64_t>();
      const bool is_group = k == "group" || k == "activation_group" || k == "sdp_group" || k == "drq_region";
      if (x < (is_group ? 1 : 0) || x > 4096)
        fail(at, std::string("must be ") + (is_group ? "1" : "0") + "..4096, got " + std::to_string(x));
      const int n = static_cast<int>(x);
      if (k == "group") p.group = n;
      else if (k == "budget") p.budget = n;
      else if (k == "activation_terms") p.activation_terms = n;
      else if (k == "activation_group") p.activation_group = n;
      else if (k == "activation_budget") p.activation_budget = n;
      else if (k == "sdp_group") p.sdp_group = n;
      else if (k == "sdp_keep") p.sdp_keep = n;
      else if (k == "drq_region") p.drq_region = n;
      else if (k == "exp_min_bits") p.exp_min_bits = n;
      else p.exp_max_bits = n;
    } else if (k == "exp_threshold" || k == "exp_base" || k == "drq_threshold") {
      if (!v.is_number()) fail(at, "must be a number");
      const double x = v.get<double>();
      if (!std::isfinite(x)) fail(at, "must be a finite number");
      if (k == "exp_threshold" && !(x > 0)) fail(at, "must be positive");
      if (k == "exp_base" && !(x == 0 || x > 1)) fail(at, "base must be greater than 1 (0 = search)");
      if (k == "drq_threshold" && !(x >= 0 && x <= 1)) fail(at, "must lie in [0, 1]");
      (k == "exp_threshold" ? p.exp_threshold : k == "exp_base" ? p.exp_base : p.drq_threshold) = x;
    } else if (k == "exp_histogram") {
      if (!v.is_boolean()) fail(at, "must be true or false");
      p.exp_histogram = v.get<bool>();
    } else {
      fail(at, "unknown setting (expected scheme, bits, weight_bits, activation_bits, "
               "weight_granularity, weight_symmetric, activation_symmetric, calibration, "
               "percentile, encoding, group, budget, activation_terms, activation_group, "
               "activation_budget, exp_threshold, exp_base, exp_min_bits, exp_max_bits, "
               "exp_histogram, sdp_group, sdp_keep, drq_region, drq_threshold)");
    }
  }
  return p;
}

// The checks once all settings are in: consistency, settings of another
// scheme among those the user wrote (`written`), and unused ones dropped.
LayerPlan finish_layer_plan(LayerPlan p, const std::vector<std::string>& written, const std::string& where) {
  if (p.exp_min_bits < 2 || p.exp_max_bits > 12 || p.exp_min_bits > p.exp_max_bits)
    fail(where, "exponential bit range must lie in 2..12, min <= max");
  if (p.scheme == Scheme::kSdp && (p.activation_bits != 8))
    p.activation_bits = 8;  // SDP splits 8-bit magnitudes into two 4-bit parts
  if (p.scheme == Scheme::kDrq) p.activation_bits = 8;  // 8 bits, or 4 in insensitive regions
  if (p.scheme == Scheme::kTerm && p.activation_group > 1 && p.activation_budget == 0)
    p.activation_budget = p.activation_terms * p.activation_group;
  // A setting of another scheme is a mistake (e.g. the term budget s on an
  // SDP plan): say so instead of ignoring it.
  for (const std::string& key : written) {
    const Scheme owner = setting_owner(key);
    if (owner != Scheme::kFp32 && owner != p.scheme)
      fail(where + ": '" + key + "'", std::string("is a setting of scheme ") + scheme_name(owner) + ", not of " +
                                          scheme_name(p.scheme));
  }
  return without_unused_settings(p);
}

std::vector<std::string> keys_of(const json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

}  // namespace

LayerPlan parse_layer_plan(const json& j, const LayerPlan& base, const std::string& where) {
  return finish_layer_plan(parse_settings(j, base, where), keys_of(j), where);
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
      if (p.scheme == Scheme::kTerm) {
        j["encoding"] = encoding_name(p.encoding);
        j["group"] = p.group;
        j["budget"] = p.budget;
        j["activation_terms"] = p.activation_terms;
        if (p.activation_group > 1) {
          j["activation_group"] = p.activation_group;
          j["activation_budget"] = p.activation_budget;
        }
      } else if (p.scheme == Scheme::kExponential) {
        j["exp_threshold"] = p.exp_threshold;
        j["exp_min_bits"] = p.exp_min_bits;
        j["exp_max_bits"] = p.exp_max_bits;
        if (p.exp_base > 0) j["exp_base"] = p.exp_base;
        if (p.exp_histogram) j["exp_histogram"] = true;
      } else if (p.scheme == Scheme::kSdp) {
        j["sdp_group"] = p.sdp_group;
        j["sdp_keep"] = p.sdp_keep;
      } else if (p.scheme == Scheme::kDrq) {
        j["drq_region"] = p.drq_region;
        j["drq_threshold"] = p.drq_threshold;
      }
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
  std::vector<std::string> written;  // the settings this text names, checked at the end
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
        const Scheme before = plan.defaults.scheme;
        plan.defaults = parse_settings(json{{"weight_bits", w}, {"activation_bits", a}}, plan.defaults, where);
        // Widths keep an explicitly chosen scheme; alone they mean uniform.
        plan.defaults.scheme = before == Scheme::kFp32 ? Scheme::kUniform : before;
        continue;
      }
      char which = 0;
      if (std::sscanf(item.c_str(), "%c%d%c", &which, &w, &tail) == 2 && (which == 'w' || which == 'a')) {
        const Scheme before = plan.defaults.scheme;
        plan.defaults = parse_settings(json{{which == 'w' ? "weight_bits" : "activation_bits", w}},
                                       plan.defaults, where);
        plan.defaults.scheme = before == Scheme::kFp32 ? Scheme::kUniform : before;
        continue;
      }
      fail(where, "cannot read '" + item + "' (expected fp32, N, wN, aN, wNaM or key=value)");
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "first" || key == "last") {
      if (value != "fp32") fail(where, key + "= only accepts fp32");
      (key == "first" ? plan.first_fp32 : plan.last_fp32) = true;
    } else if (key == "calib" || key == "calibration") {
      plan.defaults = parse_settings(json{{"calibration", value}}, plan.defaults, where);
    } else if (key == "granularity") {
      plan.defaults = parse_settings(json{{"weight_granularity", value}}, plan.defaults, where);
    } else {
      // Scheme settings: short names for the JSON keys.
      static const std::pair<const char*, const char*> kShort[] = {
          {"scheme", "scheme"}, {"enc", "encoding"}, {"encoding", "encoding"}, {"g", "group"},
          {"k", "budget"}, {"s", "activation_terms"}, {"ga", "activation_group"},
          {"ka", "activation_budget"}, {"thr", "exp_threshold"}, {"base", "exp_base"},
          {"minbits", "exp_min_bits"}, {"maxbits", "exp_max_bits"}, {"path", "exp_path"},
          {"sdp_g", "sdp_group"}, {"sdp_k", "sdp_keep"}, {"drq_r", "drq_region"}, {"drq_t", "drq_threshold"}};
      const char* full = nullptr;
      for (const auto& [s, f] : kShort)
        if (key == s) full = f;
      if (!full)
        fail(where, "unknown key '" + key + "' (expected first, last, calib, granularity, scheme, enc, g, "
                    "k, s, ga, ka, thr, base, minbits, maxbits, path, sdp_g, sdp_k, drq_r, drq_t)");
      json j;
      if (std::string(full) == "exp_path") {
        if (value != "histogram" && value != "decoded") fail(where, "path must be histogram or decoded");
        j["exp_histogram"] = value == "histogram";
      } else if (std::string(full) == "scheme" || std::string(full) == "encoding") {
        j[full] = value;
      } else {
        try {
          size_t used = 0;
          const double x = std::stod(value, &used);
          if (used != value.size() || !std::isfinite(x)) throw std::invalid_argument(value);
          // Integral values become JSON integers when they fit (casting a
          // larger double is undefined; the range checks then reject it).
          if (x == std::floor(x) && std::fabs(x) < 9.0e15 && std::string(full) != "exp_threshold" &&
              std::string(full) != "exp_base" && std::string(full) != "drq_threshold")
            j[full] = static_cast<int64_t>(x);
          else
            j[full] = x;
        } catch (const std::exception&) {
          fail(where, key + "=" + value + ": not a number");
        }
      }
      const bool keep_scheme = j.contains("scheme");
      const Scheme before = plan.defaults.scheme;
      plan.defaults = parse_settings(j, plan.defaults, where);
      if (!keep_scheme && before != Scheme::kFp32) plan.defaults.scheme = before;
      for (const std::string& k : keys_of(j)) written.push_back(k);
    }
  }
  plan.defaults = finish_layer_plan(plan.defaults, written, where);
  return plan;
}

}  // namespace bitlane::quant
