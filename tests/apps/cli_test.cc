// The bitlane binary end to end on the bundled data: outputs equal what the
// library computes, CSV parses, exit codes, bad files named on stderr,
// shards concatenating to the full output, and thread-count independence.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "runtime/engine.h"
#include "runtime/image/image.h"
#include "runtime/session.h"
#include "swar/gemm.h"
#include "swar/targets.h"
#include "tests/apps/cli_helpers.h"
#include "tests/test_paths.h"

using namespace bitlane;
using namespace bitlane::test;

namespace {

const std::string kModel = std::string(BITLANE_MODELS_DIR) + "/lenet";
const std::string kImages = test::source_path("models/data/images");
const std::string kBad = test::source_path("models/data/bad");

}  // namespace

TEST_CASE("run: CSV of the bundled folder parses and matches the library") {
  const Result r = cli("run " + kModel + " " + kImages + " --top-k 3 --threads 2");
  REQUIRE(r.status == 0);
  const auto rows = parse_csv(r.out);
  REQUIRE(rows.size() == 301);  // header + 300 images
  CHECK(rows[0] == std::vector<std::string>{"path", "label1", "score1", "label2", "score2", "label3", "score3"});
  CHECK(r.err.find("300 images, 0 failed") != std::string::npos);

  // The library on the same files, one at a time.
  const auto model = Model::load(kModel + "/model.json");
  Executor ex(1);
  Session s(Engine::build(model, {}, ex));
  const Preprocessing& pre = *model->inputs()[0].preprocessing;
  for (size_t i = 1; i < rows.size(); i += 37) {
    Tensor x({1, 1, pre.height, pre.width});
    preprocess(load_image(rows[i][0]), pre, x.f32());
    const Tensor& y = *s.run({x}, ex)[0];
    int64_t best = 0;
    double sum = 0, mx = *std::max_element(y.f32(), y.f32() + 10);
    for (int64_t c = 0; c < 10; ++c) {
      sum += std::exp(y.f32()[c] - mx);
      if (y.f32()[c] > y.f32()[best]) best = c;
    }
    CHECK(rows[i][1] == model->labels()[static_cast<size_t>(best)]);
    CHECK(std::stod(rows[i][2]) == doctest::Approx(1 / sum).epsilon(1e-5));
  }
}

TEST_CASE("run: bad files are named with their reason, processing continues, exit 1") {
  const Result r = cli("run " + kModel + " " + kBad + " " + kImages + "/bag");
  CHECK(r.status == 1);
  for (const char* f : {"empty.png", "truncated.png", "text-named.png", "huge-header.png", "bad-crc.png",
                        "truncated.jpg", "truncated.bmp", "bad-maxval.pgm", "zero-size.ppm"})
    CHECK_MESSAGE(r.err.find(std::string("bad/") + f + ": ") != std::string::npos, f);
  CHECK(parse_csv(r.out).size() == 1 + 26);  // the bag images still classified
  CHECK(cli("run " + kModel + " " + kBad + " --allow-failures").status == 0);
}

TEST_CASE("run: usage errors exit 2, missing inputs exit 1 with the path") {
  CHECK(cli("run " + kModel).status == 2);
  CHECK(cli("run " + kModel + " " + kImages + " --top-k 0").status == 2);
  CHECK(cli("run " + kModel + " " + kImages + " --shard 3/3").status == 2);
  CHECK(cli("run " + kModel + " " + kImages + " --bogus").status == 2);
  const Result missing = cli("run " + kModel + " /nonexistent/folder");
  CHECK(missing.status == 1);
  CHECK(missing.err.find("/nonexistent/folder: No such file or directory") != std::string::npos);
  const Result no_model = cli("run /nonexistent/model.json " + kImages);
  CHECK(no_model.status == 1);
  CHECK(no_model.err.find("/nonexistent/model.json: no such model file or folder") != std::string::npos);
  CHECK(cli("bogus").status == 2);
  CHECK(cli("--version").out.find("bitlane ") == 0);
  for (const char* sub : {"run", "eval", "bench", "info", "import", "selfcheck"}) {
    const Result h = cli(std::string(sub) + " --help");
    CHECK_MESSAGE(h.status == 0, sub);
    CHECK_MESSAGE(h.out.find("xample") != std::string::npos, sub);  // every --help has examples
  }
}

