// Bringing your own model, through the CLI as a user would: every importer
// mistake is one line naming the file and the problem (exit 1, no Python
// traceback), images feed flat inputs, calibration samples come from a
// folder / .safetensors / .npy, and README.md's "Your own model" commands run
// exactly as written.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "quant/plan.h"
#include "runtime/engine.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/apps/cli_helpers.h"
#include "tests/test_paths.h"

using namespace bitlane::test;

namespace {

// A fresh scratch folder per test case.
struct ImportScratch {
  std::string dir;
  ImportScratch() {
    static int n = 0;
    dir = "/tmp/bitlane_import_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  }
  ~ImportScratch() { std::system(("rm -rf " + dir).c_str()); }
  std::string operator/(const std::string& name) const { return dir + "/" + name; }
};

const std::string kImageFolder = source_path("models/data/images");
const std::string kMlpOnnxFile = source_path("models/mlp/model.onnx");
const std::string kLabels = source_path("examples/own_model/labels.txt");

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The flat-input example model (examples/own_model) written to `path`.
void make_flat_mlp(const std::string& path) {
  REQUIRE(std::system(("/usr/bin/python3 " + source_path("examples/own_model/make_example_onnx.py") + " " + path)
                          .c_str()) == 0);
}

// One error line on stderr, no traceback.
void check_one_line(const Result& r, const std::string& expected) {
  CAPTURE(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find(expected) != std::string::npos);
  CHECK(r.err.find("Traceback") == std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("import: each user mistake is one line naming the file and the problem") {
  ImportScratch s;
  check_one_line(cli("import " + s / "none.onnx" + " -o " + s / "m/model.json"),
                 s / "none.onnx" + ": no such file");
  write(s / "garbage.onnx", "this is not a protobuf");
  check_one_line(cli("import " + s / "garbage.onnx" + " -o " + s / "m/model.json"),
                 s / "garbage.onnx" + ": not a readable ONNX model");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --meta " + s / "none.json"),
                 s / "none.json" + ": cannot read the metadata file");
  write(s / "bad.json", "{\"inputs\": [");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --meta " + s / "bad.json"),
                 s / "bad.json" + ": not valid JSON");
  write(s / "list.json", "[1, 2]");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --meta " + s / "list.json"),
                 s / "list.json" + ": the metadata must be a JSON object");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --image 28by28"),
                 "--image: expected HEIGHTxWIDTH");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --image 28x28 --color rgb --mean 1,2"),
                 "--mean: 2 values for 3 channel(s) (rgb)");
  check_one_line(cli("import " + kMlpOnnxFile + " -o " + s / "m/model.json --labels " + s / "none.txt"),
                 s / "none.txt" + ": cannot read the labels");
  // An operator bitlane lacks, named with its node.
  const std::string make_unsupported =
      "/usr/bin/python3 -c \"import onnx; from onnx import helper as h, TensorProto as T; "
      "g = h.make_graph([h.make_node('Erf', ['x'], ['y'], name='my_erf')], 'g', "
      "[h.make_tensor_value_info('x', T.FLOAT, [1, 4])], [h.make_tensor_value_info('y', T.FLOAT, [1, 4])]); "
      "onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), '" + s / "erf.onnx" + "')\"";
  REQUIRE(std::system(make_unsupported.c_str()) == 0);
  check_one_line(cli("import " + s / "erf.onnx" + " -o " + s / "m/model.json"),
                 "node 'my_erf' (Erf): unsupported operator Erf");
  // Nothing half-written by any of them.
  struct stat st {};
  CHECK(stat((s / "m/model.json").c_str(), &st) != 0);
}

