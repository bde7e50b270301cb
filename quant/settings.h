// Settings tables: one row per setting of a layer plan -- its JSON key, its
// short name in the text form, its type and valid values, and how to read
// and write it. The common table (settings.cc) and each scheme's table
// (quant/schemes/) drive JSON parsing and printing, the text form's
// key=value items, and the error messages that list the valid keys, so a
// setting is declared in exactly one place.
#pragma once

#include <span>
#include <string>
#include <type_traits>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "quant/plan.h"

namespace bitlane::quant {

struct Setting {
  enum class Type { kInt, kNumber, kBool, kChoice };
  const char* key;       // JSON key: "group"
  const char* short_name;  // text form: "g" (nullptr: only the key)
  Type type;
  // kInt: the inclusive range; kNumber: checked by `check` if set.
  double min = 0, max = 0;
  // kChoice: the value names (index = value), nullptr-terminated. kBool with
  // names: the text form's words for false and true ("decoded", "histogram").
  const char* const* names = nullptr;
  // Extra validation of a value: an error text ("must be positive") or nullptr.
  const char* (*check)(double v) = nullptr;
  double (*get)(const LayerPlan&) = nullptr;
  void (*set)(LayerPlan&, double) = nullptr;
  // Whether the JSON form lists the setting (nullptr: always).
  bool (*listed)(const LayerPlan&) = nullptr;
};

// The settings every quantized scheme shares (bits, widths, weight grid,
// calibration); "bits" sets both widths and is never printed.
std::span<const Setting> common_settings();
const char* calibration_name(Calibration c);
const char* granularity_name(Granularity g);

// The value of j as the setting's number (ints, numbers, 0/1, choice index);
// errors name `at`.
double setting_from_json(const Setting& s, const nlohmann::json& j, const std::string& at);
// The text form's value ("16", "hese", "histogram") as the setting's JSON
// value; errors name `at` and quote `item`.
nlohmann::json setting_text_to_json(const Setting& s, const std::string& value, const std::string& at,
                                    const std::string& item);
nlohmann::json setting_to_json(const Setting& s, const LayerPlan& p);

// ------------------------------------------------------ table-building helpers

namespace detail {
template <class T>
struct member_of;
template <class C, class V>
struct member_of<V C::*> {
  using owner = C;
  using value = V;
};

// Reads and writes a field of the plan (LayerPlan::*) or of its scheme's
// options (Options::*).
template <auto M>
double get_field(const LayerPlan& p) {
  using O = typename member_of<decltype(M)>::owner;
  if constexpr (std::is_same_v<O, LayerPlan>)
    return static_cast<double>(p.*M);
  else
    return static_cast<double>(std::get<O>(p.options).*M);
}
template <auto M>
void set_field(LayerPlan& p, double v) {
  using O = typename member_of<decltype(M)>::owner;
  using V = typename member_of<decltype(M)>::value;
  V x;
  if constexpr (std::is_enum_v<V>)
    x = static_cast<V>(static_cast<int>(v));
  else if constexpr (std::is_same_v<V, bool>)
    x = v != 0;
  else
    x = static_cast<V>(v);
  if constexpr (std::is_same_v<O, LayerPlan>)
    p.*M = x;
  else
    std::get<O>(p.options).*M = x;
}
}  // namespace detail

template <auto M>
constexpr Setting int_setting(const char* key, const char* short_name, int min, int max) {
  return {key, short_name, Setting::Type::kInt, double(min), double(max), nullptr, nullptr,
          detail::get_field<M>, detail::set_field<M>, nullptr};
}
template <auto M>
constexpr Setting number_setting(const char* key, const char* short_name, const char* (*check)(double)) {
  return {key, short_name, Setting::Type::kNumber, 0, 0, nullptr, check, detail::get_field<M>, detail::set_field<M>,
          nullptr};
}
template <auto M>
constexpr Setting bool_setting(const char* key, const char* short_name, const char* const* names = nullptr) {
  return {key, short_name, Setting::Type::kBool, 0, 1, names, nullptr, detail::get_field<M>, detail::set_field<M>,
          nullptr};
}
template <auto M>
constexpr Setting choice_setting(const char* key, const char* short_name, const char* const* names) {
  return {key, short_name, Setting::Type::kChoice, 0, 0, names, nullptr, detail::get_field<M>, detail::set_field<M>,
          nullptr};
}
// The same row, listed in JSON only when `listed` says so.
constexpr Setting listed_if(Setting s, bool (*listed)(const LayerPlan&)) {
  s.listed = listed;
  return s;
}

}  // namespace bitlane::quant