TEST_CASE("selfcheck: every method and Winograd bit-exact on every target, exit 0") {
  const Result r = cli("selfcheck --threads 2");
  CHECK(r.status == 0);
  CHECK(r.out.find("MISMATCH") == std::string::npos);
  CHECK(r.out.find("winograd 3x3: ok") != std::string::npos);
  CHECK(r.out.find("selfcheck passed") != std::string::npos);
}

TEST_CASE("run: shard outputs concatenate to the full output, threads do not change it") {
  const Result full = cli("run " + kModel + " " + kImages + " --threads 1 --batch 7");
  REQUIRE(full.status == 0);
  std::string joined;
  for (int i = 0; i < 3; ++i) {
    const Result part = cli("run " + kModel + " " + kImages + " --shard " + std::to_string(i) + "/3 --threads 2");
    REQUIRE(part.status == 0);
    joined += part.out;
  }
  CHECK(joined == full.out);
  const Result quantized1 = cli("run " + kModel + " " + kImages + " --bits 4 --threads 1");
  const Result quantized2 = cli("run " + kModel + " " + kImages + " --bits 4 --threads 2 --batch 64");
  CHECK(quantized1.out == quantized2.out);
}

TEST_CASE("run: JSON lines and -o writes only a complete file") {
  const std::string out = "/tmp/bitlane_cli_test_" + std::to_string(getpid()) + ".jsonl";
  const Result r = cli("run " + kModel + " " + kImages + "/bag --format jsonl -k 2 -o " + out);
  REQUIRE(r.status == 0);
  const std::string text = slurp(out);
  std::remove(out.c_str());
  CHECK(std::count(text.begin(), text.end(), '\n') == 26);
  CHECK(text.find("{\"path\": ") == 0);
  CHECK(text.find("\"top\": [{\"label\": \"Bag\"") != std::string::npos);
  // An unwritable destination: error, and no partial file left behind.
  const Result bad = cli("run " + kModel + " " + kImages + "/bag -o /nonexistent/dir/out.csv");
  CHECK(bad.status == 1);
  CHECK(bad.err.find("/nonexistent/dir/out.csv: cannot create the output file") != std::string::npos);
}

TEST_CASE("run: a path with a comma, quotes and a control character is one CSV field and a JSON string") {
  // A folder named  a,b "q"<0x01>  holding one bundled image; the expected
  // fields are written out by hand (RFC 4180 quoting; JSON \" and \u0001).
  const std::string dir = "/tmp/bitlane_cli_test_" + std::to_string(getpid()) + "_odd";
  const std::string odd = dir + "/a,b \"q\"\x01";
  std::filesystem::create_directories(odd);
  std::filesystem::copy_file(kImages + "/bag/1014.png", odd + "/1014.png");
  const Result csv = cli("run " + kModel + " '" + odd + "' -k 2");
  const Result jsonl = cli("run " + kModel + " '" + odd + "' -k 2 --format jsonl");
  std::filesystem::remove_all(dir);
  REQUIRE(csv.status == 0);
  REQUIRE(jsonl.status == 0);
  const std::string csv_path = "\"" + dir + "/a,b \"\"q\"\"\x01/1014.png\",";
  CHECK(csv.out.find("\n" + csv_path + "Bag,") != std::string::npos);
  const std::string json_path = "{\"path\": \"" + dir + "/a,b \\\"q\\\"\\u0001/1014.png\", \"top\": [{\"label\": \"Bag\", \"index\": 8, ";
  CHECK(jsonl.out.rfind(json_path, 0) == 0);
  const auto parsed = nlohmann::json::parse(jsonl.out);
  CHECK(parsed["path"] == odd + "/1014.png");
  CHECK(parsed["top"].size() == 2);
}

