// Plans in their two written forms, JSON and text, both driven by the
// settings tables (quant/settings.h): the common table and the tables of
// the schemes (quant/schemes/).
#include "quant/plan.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "quant/scheme.h"
#include "quant/settings.h"

namespace bitlane::quant {
namespace {

using json = nlohmann::json;

const Setting* find_in(std::span<const Setting> table, const std::string& key) {
  for (const Setting& s : table)
    if (key == s.key) return &s;
  return nullptr;
}

// The setting a text item names, by short name or key, with the scheme that
// owns it (nullptr: a common setting).
const Setting* find_text_key(const std::string& name, const Scheme** owner) {
  auto match = [&](const Setting& s) { return name == s.key || (s.short_name && name == s.short_name); };
  *owner = nullptr;
  for (const Setting& s : common_settings())
    if (match(s)) return &s;
  for (const Scheme* scheme : all_schemes())
    for (const Setting& s : scheme->settings())
      if (match(s)) {
        *owner = scheme;
        return &s;
      }
  return nullptr;
}

std::string scheme_names() {
  std::string s;
  const auto all = all_schemes();
  for (size_t i = 0; i < all.size(); ++i)
    s += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + std::string(all[i]->name());
  return s;
}

// Every JSON key of a layer plan, for "unknown setting" messages.
std::string all_keys() {
  std::string s = "scheme";
  for (const Setting& c : common_settings()) s += std::string(", ") + c.key;
  for (const Scheme* scheme : all_schemes())
    for (const Setting& c : scheme->settings()) s += std::string(", ") + c.key;
  return s;
}

// Every item name of the text form.
std::string all_text_keys() {
  std::string s = "first, last, scheme";
  auto add = [&](const Setting& c) { s += std::string(", ") + (c.short_name ? c.short_name : c.key); };
  for (const Setting& c : common_settings())
    if (std::string(c.key) != "bits" && std::string(c.key) != "weight_bits" && std::string(c.key) != "activation_bits")
      add(c);
  for (const Scheme* scheme : all_schemes())
    for (const Setting& c : scheme->settings()) add(c);
  return s;
}

// The scheme's consistency rules, and what it does not use reset, so that
// equal behaviour means equal plans and the JSON form, which lists only
// used settings, round-trips.
LayerPlan finished(LayerPlan p, const std::string& where) {
  if (!p.quantized()) return LayerPlan{};
  if (p.calibration != Calibration::kPercentile) p.percentile = LayerPlan{}.percentile;
  p.scheme().finish(p, where);
  return p;
}

}  // namespace

LayerPlan parse_layer_plan(const json& j, const LayerPlan& base, const std::string& where) {
  if (!j.is_object()) fail(where, "a layer plan must be a JSON object");
  // The scheme first, so that settings may come in any order.
  const Scheme* scheme = &base.scheme();
  if (j.contains("scheme")) {
    const json& v = j["scheme"];
    if (!v.is_string()) fail(where + ": 'scheme'", "must be a string");
    scheme = find_scheme(v.get<std::string>());
    if (!scheme)
      fail(where + ": 'scheme'", "unknown scheme '" + v.get<std::string>() + "' (expected " + scheme_names() + ")");
  } else if (!base.quantized() && (j.contains("bits") || j.contains("weight_bits") || j.contains("activation_bits"))) {
    scheme = find_scheme("uniform");  // widths without a scheme mean uniform
  }
  LayerPlan p = base;
  // Settings of another scheme inherited from the base are dropped.
  if (scheme != &base.scheme()) p.options = scheme->defaults();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "scheme") continue;
    const std::string at = where + ": '" + k + "'";
    if (k == "weight_grid" || k == "activation_grid") {  // trained quantizers (quant/trained_grid.h)
      if (!p.is<UniformOptions>()) fail(at, std::string("needs scheme uniform, not ") + scheme->name());
      auto& o = p.get<UniformOptions>();
      (k == "weight_grid" ? o.weights : o.activations) = trained_grid_from_json(it.value(), at);
      continue;
    }
    const Setting* s = find_in(common_settings(), k);
    if (!s) s = find_in(scheme->settings(), k);
    if (s) {
      s->set(p, setting_from_json(*s, it.value(), at));
      continue;
    }
    // A setting of another scheme is a mistake (e.g. the term budget s on
    // an SDP plan): say so (once its value is valid) instead of ignoring it.
    for (const Scheme* other : all_schemes())
      if (const Setting* o = find_in(other->settings(), k)) {
        setting_from_json(*o, it.value(), at);
        fail(at, std::string("is a setting of scheme ") + other->name() + ", not of " + scheme->name());
      }
    fail(at, "unknown setting (expected " + all_keys() + ")");
  }
  return finished(p, where);
}

