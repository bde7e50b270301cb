// Running the bitlane binary from tests: capture its exit status, stdout
// and stderr; read files; parse the CSV it writes.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bitlane::test {

// The bundled MLP's folder in the build tree.
inline const std::string kMlp = std::string(BITLANE_MODELS_DIR) + "/mlp";

struct Result {
  int status;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `bitlane ARGS` through the shell, capturing stdout and stderr;
// `shell_prefix` runs first in the same shell (e.g. "ulimit -v 1048576; ").
inline Result cli(const std::string& args, const std::string& shell_prefix = "") {
  static int n = 0;
  const std::string base = "/tmp/bitlane_cli_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  const std::string cmd = shell_prefix + std::string(BITLANE_CLI) + " " + args + " > " + base + ".out 2> " + base + ".err";
  const int rc = std::system(cmd.c_str());
  Result r{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(base + ".out"), slurp(base + ".err")};
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

inline std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cell += '"', ++i;
        else if (c == '"') quoted = false;
        else cell += c;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

}  // namespace bitlane::test
