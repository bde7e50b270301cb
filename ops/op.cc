#include "ops/op.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace bitlane::ops {

using json = nlohmann::json;

OpBuilder::OpBuilder(const std::string& where, const std::string& name, const json& attributes,
                     const Weights& weights)
    : where_(where), name_(name), attrs_(attributes), weights_(weights) {}

int64_t twin_elements(const Shape& s, DType type) {
  const int64_t bytes = numel(s) * static_cast<int64_t>(dtype_size(type));
  return (bytes + 64 + 63) / 64 * 16 + 16;  // the twin starts up to 60 bytes after the floats' end
}

void OpBuilder::error(const char* key, const std::string& reason) const {
  fail(where_ + (key ? std::string(": attribute '") + key + "'" : std::string()), reason);
}

const json& OpBuilder::attr(const char* key) const {
  read_.emplace_back(key);
  return attrs_.at(key);
}

bool OpBuilder::has(const char* key) const { return attrs_.is_object() && attrs_.contains(key); }

int64_t OpBuilder::get_int(const char* key) const {
  if (!has(key)) error(key, "is required");
  const json& v = attr(key);
  if (!v.is_number_integer()) error(key, "must be an integer, got " + v.dump());
  return v.get<int64_t>();
}

int64_t OpBuilder::get_int(const char* key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double OpBuilder::get_float(const char* key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = attr(key);
  if (!v.is_number()) error(key, "must be a number, got " + v.dump());
  return v.get<double>();
}

bool OpBuilder::get_bool(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = attr(key);
  if (!v.is_boolean()) error(key, "must be true or false, got " + v.dump());
  return v.get<bool>();
}

std::vector<int64_t> OpBuilder::get_ints(const char* key, std::vector<int64_t> fallback) const {
  if (!has(key)) return fallback;
  const json& v = attr(key);
  if (!v.is_array()) error(key, "must be a list of integers, got " + v.dump());
  std::vector<int64_t> out;
  for (const json& x : v) {
    if (!x.is_number_integer()) error(key, "must be a list of integers, got " + v.dump());
    out.push_back(x.get<int64_t>());
  }
  return out;
}

std::vector<std::string> OpBuilder::get_strings(const char* key) const {
  if (!has(key)) error(key, "is required");
  const json& v = attr(key);
  if (!v.is_array()) error(key, "must be a list of names, got " + v.dump());
  std::vector<std::string> out;
  for (const json& x : v) {
    if (!x.is_string()) error(key, "must be a list of names, got " + v.dump());
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::string OpBuilder::get_string(const char* key) const {
  const json& v = attr(key);
  if (!v.is_string()) error(key, "must be a string, got " + v.dump());
  return v.get<std::string>();
}

std::shared_ptr<const Tensor> OpBuilder::weight_named(const std::string& name, const char* key) const {
  auto t = weights_.find(name);
  if (!t) error(key, "names weight '" + name + "', which " + weights_.origin() + " does not contain");
  used_weights_.push_back(name);
  return t;
}

std::shared_ptr<const Tensor> OpBuilder::weight(const char* key) const {
  if (!has(key)) error(key, "is required (the name of a weight)");
  const json& v = attr(key);
  if (!v.is_string()) error(key, "must be the name of a weight, got " + v.dump());
  return weight_named(v.get<std::string>(), key);
}

std::shared_ptr<const Tensor> OpBuilder::optional_weight(const char* key) const {
  return has(key) ? weight(key) : nullptr;
}

void OpBuilder::check_unknown_attributes() const {
  if (attrs_.is_null()) return;
  if (!attrs_.is_object()) fail(where_, "'attributes' must be an object");
  for (auto it = attrs_.begin(); it != attrs_.end(); ++it)
    if (std::find(read_.begin(), read_.end(), it.key()) == read_.end())
      fail(where_ + ": attribute '" + it.key() + "'", "unknown attribute");
}

}  // namespace bitlane::ops
