// Where tests find bundled data: the source tree (models/data) and the
// imported models in the build tree.
#pragma once

#include <string>

namespace bitlane::test {

inline std::string source_path(const std::string& rel) { return std::string(BITLANE_SOURCE_DIR) + "/" + rel; }
inline std::string model_path(const std::string& name) {
  return std::string(BITLANE_MODELS_DIR) + "/" + name + "/model.json";
}
inline std::string model_file(const std::string& name, const std::string& file) {
  return std::string(BITLANE_MODELS_DIR) + "/" + name + "/" + file;
}

}  // namespace bitlane::test
