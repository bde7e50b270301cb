// Builds small models in memory for tests: a JSON graph plus named weights.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model.h"
#include "runtime/safetensors.h"

namespace bitlane::test {

struct ModelBuilder {
  nlohmann::json doc = {{"format_version", 1}, {"weights", "w.safetensors"}, {"nodes", nlohmann::json::array()}};
  std::map<std::string, Tensor> weights;

  ModelBuilder& input(const std::string& name, Shape shape, const char* dtype = "float32") {
    doc["inputs"].push_back({{"name", name}, {"shape", shape}, {"dtype", dtype}});
    return *this;
  }
  ModelBuilder& output(const std::string& name) {
    doc["outputs"].push_back({{"name", name}});
    return *this;
  }
  ModelBuilder& node(const std::string& op, const std::string& name, std::vector<std::string> in,
                     std::vector<std::string> out, nlohmann::json attrs = nlohmann::json::object()) {
    doc["nodes"].push_back({{"op", op}, {"name", name}, {"inputs", in}, {"outputs", out}, {"attributes", attrs}});
    return *this;
  }
  // A weight with values from a fixed-seed uniform distribution.
  ModelBuilder& weight(const std::string& name, Shape shape, unsigned seed, float scale = 0.5f) {
    Tensor t(shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-scale, scale);
    for (int64_t i = 0; i < t.size(); ++i) t.f32()[i] = d(rng);
    weights[name] = std::move(t);
    return *this;
  }
  ModelBuilder& weight_values(const std::string& name, Shape shape, std::vector<float> v) {
    Tensor t(shape);
    std::copy(v.begin(), v.end(), t.f32());
    weights[name] = std::move(t);
    return *this;
  }
  std::vector<uint8_t> weight_bytes() const {
    std::vector<std::pair<std::string, const Tensor*>> list;
    for (const auto& [n, t] : weights) list.emplace_back(n, &t);
    return encode_safetensors(list);
  }
  std::shared_ptr<const Model> build() const {
    return Model::parse(doc.dump(), weight_bytes(), "test.json");
  }
};

inline Tensor random_tensor(Shape shape, unsigned seed, float lo = -1.f, float hi = 1.f) {
  Tensor t(std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i) t.f32()[i] = d(rng);
  return t;
}

}  // namespace bitlane::test