TEST_CASE("eval: folder per class and CSV give the same accuracy, info and bench run") {
  const Result folders = cli("eval " + kModel + " " + kImages + " --json");
  REQUIRE(folders.status == 0);
  // The same labels as a CSV.
  const std::string csv = "/tmp/bitlane_cli_test_" + std::to_string(getpid()) + ".csv";
  {
    std::ofstream out(csv);
    out << "path,label\n";
    const Result listing = cli("run " + kModel + " " + kImages + " -k 1");
    for (const auto& row : parse_csv(listing.out)) {
      if (row[0] == "path") continue;
      const std::string folder = row[0].substr(0, row[0].find_last_of('/'));
      out << row[0] << "," << folder.substr(folder.find_last_of('/') + 1) << "\n";
    }
  }
  const Result from_csv = cli("eval " + kModel + " " + csv + " --json");
  std::remove(csv.c_str());
  REQUIRE(from_csv.status == 0);
  auto top1 = [](const std::string& s) { return s.substr(s.find("\"top1\""), 30); };
  CHECK(top1(folders.out) == top1(from_csv.out));
  CHECK(cli("info " + kModel).out.find("parameters: 61706") != std::string::npos);
  const Result bench = cli("bench " + kModel + " --bits fp32,4 --min-time 0.05 --warmup 1");
  CHECK(bench.status == 0);
  CHECK(bench.out.find("| 1 | 4 | 1 |") != std::string::npos);
  // Each plan names the integer kernels its layers ran on (none for fp32).
  const Result bj = cli("bench " + kModel + " --bits fp32,4 --min-time 0.05 --warmup 1 --format json");
  REQUIRE(bj.status == 0);
  const auto results = nlohmann::json::parse(bj.out)["results"];
  REQUIRE(results.size() == 2);
  CHECK(results[0]["kernels"] == "");
  // Layers may run on different methods ("int8+widemul" on a baseline-only
  // build), and a layer's single rows on another ("int7 (1 row: bitserial)"):
  // every '+'-separated name, and the one in parentheses, is one of the
  // method table's.
  const std::string k4 = results[1]["kernels"];
  REQUIRE(!k4.empty());
  const auto& methods = swar::all_methods();
  auto check_name = [&](const std::string& name) {
    CHECK_MESSAGE(std::any_of(methods.begin(), methods.end(), [&](swar::GemmMethod m) { return name == swar::method_name(m); }),
                  "'" << name << "' in '" << k4 << "'");
  };
  const std::string one_row = " (1 row: ";
  for (size_t b = 0; b <= k4.size();) {
    const size_t e = std::min(k4.find('+', b), k4.size());
    const std::string name = k4.substr(b, e - b);
    const size_t open = name.find(one_row);
    check_name(name.substr(0, open));
    if (open != std::string::npos) {
      CHECK(name.back() == ')');
      check_name(name.substr(open + one_row.size(), name.size() - 1 - open - one_row.size()));
    }
    b = e + 1;
  }
}

TEST_CASE("bench: BITLANE_TARGET holds for an fp32 plan that runs before any integer kernel") {
  // The variable used to be applied at the first GEMM call, so an fp32 plan
  // measured first ran on the CPU's best target under a header that named
  // the forced one.
  const auto targets = swar::available_targets();
  if (targets.size() < 2) {
    MESSAGE("skipped: this build has one SIMD target");
    return;
  }
  const std::string lowest = targets.back().name;
  const Result r = cli("bench " + kModel + " --bits fp32,4 --min-time 0.01 --warmup 1 --format json",
                       "BITLANE_TARGET=" + lowest + " ");
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["simd"] == lowest);
  REQUIRE(j["results"].size() == 2);
  CHECK(j["results"][0]["plan"] == "fp32");
  CHECK(j["results"][0]["simd"] == lowest);
  CHECK(j["results"][1]["simd"] == lowest);
}