TEST_CASE("import: the output folder is created, and the options describe an image classifier") {
  ImportScratch s;
  const Result r = cli("import " + kMlpOnnxFile + " -o " + s / "new/deeper/model.json --image 28x28 --mean 0.286 "
                       "--std 0.353 --labels " + kLabels);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto doc = nlohmann::json::parse(slurp(s / "new/deeper/model.json"));
  const auto& pre = doc["inputs"][0]["preprocessing"];
  CHECK(pre["size"] == nlohmann::json({28, 28}));
  CHECK(pre["color"] == "gray");
  CHECK(pre["mean"] == nlohmann::json({0.286}));
  CHECK(pre["std"] == nlohmann::json({0.353}));
  CHECK(std::abs(pre["scale"].get<double>() - 1.0 / 255) < 1e-12);
  CHECK(doc["labels"].size() == 10);
  CHECK(doc["labels"][9] == "Ankle boot");
  // The same model as the bundled MLP (whose meta file says the same): the
  // same logits, bit for bit.
  const Result ours = cli("run " + s / "new/deeper" + " " + kImageFolder + " -k 3 --quant fp32");
  const Result bundled = cli("run " + kMlp + " " + kImageFolder + " -k 3 --quant fp32");
  REQUIRE(ours.status == 0);
  CHECK(ours.out == bundled.out);
}

TEST_CASE("import: an MLP on flat 784-value inputs classifies images (flattened in C, H, W order)") {
  ImportScratch s;
  make_flat_mlp(s / "flat.onnx");
  const Result r = cli("import " + s / "flat.onnx" + " -o " + s / "flat/model.json --image 28x28 --mean 0.286 "
                       "--std 0.353 --labels " + kLabels);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto doc = nlohmann::json::parse(slurp(s / "flat/model.json"));
  CHECK(doc["inputs"][0]["shape"] == nlohmann::json({784}));
  // The bundled MLP flattens [1, 28, 28] itself: the flat model given the
  // image flattened by bitlane must agree exactly.
  const Result flat = cli("run " + s / "flat" + " " + kImageFolder + " -k 3 --quant fp32");
  const Result bundled = cli("run " + kMlp + " " + kImageFolder + " -k 3 --quant fp32");
  REQUIRE_MESSAGE(flat.status == 0, flat.err);
  CHECK(flat.out == bundled.out);
  // A preprocessing whose pixel count matches neither shape is refused with both.
  nlohmann::json bad = doc;
  bad["inputs"][0]["preprocessing"]["size"] = {27, 28};
  write(s / "flat/model.json", bad.dump());
  const Result refused = cli("info " + s / "flat");
  CHECK(refused.status == 1);
  CHECK(refused.err.find("preprocessing produces [1, 27, 28] (756 values) but the input shape is [784] "
                         "(expected [1, 27, 28] or [756])") != std::string::npos);
}

