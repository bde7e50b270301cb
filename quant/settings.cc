#include "quant/settings.h"

#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace bitlane::quant {
namespace {

using json = nlohmann::json;

const char* const kGranularities[] = {"per_tensor", "per_channel", nullptr};
const char* const kCalibrations[] = {"minmax", "percentile", "mse", nullptr};

const char* percentile_check(double v) { return v > 50.0 && v <= 100.0 ? nullptr : "must lie in (50, 100]"; }

const Setting kCommon[] = {
    // "bits" sets both widths; plans print the two widths instead.
    {"bits", nullptr, Setting::Type::kInt, 1, 16, nullptr, nullptr,
     [](const LayerPlan& p) { return double(p.weight_bits); },
     [](LayerPlan& p, double v) { p.weight_bits = p.activation_bits = static_cast<int>(v); },
     [](const LayerPlan&) { return false; }},
    int_setting<&LayerPlan::weight_bits>("weight_bits", nullptr, 1, 16),
    int_setting<&LayerPlan::activation_bits>("activation_bits", nullptr, 1, 16),
    choice_setting<&LayerPlan::weight_granularity>("weight_granularity", "granularity", kGranularities),
    bool_setting<&LayerPlan::weight_symmetric>("weight_symmetric", nullptr),
    bool_setting<&LayerPlan::activation_symmetric>("activation_symmetric", nullptr),
    choice_setting<&LayerPlan::calibration>("calibration", "calib", kCalibrations),
    listed_if(number_setting<&LayerPlan::percentile>("percentile", nullptr, percentile_check),
              [](const LayerPlan& p) { return p.calibration == Calibration::kPercentile; }),
};

std::string choices_text(const char* const* names) {
  std::string s;
  int n = 0;
  while (names[n]) ++n;
  for (int i = 0; i < n; ++i) s += (i == 0 ? "" : i == n - 1 ? " or " : ", ") + std::string(names[i]);
  return s;
}

int choice_index(const char* const* names, const std::string& name) {
  for (int i = 0; names[i]; ++i)
    if (name == names[i]) return i;
  return -1;
}

// The checks every way of writing a value goes through.
double checked(const Setting& s, double v, const std::string& at) {
  switch (s.type) {
    case Setting::Type::kInt:
      if (v < s.min || v > s.max)
        fail(at, "must be " + std::to_string(static_cast<int64_t>(s.min)) + ".." +
                     std::to_string(static_cast<int64_t>(s.max)) + ", got " + std::to_string(static_cast<int64_t>(v)));
      break;
    case Setting::Type::kNumber:
      if (!std::isfinite(v)) fail(at, "must be a finite number");
      break;
    default: break;
  }
  if (s.check)
    if (const char* error = s.check(v)) fail(at, error);
  return v;
}

}  // namespace

std::span<const Setting> common_settings() { return kCommon; }
const char* calibration_name(Calibration c) { return kCalibrations[static_cast<int>(c)]; }
const char* granularity_name(Granularity g) { return kGranularities[static_cast<int>(g)]; }

double setting_from_json(const Setting& s, const json& j, const std::string& at) {
  switch (s.type) {
    case Setting::Type::kInt:
      // Integral values beyond int64 stay doubles in JSON: not integers.
      if (!j.is_number_integer()) fail(at, "must be an integer");
      if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{1} << 53) fail(at, "must be an integer");
      return checked(s, static_cast<double>(j.get<int64_t>()), at);
    case Setting::Type::kNumber:
      if (!j.is_number()) fail(at, "must be a number");
      return checked(s, j.get<double>(), at);
    case Setting::Type::kBool:
      if (!j.is_boolean()) fail(at, "must be true or false");
      return j.get<bool>() ? 1 : 0;
    case Setting::Type::kChoice: {
      if (!j.is_string()) fail(at, "must be a string");
      const std::string name = j.get<std::string>();
      const int i = choice_index(s.names, name);
      if (i < 0) fail(at, "expected " + choices_text(s.names) + ", got '" + name + "'");
      return i;
    }
  }
  return 0;
}

json setting_text_to_json(const Setting& s, const std::string& value, const std::string& at,
                          const std::string& item) {
  switch (s.type) {
    case Setting::Type::kChoice: return value;
    case Setting::Type::kBool:
      if (s.names) {
        const int i = choice_index(s.names, value);
        if (i < 0) fail(at, "expected " + choices_text(s.names) + ", got '" + value + "'");
        return i == 1;
      }
      if (value == "true" || value == "1") return true;
      if (value == "false" || value == "0") return false;
      fail(at, "expected true or false, got '" + value + "'");
    case Setting::Type::kInt:
    case Setting::Type::kNumber: break;
  }
  double x = 0;
  size_t used = 0;
  try {
    x = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (value.empty() || used != value.size() || !std::isfinite(x)) fail(at, item + ": not a number");
  // Integral values become JSON integers when they fit (casting a larger
  // double is undefined; the integer check then rejects it).
  if (s.type == Setting::Type::kInt && x == std::floor(x) && std::fabs(x) < 9.0e15) return static_cast<int64_t>(x);
  return x;
}

json setting_to_json(const Setting& s, const LayerPlan& p) {
  const double v = s.get(p);
  switch (s.type) {
    case Setting::Type::kInt: return static_cast<int64_t>(v);
    case Setting::Type::kNumber: return v;
    case Setting::Type::kBool: return v != 0;
    case Setting::Type::kChoice: return s.names[static_cast<int>(v)];
  }
  return nullptr;
}

}  // namespace bitlane::quant
