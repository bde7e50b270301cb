// bitlane import MODEL.onnx -o OUT.json: runs the ONNX importer
// (apps/onnx_import/bitlane_onnx_import.py, Debian's python3-onnx).
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "core/error.h"

namespace bitlane::cli {
namespace {

bool exists(const std::string& p) {
  struct stat s {};
  return stat(p.c_str(), &s) == 0;
}

std::string find_importer() {
  if (const char* env = std::getenv("BITLANE_IMPORTER")) return env;
  char exe[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir = dir.substr(0, dir.find_last_of('/'));
    const std::string installed = dir + "/../share/bitlane/bitlane_onnx_import.py";
    if (exists(installed)) return installed;
  }
  const std::string source = std::string(BITLANE_SOURCE_DIR) + "/apps/onnx_import/bitlane_onnx_import.py";
  if (exists(source)) return source;
  fail("bitlane import", "cannot find bitlane_onnx_import.py (set BITLANE_IMPORTER)");
}

}  // namespace

int cmd_import(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "Usage: bitlane import MODEL.onnx -o OUT.json [--meta META.json] [--name NAME]\n\n"
                 "Converts an ONNX model (Gemm/MatMul, Conv, pooling, activations, BatchNormalization,\n"
                 "Add, Concat, Flatten/Reshape, Softmax, LSTM, Gather) into bitlane's JSON graph and a\n"
                 ".safetensors file beside it, folding constants; unsupported operators and attributes\n"
                 "are named in the error. --meta adds preprocessing, labels, vocabulary, calibration\n"
                 "(models/FORMAT.md). Needs Debian's python3-onnx and python3-numpy.\n\n"
                 "Example:\n  bitlane import resnet.onnx -o resnet/model.json --meta resnet.meta.json\n";
    return 0;
  }
  const std::string script = find_importer();
  const std::string python = exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<char*> args{const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str())};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::fflush(nullptr);
  execvp(args[0], args.data());
  fail("bitlane import", "cannot run " + python + " (install python3 and python3-onnx)");
}

}  // namespace bitlane::cli