TEST_CASE("calibration: samples from a folder, a .safetensors or a .npy file, and the option named when missing") {
  ImportScratch s;
  make_flat_mlp(s / "flat.onnx");
  REQUIRE(cli("import " + s / "flat.onnx" + " -o " + s / "m/model.json --image 28x28 --labels " + kLabels).status == 0);
  // No samples anywhere: the error says which option to add (a usage error).
  const Result missing = cli("run " + s / "m" + " " + kImageFolder + " --bits 4");
  CHECK(missing.status == 2);
  CHECK(missing.err.find("names none: add --calibration") != std::string::npos);
  CHECK(cli("eval " + s / "m" + " " + kImageFolder + " --bits 4").err.find("add --calibration") != std::string::npos);
  CHECK(cli("bench " + s / "m" + " --bits 4 --min-time 0.01").err.find("add --calibration") != std::string::npos);
  // fp32 needs none.
  CHECK(cli("run " + s / "m" + " " + kImageFolder + " --quant fp32").status == 0);

  // From the folder: 16 files spread over the 300 (sorted), as stored by import.
  const Result from_dir = cli("eval " + s / "m" + " " + kImageFolder + " --bits 4 --calibration " + kImageFolder +
                              " --calibration-samples 16 --json");
  REQUIRE_MESSAGE(from_dir.status == 0, from_dir.err);
  REQUIRE(cli("import " + s / "flat.onnx" + " -o " + s / "stored/model.json --image 28x28 --labels " + kLabels +
              " --calibration " +
              kImageFolder + " --calibration-samples 16").status == 0);
  const auto doc = nlohmann::json::parse(slurp(s / "stored/model.json"));
  CHECK(doc["calibration"] == nlohmann::json({{"file", "model.calibration.safetensors"}, {"tensor", "samples"}}));
  const Result stored = cli("eval " + s / "stored" + " " + kImageFolder + " --bits 4 --json");
  REQUIRE_MESSAGE(stored.status == 0, stored.err);
  auto top1 = [](const std::string& json) { return nlohmann::json::parse(json)["top1"].get<double>(); };
  CHECK(top1(stored.out) == top1(from_dir.out));  // the same 16 samples either way

  // The stored file as a --calibration source (its one tensor), and the
  // same values as a .npy written here by hand: all three agree.
  const Result from_st = cli("eval " + s / "m" + " " + kImageFolder + " --bits 4 --json --calibration " +
                             s / "stored/model.calibration.safetensors");
  REQUIRE_MESSAGE(from_st.status == 0, from_st.err);
  CHECK(top1(from_st.out) == top1(from_dir.out));
  {
    const std::string st = slurp(s / "stored/model.calibration.safetensors");
    uint64_t header = 0;
    std::memcpy(&header, st.data(), 8);
    const std::string data = st.substr(8 + header);
    REQUIRE(data.size() == 16 * 784 * 4);
    std::string npy_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 784), }";
    npy_header.append(64 - (10 + npy_header.size() + 1) % 64, ' ');
    npy_header += '\n';
    std::string npy = std::string("\x93NUMPY\x01\x00", 8);
    npy += static_cast<char>(npy_header.size() & 0xff);
    npy += static_cast<char>(npy_header.size() >> 8);
    write(s / "samples.npy", npy + npy_header + data);
  }
  const Result from_npy = cli("eval " + s / "m" + " " + kImageFolder + " --bits 4 --json --calibration " + s / "samples.npy");
  REQUIRE_MESSAGE(from_npy.status == 0, from_npy.err);
  CHECK(top1(from_npy.out) == top1(from_dir.out));

  // Sources that cannot serve: one line each, naming them.
  write(s / "junk.npy", "not numpy");
  const Result junk = cli("run " + s / "m" + " " + kImageFolder + " --bits 4 --calibration " + s / "junk.npy");
  CHECK(junk.status == 1);
  CHECK(junk.err.find(s / "junk.npy" + ": not a NumPy .npy file") != std::string::npos);
  const Result nowhere = cli("run " + s / "m" + " " + kImageFolder + " --bits 4 --calibration " + s / "none");
  CHECK(nowhere.err.find(s / "none" + ": no such calibration folder or file") != std::string::npos);
  write(s / "notes.txt", "x");
  const Result txt = cli("run " + s / "m" + " " + kImageFolder + " --bits 4 --calibration " + s / "notes.txt");
  CHECK(txt.err.find("calibration samples come from an image folder, a .safetensors or a .npy file") !=
        std::string::npos);
}

TEST_CASE("README: the 'Your own model' commands run as written") {
  // The section's code block, line by line, in a scratch folder where
  // build/release/bitlane is this build's binary and models/, examples/ are
  // the source tree's.
  const std::string readme = slurp(source_path("README.md"));
  const size_t at = readme.find("## Your own model");
  REQUIRE(at != std::string::npos);
  const size_t open = readme.find("```sh\n", at), close = readme.find("```\n", open + 6);
  REQUIRE(open != std::string::npos);
  REQUIRE(close != std::string::npos);
  std::vector<std::string> commands;
  std::stringstream block(readme.substr(open + 6, close - open - 6));
  for (std::string line; std::getline(block, line);) {
    const size_t hash = line.find(" #");
    if (hash != std::string::npos) line = line.substr(0, hash);  // trailing comments
    if (!line.empty() && line[0] != '#') commands.push_back(line);
  }
  CHECK(commands.size() == 4);
  ImportScratch s;
  REQUIRE(std::system(("mkdir -p " + s / "build/release && ln -s " + std::string(BITLANE_CLI) + " " +
                       s / "build/release/bitlane && ln -s " + source_path("models") + " " + s / "models && ln -s " +
                       source_path("examples") + " " + s / "examples").c_str()) == 0);
  std::string last_out;
  for (const std::string& c : commands) {
    CAPTURE(c);
    const std::string out = s / "out.txt";
    const int rc = std::system(("cd " + s.dir + " && " + c + " > " + out + " 2>&1").c_str());
    last_out = slurp(out);
    CAPTURE(last_out);
    REQUIRE(rc == 0);
  }
  // The last command evaluates the imported model at 4 bits on the bundled
  // images: as accurate as the bundled MLP (90% top-1 at 4 bits) within 2%.
  const size_t top1 = last_out.find("top-1: ");
  REQUIRE(top1 != std::string::npos);
  CHECK(std::strtod(last_out.c_str() + top1 + 7, nullptr) > 88.0);
}

