// bitlane import MODEL.onnx -o OUT.json: runs the ONNX importer
// (apps/onnx_import/bitlane_onnx_import.py, Debian's python3-onnx), then,
// with --calibration, stores calibration samples beside the model and names
// them in OUT.json, so quantized plans run with no further options.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/calibration_input.h"
#include "apps/cli_common.h"
#include "apps/commands.h"
#include "core/error.h"
#include "runtime/model.h"

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

// Runs the importer with `args`; its exit status.
int run_importer(const std::vector<std::string>& args) {
  const std::string script = find_importer();
  const std::string python = exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<std::string> all{python, script};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) fail("bitlane import", "cannot start " + python);
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "bitlane import: cannot run %s (install python3 and python3-onnx)\n", python.c_str());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("bitlane import", "lost the importer process");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// Samples from `source` stored as OUT's stem + ".calibration.safetensors",
// named in OUT's "calibration".
void store_calibration(const std::string& out, const std::string& source, int64_t count) {
  const auto model = Model::load(out);
  Executor ex(0);
  const std::vector<Tensor> samples = calibration_samples(*model, source, count, ex);
  const std::string stem = out.substr(0, out.size() - (out.size() > 5 && out.substr(out.size() - 5) == ".json" ? 5 : 0));
  const std::string file = stem + ".calibration.safetensors";
  write_samples(samples[0], file);
  std::ifstream in(out);
  nlohmann::json doc = nlohmann::json::parse(in);
  doc["calibration"] = {{"file", file.substr(file.find_last_of('/') + 1)}, {"tensor", "samples"}};
  const std::string tmp = out + ".tmp";
  {
    std::ofstream o(tmp);
    o << doc.dump(1) << "\n";
    if (!o) fail(out, "cannot write");
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) fail(out, "cannot write");
  std::fprintf(stderr, "bitlane import: %lld calibration samples from %s stored in %s\n",
               static_cast<long long>(samples[0].dim(0)), source.c_str(), file.c_str());
}

}  // namespace

int cmd_import(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout
        << "Usage: bitlane import MODEL.onnx -o OUT.json [--meta META.json] [--name NAME]\n"
           "                      [--image HxW] [--color gray|rgb|bgr] [--scale S] [--mean M] [--std S]\n"
           "                      [--labels FILE] [--calibration DIR|FILE] [--calibration-samples N]\n\n"
           "Converts an ONNX model (Gemm/MatMul, Conv, pooling, activations, BatchNormalization,\n"
           "Add, Concat, Flatten/Reshape, Softmax, LSTM, Gather) into bitlane's JSON graph and a\n"
           ".safetensors file beside it (folders are created), folding constants; unsupported\n"
           "operators and attributes are named in the error. Quantizers of a network trained at\n"
           "low precision (QuantizeLinear/DequantizeLinear, QONNX Quant/BipolarQuant) become its\n"
           "plan, so it runs on the grids it was trained for.\n\n"
           "  --image HxW        the input is an image of this size (flat inputs take it flattened)\n"
           "  --color            channel order the model wants: gray (default), rgb, bgr\n"
           "  --scale            pixel values 0..255 are multiplied by it (default 1/255)\n"
           "  --mean, --std      per channel (one value or a comma list): (pixel * scale - mean) / std\n"
           "  --labels FILE      class names, one per line (or a JSON list)\n"
           "  --meta FILE        the same and more as JSON (models/FORMAT.md)\n"
           "  --calibration SRC  store calibration samples with the model: an image folder, a\n"
           "                     .safetensors or a .npy file; quantized plans then need no option\n"
           "  --calibration-samples N   how many, spread evenly over SRC (default "
        << kDefaultCalibrationSamples
        << ")\n\n"
           "Needs Debian's python3-onnx and python3-numpy.\n\n"
           "Example:\n  bitlane import mnist.onnx -o mnist/model.json --image 28x28 --labels labels.txt "
           "--calibration digits/\n";
    return 0;
  }
  std::vector<std::string> pass;
  std::string out, calibration;
  int64_t count = kDefaultCalibrationSamples;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) {
      if (i + 1 >= argc) throw UsageError(std::string(flag) + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--calibration") {
      calibration = value("--calibration");
    } else if (a == "--calibration-samples") {
      const std::string v = value("--calibration-samples");
      size_t used = 0;
      try {
        count = std::stoll(v, &used);
      } catch (...) {
        used = 0;
      }
      if (used != v.size() || count < 1) throw UsageError("--calibration-samples: expected a positive integer, got '" + v + "'");
    } else {
      if ((a == "-o" || a == "--output") && i + 1 < argc) out = argv[i + 1];
      if (a.rfind("--output=", 0) == 0) out = a.substr(9);
      pass.push_back(a);
    }
  }
  if (!calibration.empty() && out.empty()) throw UsageError("--calibration needs the output given as -o OUT.json");
  const int status = run_importer(pass);
  if (status != 0 || calibration.empty()) return status;
  store_calibration(out, calibration, count);
  return 0;
}

}  // namespace bitlane::cli
