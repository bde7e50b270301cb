// The calibration cache (runtime/calibration_cache.h): an engine built from a
// cache entry is bit for bit the engine built by calibrating; the entry is
// really what the second build reads (an edited entry changes its outputs);
// damaged, foreign, mistyped or unwritable entries fall back to
// calibrating; the key follows everything the ranges depend on.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "runtime/calibration_cache.h"
#include "runtime/engine.h"
#include "runtime/session.h"
#include "tests/test_paths.h"

using namespace bitlane;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("bitlane_calibration_cache_" + std::to_string(getpid()));
  TempDir() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
    return out;
  }
};

// The first n samples of the model's own calibration set (enough to set every range).
std::vector<Tensor> samples(const Model& model, int64_t n) {
  const Tensor all = load_calibration(model)[0];
  Shape s = all.shape();
  s[0] = n;
  Tensor out(s);
  std::memcpy(out.f32(), all.f32(), static_cast<size_t>(out.size()) * 4);
  return {out};
}

EngineOptions options(const char* plan, std::vector<Tensor> calibration, const std::string& cache) {
  EngineOptions o;
  o.plan = quant::QuantPlan::from_text(plan, {});
  o.calibration = std::move(calibration);
  o.calibration_cache = cache;
  return o;
}

// Logits of the first 16 calibration samples, as raw bytes.
std::string outputs(const std::shared_ptr<const Model>& model, const EngineOptions& o) {
  Executor ex(1);
  Session s(Engine::build(model, o, ex));
  const std::vector<const Tensor*>& y = s.run(samples(*model, 16), ex);
  return std::string(static_cast<const char*>(y[0]->data()), static_cast<size_t>(y[0]->size()) * 4);
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("an engine built from the calibration cache is the engine calibration builds") {
  for (const char* name : {"lenet", "resnet"}) {
    CAPTURE(name);
    const auto model = Model::load(test::model_path(name));
    const std::vector<Tensor> cal = samples(*model, 32);
    const std::string want = outputs(model, options("4", cal, ""));
    TempDir t;
    CHECK(outputs(model, options("4", cal, t.dir.string())) == want);  // calibrates, writes the entry
    const std::vector<fs::path> files = t.entries();
    REQUIRE(files.size() == 1);
    const std::string entry = read(files[0]);
    CHECK(outputs(model, options("4", cal, t.dir.string())) == want);  // from the entry
    CHECK(read(files[0]) == entry);  // a hit leaves it as it was

    // The second build really reads the entry: narrow the first layer's range
    // there, and the outputs change; put it back, and they are the same again.
    nlohmann::json j = nlohmann::json::parse(entry);
    const float max = j["layers"][0]["max"].get<float>();
    uint32_t bits;
    const float half = max / 2;
    std::memcpy(&bits, &half, 4);
    j["layers"][0]["max_bits"] = bits;
    write(files[0], j.dump());
    CHECK(outputs(model, options("4", cal, t.dir.string())) != want);
    write(files[0], entry);
    CHECK(outputs(model, options("4", cal, t.dir.string())) == want);
  }
}

TEST_CASE("a damaged or foreign cache entry is a miss: calibration runs and rewrites it") {
  const auto model = Model::load(test::model_path("lenet"));
  const std::vector<Tensor> cal = samples(*model, 16);
  const std::string want = outputs(model, options("4", cal, ""));
  TempDir t;
  CHECK(outputs(model, options("4", cal, t.dir.string())) == want);
  REQUIRE(t.entries().size() == 1);
  const fs::path file = t.entries()[0];
  const std::string good = read(file);
  const nlohmann::json j = nlohmann::json::parse(good);
  auto edited = [&](auto&& edit) {
    nlohmann::json e = j;
    edit(e);
    return e.dump();
  };
  const std::vector<std::pair<const char*, std::string>> damaged = {
      {"empty", ""},
      {"truncated", good.substr(0, good.size() / 2)},
      {"not JSON", "\x89PNG\r\n\x1a\n"},
      {"another format", edited([](nlohmann::json& e) { e["bitlane_calibration_cache"] = 2; })},
      {"another key", edited([](nlohmann::json& e) { e["key"] = "0000000000000000"; })},
      {"a layer short", edited([](nlohmann::json& e) { e["layers"].erase(e["layers"].size() - 1); })},
      {"another layer's name", edited([](nlohmann::json& e) { e["layers"][0]["node"] = "/fc3/Gemm"; })},
      {"bits out of range", edited([](nlohmann::json& e) { e["layers"][0]["min_bits"] = uint64_t{1} << 32; })},
      {"negative count", edited([](nlohmann::json& e) { e["layers"][0]["count"] = -1; })},
      {"bits as text", edited([](nlohmann::json& e) { e["layers"][1]["max_bits"] = "1"; })},
      {"layers not a list", edited([](nlohmann::json& e) { e["layers"] = 7; })},
      {"key a number", edited([](nlohmann::json& e) { e["key"] = 5; })},
      {"format a string", edited([](nlohmann::json& e) { e["bitlane_calibration_cache"] = "1"; })},
      {"node a list", edited([](nlohmann::json& e) { e["layers"][0]["node"] = nlohmann::json::array(); })},
      {"a layer not an object", edited([](nlohmann::json& e) { e["layers"][0] = 1; })},
      {"a list, not an object", "[1, 2]"},
  };
  for (const auto& [what, text] : damaged) {
    CAPTURE(what);
    write(file, text);
    CHECK(outputs(model, options("4", cal, t.dir.string())) == want);
    CHECK(read(file) == good);  // calibrated again, and the entry rewritten whole
  }
  // Not a regular file: a folder in the entry's place is a miss (and stays).
  fs::remove(file);
  fs::create_directory(file);
  CHECK(outputs(model, options("4", cal, t.dir.string())) == want);
  CHECK(fs::is_directory(file));
  CHECK(t.entries().size() == 1);  // the write that could not replace it left no temporary file
}

TEST_CASE("the calibration cache stays out of the way where it cannot help") {
  const auto model = Model::load(test::model_path("lenet"));
  const std::vector<Tensor> cal = samples(*model, 16);
  TempDir t;
  // Percentile and MSE calibration read every value: nothing is kept.
  for (const char* plan : {"w4a4,calib=mse", "w4a4,calib=percentile"}) {
    CAPTURE(plan);
    CHECK(outputs(model, options(plan, cal, t.dir.string())) == outputs(model, options(plan, cal, "")));
    CHECK(t.entries().empty());
  }
  // fp32 calibrates nothing.
  outputs(model, options("fp32", cal, t.dir.string()));
  CHECK(t.entries().empty());
  // A folder that cannot be made (under a regular file) costs only the time.
  const fs::path blocked = t.dir / "file";
  write(blocked, "x");
  CHECK(outputs(model, options("4", cal, (blocked / "cache").string())) == outputs(model, options("4", cal, "")));
}

TEST_CASE("the calibration key follows the samples, the layers measured, the weights and the kernels") {
  const auto model = Model::load(test::model_path("lenet"));
  const auto again = Model::load(test::model_path("lenet"));
  const std::vector<Tensor> cal = samples(*model, 8);
  const std::vector<int> nodes = {0, 3};
  const uint64_t key = calibration_key(*model, samples_digest(cal), nodes, false);
  CHECK(calibration_key(*again, samples_digest(cal), nodes, false) == key);  // a model loaded again: the same key
  std::vector<Tensor> other = cal;
  other[0].f32()[100] = std::nextafter(other[0].f32()[100], 1e9f);  // one sample value, one ulp
  CHECK(calibration_key(*model, samples_digest(other), nodes, false) != key);
  CHECK(calibration_key(*model, samples_digest(samples(*model, 7)), nodes, false) != key);  // one sample fewer
  CHECK(calibration_key(*model, samples_digest(cal), {0}, false) != key);
  CHECK(calibration_key(*model, samples_digest(cal), nodes, true) != key);
  CHECK(calibration_key(*Model::load(test::model_path("mlp")), samples_digest(cal), nodes, false) != key);
  CHECK(calibration_cache_file("/x", key).find("/x/calibration-") == 0);
}

TEST_CASE("a model's content hash changes with any weight and with the graph, not with where it was loaded") {
  const std::string text = read(test::model_path("lenet"));
  const std::string weights = read(test::model_file("lenet", "model.safetensors"));
  std::vector<uint8_t> bytes(weights.begin(), weights.end());
  const uint64_t h = Model::parse(text, bytes, "a")->content_hash();
  CHECK(Model::parse(text, bytes, "b")->content_hash() == h);
  CHECK(Model::load(test::model_path("lenet"))->content_hash() == h);
  for (size_t at : {bytes.size() - 1, bytes.size() / 2}) {  // the last weight, one in the middle: one bit
    CAPTURE(at);
    std::vector<uint8_t> flipped = bytes;
    flipped[at] ^= 1;
    CHECK(Model::parse(text, flipped, "a")->content_hash() != h);
  }
  nlohmann::json graph = nlohmann::json::parse(text);
  for (auto& node : graph["nodes"])
    if (node["op"] == "max_pool2d") {
      node["name"] = node["name"].get<std::string>() + "_renamed";
      break;
    }
  CHECK(Model::parse(graph.dump(), bytes, "a")->content_hash() != h);
}

TEST_CASE("samples the model names are keyed by their file: same engine, a changed file is a new entry") {
  // A copy of LeNet whose "calibration" names a file beside it.
  TempDir t;
  fs::create_directories(t.dir / "model");
  fs::copy_file(test::model_file("lenet", "model.safetensors"), t.dir / "model" / "model.safetensors");
  nlohmann::json j = nlohmann::json::parse(read(test::model_path("lenet")));
  j["calibration"]["file"] = "samples.safetensors";
  write(t.dir / "model" / "model.json", j.dump());
  const fs::path file = t.dir / "model" / "samples.safetensors";
  fs::copy_file(test::source_path("models/data/fashion-calibration.safetensors"), file);
  const std::string cache = (t.dir / "cache").string();
  const auto model = Model::load((t.dir / "model" / "model.json").string());
  auto count = [&] { return std::distance(fs::directory_iterator(cache), fs::directory_iterator()); };

  const std::string want = outputs(model, options("4", {}, ""));
  CHECK(outputs(model, options("4", {}, cache)) == want);
  CHECK(outputs(model, options("4", {}, cache)) == want);
  CHECK(count() == 1);
  const std::optional<uint64_t> id = named_samples_digest(*model, file.string());
  REQUIRE(id);
  CHECK(named_samples_digest(*model, (t.dir / "missing").string()) == std::nullopt);

  // One pixel of the last sample brighter: another key, and the engine of those samples.
  std::string bytes = read(file);
  bytes.back() = static_cast<char>(static_cast<uint8_t>(bytes.back()) ^ 0x40);
  write(file, bytes);
  CHECK(named_samples_digest(*model, file.string()) != id);
  const std::string changed = outputs(model, options("4", {}, ""));
  CHECK(outputs(model, options("4", {}, cache)) == changed);
  CHECK(count() == 2);

  // The input's preprocessing decides the samples too.
  j["inputs"][0]["preprocessing"]["mean"] = {0.3};
  write(t.dir / "model" / "model.json", j.dump());
  CHECK(named_samples_digest(*Model::load((t.dir / "model" / "model.json").string()), file.string()) !=
        named_samples_digest(*model, file.string()));
}

namespace {

// The digest cmake/BitlaneSourceDigest.cmake computes for the tree at
// `root`, by running it (as the build does).
std::string source_digest(const fs::path& root, const fs::path& scratch) {
  const fs::path header = scratch / "digest.h";
  const std::string cmd = std::string("'") + BITLANE_CMAKE_COMMAND + "' -DROOT='" + root.string() + "' -DOUT='" +
                          header.string() + "' -P '" + BITLANE_SOURCE_DIR + "/cmake/BitlaneSourceDigest.cmake'";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string text = read(header);
  const size_t at = text.find("BITLANE_SOURCE_DIGEST \"");
  REQUIRE(at != std::string::npos);
  return text.substr(at + 23, 16);
}

}  // namespace

TEST_CASE("the calibration key names the sources: any edit to the library is a miss") {
  TempDir t;
  const fs::path tree = t.dir / "tree", scratch = t.dir;
  fs::create_directories(tree / "core");
  fs::create_directories(tree / "ops" / "kernels");
  fs::create_directories(tree / "apps");
  write(tree / "core" / "a.h", "int a();\n");
  write(tree / "ops" / "kernels" / "b.cc", "int b() { return 1; }\n");
  const std::string base = source_digest(tree, scratch);
  CHECK(base.size() == 16);
  CHECK(base.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(source_digest(tree, scratch) == base);  // the same tree: the same digest

  write(tree / "ops" / "kernels" / "b.cc", "int b() { return 2; }\n");  // one byte of a source
  const std::string edited = source_digest(tree, scratch);
  CHECK(edited != base);
  write(tree / "ops" / "kernels" / "b.cc", "int b() { return 1; }\n");
  CHECK(source_digest(tree, scratch) == base);

  fs::rename(tree / "ops" / "kernels" / "b.cc", tree / "ops" / "kernels" / "c.cc");  // a rename
  CHECK(source_digest(tree, scratch) != base);
  fs::rename(tree / "ops" / "kernels" / "c.cc", tree / "ops" / "kernels" / "b.cc");
  write(tree / "core" / "new.h", "");  // an added file, even an empty one
  CHECK(source_digest(tree, scratch) != base);
  fs::remove(tree / "core" / "new.h");
  CHECK(source_digest(tree, scratch) == base);

  // Outside the library's sources: documentation and the CLI do not compute its floats.
  write(tree / "core" / "README.md", "notes\n");
  write(tree / "apps" / "main.cc", "int main() {}\n");
  CHECK(source_digest(tree, scratch) == base);

  // This build's entries carry the digest of the tree it was built from.
  const auto model = Model::load(test::model_path("lenet"));
  fs::create_directories(t.dir / "cache");
  outputs(model, options("4", samples(*model, 8), (t.dir / "cache").string()));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(t.dir / "cache")) files.push_back(e.path());
  REQUIRE(files.size() == 1);
  const std::string built_by = nlohmann::json::parse(read(files[0])).at("built_by").get<std::string>();
  CAPTURE(built_by);
  CHECK(built_by.find("sources " + source_digest(BITLANE_SOURCE_DIR, scratch) + ";") != std::string::npos);
}

TEST_CASE("the cache keeps the most recently used entries: a write past the limit removes the least recently used") {
  using std::chrono::minutes;
  TempDir t;
  const fs::file_time_type now = fs::file_time_type::clock::now();
  // Entries of other keys, entry i last used i + 1 minutes ago, and files
  // that are not entries.
  const size_t extra = 10, fakes = kCalibrationCacheEntries + extra;
  auto fake = [&](size_t i) { return fs::path(calibration_cache_file(t.dir.string(), 0x1000 + i)); };
  for (size_t i = 0; i < fakes; ++i) {
    write(fake(i), "{}");
    fs::last_write_time(fake(i), now - minutes(i + 1));
  }
  const fs::path notes = t.dir / "notes.txt", odd = t.dir / "calibration-12.json";
  const fs::path stale = fake(0).string() + ".tmp123-00ff", fresh = fake(1).string() + ".tmp456-00ff";
  for (const fs::path& p : {notes, odd, stale, fresh}) {
    write(p, "x");
    fs::last_write_time(p, now - minutes(600));
  }
  fs::last_write_time(fresh, now - minutes(5));  // a writer still at work

  const auto model = Model::load(test::model_path("lenet"));
  const std::vector<Tensor> cal = samples(*model, 8);
  const std::string want = outputs(model, options("4", cal, ""));
  CHECK(outputs(model, options("4", cal, t.dir.string())) == want);  // a miss: writes its entry, then prunes
  size_t entries = 0;
  fs::path mine;
  for (const fs::path& p : t.entries()) {
    const std::string name = p.filename().string();
    if (name.size() == 33 && name.starts_with("calibration-") && name.ends_with(".json")) {
      ++entries;
      if (name.find("calibration-00000000000") != 0) mine = p;
    }
  }
  CHECK(entries == kCalibrationCacheEntries);
  REQUIRE(!mine.empty());
  for (size_t i = 0; i < fakes; ++i) {
    CAPTURE(i);
    CHECK(fs::exists(fake(i)) == (i < kCalibrationCacheEntries - 1));  // the oldest extra + 1 are gone
  }
  CHECK(fs::exists(notes));
  CHECK(fs::exists(odd));
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(fresh));

  // A hit marks its entry used: put it back in time, build again, and it is
  // the newest; the next write then removes the oldest fake instead.
  fs::last_write_time(mine, now - minutes(10000));
  CHECK(outputs(model, options("4", cal, t.dir.string())) == want);
  CHECK(fs::last_write_time(mine) > now - minutes(1));
  CHECK(outputs(model, options("4", samples(*model, 7), t.dir.string())) != std::string());  // another key
  CHECK(fs::exists(mine));
  CHECK_FALSE(fs::exists(fake(kCalibrationCacheEntries - 2)));
  CHECK(fs::exists(fake(kCalibrationCacheEntries - 3)));
}