TEST_CASE("import: networks trained at low precision (QONNX Quant/BipolarQuant, ONNX QDQ) run on their trained grids") {
  // The reference is the networks' own fake-quantized forward pass, computed
  // with numpy by the script that writes them (tests/data/qat).
  ImportScratch s;
  REQUIRE(std::system(("/usr/bin/python3 " + source_path("tests/data/qat/make_qat_models.py") + " " + s.dir).c_str()) == 0);
  bitlane::Executor ex(1);
  for (const std::string name : {"qonnx_mlp", "qdq_cnn"}) {
    CAPTURE(name);
    const Result r = cli("import " + s / (std::string(name) + ".onnx") + " -o " + s / (std::string(name) + "/model.json"));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto st = bitlane::SafeTensorsFile::load(s / (std::string(name) + ".safetensors"));
    const bitlane::Tensor x = st.read_f32(*st.find("inputs")), want = st.read_f32(*st.find("expected"));
    auto max_error = [&](const std::optional<bitlane::quant::QuantPlan>& plan) {
      const auto model = bitlane::Model::load(s / (std::string(name) + "/model.json"));
      bitlane::EngineOptions o;
      o.plan = plan;
      if (plan) o.calibration = {x};  // post-training quantization calibrates on the inputs
      auto engine = bitlane::Engine::build(model, o, ex);  // the model's own plan needs no samples
      bitlane::Session session(engine);
      const bitlane::Tensor& y = *session.run({x}, ex)[0];
      REQUIRE(y.size() == want.size());
      double worst = 0;
      for (int64_t i = 0; i < y.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(y.f32()[i]) - want.f32()[i]) / (1 + std::abs(want.f32()[i])));
      return worst;
    };
    const double trained = max_error(std::nullopt);
    CHECK(trained < 1e-5);
    // Post-training quantization at the same widths (calibrated ranges,
    // weights scaled by their range) lands elsewhere: the trained grids matter.
    const auto ptq = bitlane::quant::QuantPlan::from_text(std::string(name) == "qonnx_mlp" ? "w2a4" : "8", {});
    CHECK(max_error(ptq) > 100 * std::max(trained, 1e-7));
  }
  // Quantizers bitlane cannot honour are named, not approximated.
  const std::string make_floor =
      "/usr/bin/python3 -c \"import onnx, numpy as np; from onnx import helper as h, numpy_helper as nh, TensorProto as T; "
      "n = h.make_node('Quant', ['x', 's', 'z', 'b'], ['y'], domain='qonnx.custom_op.general', rounding_mode='FLOOR', name='q_floor'); "
      "g = h.make_graph([n], 'g', [h.make_tensor_value_info('x', T.FLOAT, [1, 4])], [h.make_tensor_value_info('y', T.FLOAT, [1, 4])], "
      "[nh.from_array(np.float32(v), k) for k, v in (('s', 0.5), ('z', 0), ('b', 4))]); "
      "onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), '" + s / "floor.onnx" + "')\"";
  REQUIRE(std::system(make_floor.c_str()) == 0);
  check_one_line(cli("import " + s / "floor.onnx" + " -o " + s / "floor/model.json"),
                 "node 'q_floor' (Quant): rounding_mode FLOOR is not supported");
}