TEST_CASE("eval: char_lstm bits per character on the bundled text agree with the README table") {
  // The table (models/accuracy.json) is measured on all of WikiText-2 test.txt;
  // the bundled 20000 characters are its start, so allow 0.1 bits.
  std::ifstream in(test::source_path("models/accuracy.json"));
  const auto table = nlohmann::json::parse(in);
  // Quick mode (sanitizers) checks one plan: the quantized paths are checked
  // bit for bit elsewhere.
  const std::vector<const char*> plans = test::quick() ? std::vector<const char*>{"4"}
                                                       : std::vector<const char*>{"fp32", "8", "4"};
  for (const char* plan : plans) {
    const Result r = cli("eval " + std::string(BITLANE_MODELS_DIR) + "/char_lstm " +
                         test::source_path("models/data/wikitext-test.txt") + " --json --quant " + plan);
    REQUIRE(r.status == 0);
    const double bpc = nlohmann::json::parse(r.out)["bits_per_character"].get<double>();
    const double full = table["char_lstm"][plan]["bits_per_character"].get<double>();
    INFO(plan << ": " << bpc << " vs " << full);
    CHECK(std::abs(bpc - full) < 0.1);
  }
}

TEST_CASE("run: a quantized model calibrates once into the calibration cache, with the same answers") {
  namespace fs = std::filesystem;
  const std::string dir = "/tmp/bitlane_cli_test_" + std::to_string(getpid()) + "_cache";
  fs::remove_all(dir);
  auto entries = [](const std::string& d) {
    std::vector<std::string> out;
    if (fs::is_directory(d))
      for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
    return out;
  };
  const std::string args = "run " + kModel + " " + kImages + "/bag --bits 4";
  const Result off = cli(args + " --calibration-cache off");
  REQUIRE(off.status == 0);
  const Result first = cli(args + " --calibration-cache " + dir + "/flag");
  const Result second = cli(args + " --calibration-cache " + dir + "/flag");
  CHECK(first.out == off.out);
  CHECK(second.out == off.out);
  const std::vector<std::string> made = entries(dir + "/flag");
  REQUIRE(made.size() == 1);
  CHECK(made[0].rfind("calibration-", 0) == 0);
  CHECK(entries(dir + "/flag") == made);  // the second run wrote nothing new

  // Where it goes without the flag: $BITLANE_CACHE_DIR, else
  // $XDG_CACHE_HOME/bitlane, else ~/.cache/bitlane; "off" keeps nothing.
  // (8 samples given: each miss calibrates, and sanitizers make 512 slow.)
  const std::string few = args + " --calibration " + kImages + "/bag --calibration-samples 8";
  const std::string one = cli(few, "BITLANE_CACHE_DIR=" + dir + "/env ").out;
  const std::vector<std::string> made_few = entries(dir + "/env");
  CHECK(made_few.size() == 1);
  CHECK(made_few != made);  // other samples, another key
  CHECK(cli(few, "env -u BITLANE_CACHE_DIR XDG_CACHE_HOME=" + dir + "/xdg ").out == one);
  CHECK(entries(dir + "/xdg/bitlane") == made_few);  // the same key: the same samples, model and build
  CHECK(cli(few, "env -u BITLANE_CACHE_DIR -u XDG_CACHE_HOME HOME=" + dir + "/home ").out == one);
  CHECK(entries(dir + "/home/.cache/bitlane") == made_few);
  CHECK(cli(few, "BITLANE_CACHE_DIR=off HOME=" + dir + "/none ").status == 0);
  CHECK(!fs::exists(dir + "/none"));
  // fp32 has nothing to calibrate.
  CHECK(cli("run " + kModel + " " + kImages + "/bag --quant fp32 --calibration-cache " + dir + "/fp32").status == 0);
  CHECK(entries(dir + "/fp32").empty());
  fs::remove_all(dir);
}
