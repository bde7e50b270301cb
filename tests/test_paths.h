// Where tests find bundled data: the source tree (models/data) and the
// imported models in the build tree.
#pragma once

#include <cstdlib>
#include <string>

namespace bitlane::test {

inline std::string source_path(const std::string& rel) { return std::string(BITLANE_SOURCE_DIR) + "/" + rel; }
inline std::string model_path(const std::string& name) {
  return std::string(BITLANE_MODELS_DIR) + "/" + name + "/model.json";
}
inline std::string model_file(const std::string& name, const std::string& file) {
  return std::string(BITLANE_MODELS_DIR) + "/" + name + "/" + file;
}

// Quick mode: builds under a sanitizer (5-20x slower) and emulated runs
// (BITLANE_TEST_QUICK=1, set for qemu) run the statistical checks on fewer
// samples -- with noise bounds computed for that sample count -- and keep every
// other assertion as it is. Release builds always run them in full.
// Built with ASan or TSan (gcc's and clang's ways of saying so).
constexpr bool under_sanitizer() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#endif
#endif
  return false;
}

inline bool quick() {
  if (under_sanitizer()) return true;
  const char* env = std::getenv("BITLANE_TEST_QUICK");
  return env && *env && *env != '0';
}

}  // namespace bitlane::test
