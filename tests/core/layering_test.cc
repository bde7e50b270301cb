// The layers of docs/ARCHITECTURE.md know only the layers below them:
//   core <- swar <- quant <- ops <- runtime <- apps
// Every #include "<folder>/..." in a layer's sources must name its own
// folder or one below. (The per-layer test programs also link only their
// layer and those below, so calls up the stack fail to link.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <unistd.h>

#include "tests/test_paths.h"

namespace {

const std::vector<std::string> kLayers = {"core", "swar", "quant", "ops", "runtime", "apps"};

int rank_of(const std::string& folder) {
  for (size_t i = 0; i < kLayers.size(); ++i)
    if (kLayers[i] == folder) return static_cast<int>(i);
  return -1;
}

// Include lines of `path` that reach a layer above `rank`.
std::vector<std::string> upward_includes(const std::filesystem::path& path, int rank) {
  static const std::regex include(R"re(^\s*#\s*include\s*"([a-z_]+)/[^"]*")re");
  std::ifstream in(path);
  std::vector<std::string> bad;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (std::regex_search(line, m, include) && rank_of(m[1]) > rank)
      bad.push_back(path.string() + ":" + std::to_string(n) + ": " + line);
  }
  return bad;
}

}  // namespace

TEST_CASE("layering: no layer includes a layer above it") {
  namespace fs = std::filesystem;
  int files = 0;
  std::vector<std::string> bad;
  for (size_t rank = 0; rank < kLayers.size(); ++rank) {
    const fs::path dir = bitlane::test::source_path(kLayers[rank]);
    REQUIRE(fs::is_directory(dir));
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc" && ext != ".c") continue;
      ++files;
      for (const std::string& b : upward_includes(entry.path(), static_cast<int>(rank))) bad.push_back(b);
    }
  }
  CHECK(files > 50);
  for (const std::string& b : bad) FAIL_CHECK("include against the arrows: " << b);
}

TEST_CASE("layering: the check sees an include against the arrows") {
  // A file of the swar layer that includes ops/ must be reported.
  namespace fs = std::filesystem;
  const fs::path tmp = fs::temp_directory_path() / ("bitlane_layering_" + std::to_string(::getpid()) + ".h");
  {
    std::ofstream out(tmp);
    out << "#pragma once\n#include \"core/error.h\"\n  #include \"ops/op.h\"\n#include <vector>\n";
  }
  const auto bad = upward_includes(tmp, rank_of("swar"));
  fs::remove(tmp);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].find(":3:") != std::string::npos);
  CHECK(upward_includes(tmp, rank_of("ops")).empty());
}
