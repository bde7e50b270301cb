// The layers of docs/ARCHITECTURE.md know only the layers below them:
//   core <- swar <- quant <- ops <- runtime <- apps
// Every #include "<folder>/..." in a layer's sources must name its own
// folder or one below. (The per-layer test programs also link only their
// layer and those below, so calls up the stack fail to link.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
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

// The folder of a quoted include line (`#include "ops/op.h"` -> "ops",
// spaces allowed around '#'), or "" for any other line.
std::string included_folder(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] != '#') return "";
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string::npos || line.compare(i, 7, "include") != 0) return "";
  i = line.find_first_not_of(" \t", i + 7);
  if (i == std::string::npos || line[i] != '"') return "";
  const size_t slash = line.find('/', i + 1), end = line.find('"', i + 1);
  if (slash == std::string::npos || end == std::string::npos || slash > end) return "";
  return line.substr(i + 1, slash - i - 1);
}

// Include lines of `path` that reach a layer above `rank`.
std::vector<std::string> upward_includes(const std::filesystem::path& path, int rank) {
  std::ifstream in(path);
  std::vector<std::string> bad;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (rank_of(included_folder(line)) > rank) bad.push_back(path.string() + ":" + std::to_string(n) + ": " + line);
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
    out << "#pragma once\n#include \"core/error.h\"\n  #include \"ops/op.h\"\n#include <vector>\n"
           "#  include \"apps/cli_common.h\"\n// #include \"apps/commands.h\"\n#include \"runtime.h\"\n";
  }
  const auto bad = upward_includes(tmp, rank_of("swar"));
  const auto bad_for_ops = upward_includes(tmp, rank_of("ops"));
  const auto bad_for_apps = upward_includes(tmp, rank_of("apps"));
  fs::remove(tmp);
  // Lines 3 and 5; not the comment (6) or an include without a folder (7).
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].find(":3:") != std::string::npos);
  CHECK(bad[1].find(":5:") != std::string::npos);
  REQUIRE(bad_for_ops.size() == 1);
  CHECK(bad_for_ops[0].find(":5:") != std::string::npos);
  CHECK(bad_for_apps.empty());
}
