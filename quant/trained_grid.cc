#include "quant/trained_grid.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "quant/uniform.h"

namespace bitlane::quant {

Affine TrainedGrid::affine(int bits, size_t r) const {
  const size_t i = scale.size() == 1 ? 0 : r;
  Affine a;
  a.scale = scale[i];
  if (binary) {
    a.format = {1, false};
    a.mul = 2;
    a.offset = 1;
    return a;
  }
  a.format = {bits, is_signed};
  a.offset = zero_point.empty() ? 0 : zero_point[zero_point.size() == 1 ? 0 : i];
  a.qmin = static_cast<int32_t>(a.format.min_value()) + (narrow && is_signed ? 1 : 0);
  a.qmax = static_cast<int32_t>(a.format.max_value()) - (narrow && !is_signed ? 1 : 0);
  return a;
}

void TrainedGrid::check(int bits, const std::string& where) const {
  if (scale.empty()) fail(where, "needs at least one scale");
  for (float s : scale)
    if (!(s > 0.f) || !std::isfinite(s)) fail(where, "scales must be positive and finite");
  if (!zero_point.empty() && zero_point.size() != 1 && zero_point.size() != scale.size())
    fail(where, "needs one zero point, or one per scale");
  if (binary) {
    if (bits != 1) fail(where, "a binary grid needs 1 bit");
    return;
  }
  if (bits < 2 && is_signed) fail(where, "a signed grid needs at least 2 bits (binary: \"binary\": true)");
  const swar::IntFormat f{bits, is_signed};
  for (int32_t z : zero_point)
    if (z < f.min_value() || z > f.max_value())
      fail(where, "zero point " + std::to_string(z) + " lies outside the " + std::to_string(bits) + "-bit range");
}

void TrainedGrid::check_rows(int64_t rows, const std::string& where) const {
  if (scale.size() != 1 && static_cast<int64_t>(scale.size()) != rows)
    fail(where, std::to_string(scale.size()) + " scales for " + std::to_string(rows) + " output channels");
}

TrainedGrid trained_grid_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "must be an object {\"scale\", \"zero_point\", \"signed\", \"narrow\", \"binary\"}");
  TrainedGrid g;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    const std::string at = where + ": '" + k + "'";
    if (k == "scale") {
      for (const nlohmann::json& s : v.is_array() ? v : nlohmann::json::array({v})) {
        if (!s.is_number()) fail(at, "must be a number or a list of numbers");
        const double sv = s.get<double>();  // checked before narrowing (an out-of-range cast is undefined)
        if (!(sv > 0) || sv > 1e30) fail(at, "scales must be positive and finite");
        g.scale.push_back(static_cast<float>(sv));
      }
    } else if (k == "zero_point") {
      for (const nlohmann::json& z : v.is_array() ? v : nlohmann::json::array({v})) {
        if (!z.is_number_integer()) fail(at, "must be an integer or a list of integers");
        const int64_t zv = z.is_number_unsigned() && z.get<uint64_t>() > 65535 ? 65536 : z.get<int64_t>();
        if (zv < -65536 || zv > 65536) fail(at, "zero points must lie within 16 bits");
        g.zero_point.push_back(static_cast<int32_t>(zv));
      }
    } else if (k == "signed" || k == "narrow" || k == "binary") {
      if (!v.is_boolean()) fail(at, "must be true or false");
      (k == "signed" ? g.is_signed : k == "narrow" ? g.narrow : g.binary) = v.get<bool>();
    } else {
      fail(at, "unknown key (expected scale, zero_point, signed, narrow, binary)");
    }
  }
  return g;
}

nlohmann::json trained_grid_json(const TrainedGrid& g) {
  nlohmann::json j;
  j["scale"] = g.scale.size() == 1 ? nlohmann::json(g.scale[0]) : nlohmann::json(g.scale);
  if (!g.zero_point.empty())
    j["zero_point"] = g.zero_point.size() == 1 ? nlohmann::json(g.zero_point[0]) : nlohmann::json(g.zero_point);
  j["signed"] = g.is_signed;
  if (g.narrow) j["narrow"] = true;
  if (g.binary) j["binary"] = true;
  return j;
}

}  // namespace bitlane::quant