json layer_plan_json(const LayerPlan& p) {
  const Scheme& scheme = p.scheme();
  json j = {{"scheme", scheme.name()}};
  if (!p.quantized()) return j;
  auto add = [&](const Setting& s) {
    if (!s.listed || s.listed(p)) j[s.key] = setting_to_json(s, p);
  };
  for (const Setting& s : common_settings()) add(s);
  for (const Setting& s : scheme.settings()) add(s);
  if (p.is<UniformOptions>()) {
    const auto& o = p.get<UniformOptions>();
    if (o.weights) j["weight_grid"] = trained_grid_json(*o.weights);
    if (o.activations) j["activation_grid"] = trained_grid_json(*o.activations);
  }
  return j;
}

LayerPlan QuantPlan::for_layer(const std::string& name, int index, int count) const {
  auto it = layers.find(name);
  if (it != layers.end()) return it->second;
  if ((first_fp32 && index == 0) || (last_fp32 && index == count - 1)) return LayerPlan{};
  return defaults;
}

bool LayerPlan::needs_samples() const {
  return quantized() && !(is<UniformOptions>() && get<UniformOptions>().activations);
}

bool QuantPlan::needs_samples() const {
  if (defaults.needs_samples()) return true;
  for (const auto& [name, p] : layers)
    if (p.needs_samples()) return true;
  return false;
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
    } else if (k == "first" || k == "last") {
      if (!it.value().is_string() || it.value().get<std::string>() != "fp32")
        fail(where + ": '" + k + "'", "the only supported value is \"fp32\"");
      (k == "first" ? plan.first_fp32 : plan.last_fp32) = true;
    } else {
      fail(where + ": '" + k + "'", "unknown key (expected default, layers, first, last)");
    }
  }
  // Layer overrides inherit the final defaults, whatever the key order.
  if (j.contains("layers"))
    for (auto l = j["layers"].begin(); l != j["layers"].end(); ++l)
      plan.layers[l.key()] = parse_layer_plan(l.value(), plan.defaults, where + ": layer '" + l.key() + "'");
  return plan;
}

json QuantPlan::to_json() const {
  json j = {{"default", layer_plan_json(defaults)}};
  for (const auto& [name, p] : layers) j["layers"][name] = layer_plan_json(p);
  if (first_fp32) j["first"] = "fp32";
  if (last_fp32) j["last"] = "fp32";
  return j;
}

QuantPlan QuantPlan::from_text(std::string_view spec, const QuantPlan& base, const std::string& where_arg) {
  const std::string where = where_arg.empty() ? "plan '" + std::string(spec) + "'" : where_arg;
  if (!spec.empty() && spec.front() == '{') {
    json j;
    try {
      j = json::parse(spec);
    } catch (const json::exception& e) {
      fail(where, std::string("not valid JSON: ") + e.what());
    }
    return from_json(j, where);
  }
  // Items apply in order to a running scheme and a set of settings (a later
  // item wins); the settings are checked once at the end, against the scheme
  // the items end with, so their order does not matter.
  QuantPlan plan = base;
  const Scheme* scheme = &base.defaults.scheme();
  const Scheme* const fp32 = find_scheme("fp32");
  const Scheme* const uniform = find_scheme("uniform");
  json settings = json::object();
  constexpr int kNone = -1000;  // a width the item does not name
  auto widths = [&](int w, int a) {
    if (w != kNone) settings["weight_bits"] = w;
    if (a != kNone) settings["activation_bits"] = a;
    if (scheme == fp32) scheme = uniform;  // widths alone mean uniform
  };
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string item(spec.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      int w = 0, a = 0;
      char which = 0, tail = 0;
      if (item == "fp32")
        scheme = fp32;
      else if (std::sscanf(item.c_str(), "w%da%d%c", &w, &a, &tail) == 2)
        widths(w, a);
      else if (std::sscanf(item.c_str(), "%d%c", &w, &tail) == 1)
        widths(w, w);
      else if (std::sscanf(item.c_str(), "%c%d%c", &which, &w, &tail) == 2 && (which == 'w' || which == 'a'))
        which == 'w' ? widths(w, kNone) : widths(kNone, w);
      else
        fail(where, "cannot read '" + item + "' (expected fp32, N, wN, aN, wNaM or key=value)");
      continue;
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "first" || key == "last") {
      if (value != "fp32") fail(where, key + "= only accepts fp32");
      (key == "first" ? plan.first_fp32 : plan.last_fp32) = true;
    } else if (key == "scheme") {
      scheme = find_scheme(value);
      if (!scheme) fail(where, "unknown scheme '" + value + "' (expected " + scheme_names() + ")");
    } else {
      const Scheme* owner = nullptr;
      const Setting* s = find_text_key(key, &owner);
      if (!s) fail(where, "unknown key '" + key + "' (expected " + all_text_keys() + ")");
      settings[s->key] = setting_text_to_json(*s, value, where + ": '" + s->key + "'", item);
    }
  }
  settings["scheme"] = scheme->name();
  plan.defaults = parse_layer_plan(settings, base.defaults, where);
  return plan;
}

}  // namespace bitlane::quant
