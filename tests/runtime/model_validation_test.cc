// Every class of broken model and weights file must give a clear error that
// names the file, the node and the field -- never a crash or a silent result.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <limits>

#include "core/error.h"
#include "core/executor.h"
#include "core/limits.h"
#include "runtime/engine.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/safetensors.h"
#include "tests/runtime/test_models.h"

using namespace bitlane;
using test::ModelBuilder;
using json = nlohmann::json;

namespace {

// A valid two-layer model to break in different ways.
ModelBuilder good() {
  ModelBuilder mb;
  mb.input("x", {4}).output("y")
      .weight("w1", {3, 4}, 1).weight("b1", {3}, 2).weight("w2", {2, 3}, 3)
      .node("dense", "fc1", {"x"}, {"h"}, {{"weight", "w1"}, {"bias", "b1"}})
      .node("relu", "act", {"h"}, {"r"})
      .node("dense", "fc2", {"r"}, {"y"}, {{"weight", "w2"}});
  return mb;
}

std::string error_of(const ModelBuilder& mb) {
  try {
    mb.build();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string error_of_bytes(std::vector<uint8_t> bytes) {
  try {
    SafeTensorsFile::parse(std::move(bytes), "w.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(header.size() >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

}  // namespace

TEST_CASE("the valid model loads, the relu is fused into fc1") {
  const auto m = good().build();
  REQUIRE(m->nodes().size() == 2);
  CHECK(m->nodes()[0].attributes["activation"] == "relu");
}

TEST_CASE("graph errors name the file, the node and the field") {
  SUBCASE("unknown op") {
    ModelBuilder mb = good();
    mb.doc["nodes"][1]["op"] = "gelu";
    CHECK(error_of(mb).find("test.json: node 'act': unknown op 'gelu'") != std::string::npos);
  }
  SUBCASE("unknown attribute") {
    ModelBuilder mb = good();
    mb.doc["nodes"][0]["attributes"]["activaton"] = "relu";
    CHECK(error_of(mb).find("node 'fc1': attribute 'activaton': unknown attribute") != std::string::npos);
    mb.doc["nodes"][0]["attributes"].erase("activaton");
    mb.doc["nodes"][0]["attributes"]["activation"] = "gelu";
    CHECK(error_of(mb).find("attribute 'activation': must be relu or relu6, got 'gelu'") != std::string::npos);
  }
  SUBCASE("wrongly typed attribute") {
    ModelBuilder mb = good();
    mb.doc["nodes"][0]["attributes"]["weight"] = 7;
    CHECK(error_of(mb).find("node 'fc1': attribute 'weight': must be the name of a weight") != std::string::npos);
  }
  SUBCASE("dangling input") {
    ModelBuilder mb = good();
    mb.doc["nodes"][2]["inputs"][0] = "z";
    CHECK(error_of(mb).find("node 'fc2': input 'z' is not a model input nor any node's output") != std::string::npos);
  }
  SUBCASE("tensor produced twice") {
    ModelBuilder mb = good();
    mb.doc["nodes"][1]["outputs"][0] = "h";
    CHECK(error_of(mb).find("tensor 'h' is produced twice: by node 'fc1' and by node 'act'") != std::string::npos);
  }
  SUBCASE("duplicate node name") {
    ModelBuilder mb = good();
    mb.doc["nodes"][2]["name"] = "fc1";
    CHECK(error_of(mb).find("node 'fc1': duplicate node name") != std::string::npos);
  }
  SUBCASE("cycle") {
    ModelBuilder mb = good();
    mb.doc["nodes"][0]["inputs"][0] = "y";  // fc1 <- fc2 <- act <- fc1
    CHECK(error_of(mb).find("is part of a cycle") != std::string::npos);
  }
  SUBCASE("shape mismatch shows both shapes") {
    ModelBuilder mb = good();
    mb.weight("w2", {2, 5}, 3);
    const std::string e = error_of(mb);
    CHECK(e.find("node 'fc2'") != std::string::npos);
    CHECK(e.find("input shape [1, 3]") != std::string::npos);
    CHECK(e.find("weight shape [2, 5]") != std::string::npos);
  }
  SUBCASE("missing weight") {
    ModelBuilder mb = good();
    mb.weights.erase("b1");
    CHECK(error_of(mb).find("attribute 'bias': names weight 'b1', which test.json (weights) does not contain") !=
          std::string::npos);
  }
  SUBCASE("unused weight") {
    ModelBuilder mb = good();
    mb.weight("stale", {2}, 4);
    CHECK(error_of(mb).find("weight 'stale' is not used by any node") != std::string::npos);
  }
  SUBCASE("unknown output") {
    ModelBuilder mb = good();
    mb.doc["outputs"][0]["name"] = "q";
    CHECK(error_of(mb).find("'q' is not a model input nor any node's output") != std::string::npos);
  }
  SUBCASE("format version") {
    ModelBuilder mb = good();
    mb.doc["format_version"] = 2;
    CHECK(error_of(mb).find("format_version 2 is not supported") != std::string::npos);
  }
  SUBCASE("unknown top-level field") {
    ModelBuilder mb = good();
    mb.doc["nodez"] = json::array();
    CHECK(error_of(mb).find("field 'nodez': unknown field") != std::string::npos);
  }
  SUBCASE("missing field") {
    ModelBuilder mb = good();
    mb.doc.erase("inputs");
    CHECK(error_of(mb).find("missing field 'inputs'") != std::string::npos);
  }
  SUBCASE("not JSON") {
    try {
      Model::parse("{\"format_version\": 1,", {}, "broken.json");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("broken.json: not valid JSON") != std::string::npos);
    }
  }
  SUBCASE("absurd input shape is refused before allocating") {
    ModelBuilder mb = good();
    mb.doc["inputs"][0]["shape"] = {1 << 20, 1 << 20, 1 << 20};
    CHECK(error_of(mb).find("exceeds the limit") != std::string::npos);
  }
  SUBCASE("bad quantization plan") {
    ModelBuilder mb = good();
    mb.doc["quantization"] = {{"default", {{"bits", 0}}}};
    CHECK(error_of(mb).find("quantization: default: 'bits': must be 1..16, got 0") != std::string::npos);
    mb.doc["quantization"] = {{"default", {{"scheme", "magic"}}}};
    CHECK(error_of(mb).find("unknown scheme 'magic'") != std::string::npos);
  }
}

TEST_CASE("an empty graph says so, from a file and from memory alike") {
  CHECK_THROWS_WITH_AS(Model::parse("", {}, "buffer"), doctest::Contains("buffer: empty file (0 bytes)"), Error);
}

TEST_CASE("weights: NaN and infinite values are refused with the tensor's name") {
  ModelBuilder mb = good();
  mb.weights.at("w1").f32()[5] = std::numeric_limits<float>::quiet_NaN();
  CHECK(error_of(mb).find("tensor 'w1': NaN value at element 5") != std::string::npos);
  mb.weights.at("w1").f32()[5] = std::numeric_limits<float>::infinity();
  CHECK(error_of(mb).find("tensor 'w1': infinite value at element 5") != std::string::npos);
}

TEST_CASE("inputs: NaN and infinite values are refused with the input's name, in runs and in calibration") {
  const auto model = good().build();
  Executor ex(1);
  Tensor x({3, 4});
  for (int64_t i = 0; i < x.size(); ++i) x.f32()[i] = 0.1f * static_cast<float>(i);
  Tensor bad = x;
  bad.f32()[6] = -std::numeric_limits<float>::infinity();
  for (const char* plan : {"fp32", "4"}) {
    CAPTURE(plan);
    EngineOptions o;
    o.plan = quant::QuantPlan::from_text(plan, {});
    o.calibration = {x};
    Session s(Engine::build(model, o, ex));
    CHECK_THROWS_WITH_AS(s.run({bad}, ex), doctest::Contains("input 'x': infinite value at element 6"), Error);
    bad.f32()[6] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(s.run({bad}, ex), doctest::Contains("input 'x': NaN value at element 6"), Error);
    CHECK(s.run({x}, ex)[0]->size() == 3 * 2);  // and the session still runs
    bad.f32()[6] = -std::numeric_limits<float>::infinity();
  }
  // Calibration samples go through the same check before any quantizer sees them.
  EngineOptions o;
  o.plan = quant::QuantPlan::from_text("4", {});
  o.calibration = {bad};
  CHECK_THROWS_WITH_AS(Engine::build(model, o, ex), doctest::Contains("infinite value at element 6"), Error);
}

TEST_CASE("safetensors: truncated, lying or overlapping headers") {
  CHECK(error_of_bytes({1, 2, 3}).find("truncated safetensors file: 3 bytes") != std::string::npos);
  CHECK(error_of_bytes(raw_file("{}", 0)).find("(no error)") != std::string::npos);
  std::vector<uint8_t> lying = raw_file("{}", 0);
  lying[0] = 200;  // header longer than the file
  CHECK(error_of_bytes(lying).find("header length 200 exceeds the file") != std::string::npos);
  CHECK(error_of_bytes(raw_file("{\"a\": ", 0)).find("header is not valid JSON") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4))
            .find("lie outside the data section of 4 bytes") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8))
            .find("shape [3] of F32 needs 12 bytes but data_offsets span 8") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12))
            .find("tensors 'a' and 'b' overlap") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}})", 1))
            .find("unknown dtype 'Q4'") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                   "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8))
            .find("tensor 'a' appears twice") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4))
            .find("shape must hold non-negative integers") != std::string::npos);
  CHECK(error_of_bytes(raw_file(R"({"a": {"dtype": "U8", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 4]}})", 4))
            .find("exceeds the limit") != std::string::npos);
}

namespace {

// A file with one tensor "t" of `dtype` holding `values` (little-endian).
template <typename S>
SafeTensorsFile one_tensor(const std::string& dtype, const std::vector<S>& values) {
  const size_t bytes = values.size() * sizeof(S);
  std::vector<uint8_t> f = raw_file(R"({"t": {"dtype": ")" + dtype + R"(", "shape": [)" +
                                        std::to_string(values.size()) + R"(], "data_offsets": [0, )" +
                                        std::to_string(bytes) + "]}}",
                                    bytes);
  std::memcpy(f.data() + f.size() - bytes, values.data(), bytes);
  return SafeTensorsFile::parse(f, "x");
}

template <typename S>
void check_both(const std::string& dtype, const std::vector<S>& values) {
  CAPTURE(dtype);
  const SafeTensorsFile st = one_tensor(dtype, values);
  const Tensor f = st.read_f32(*st.find("t"));
  const Tensor i = st.read_i32(*st.find("t"));
  for (size_t k = 0; k < values.size(); ++k) {
    CHECK(f.f32()[k] == static_cast<float>(values[k]));
    CHECK(i.i32()[k] == static_cast<int32_t>(values[k]));
  }
}

std::string read_error(const SafeTensorsFile& st, bool as_int) {
  try {
    if (as_int) st.read_i32(*st.find("t"));
    else st.read_f32(*st.find("t"));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("safetensors: every integer dtype reads as float and int32, out-of-range values named") {
  check_both<int8_t>("I8", {-128, -1, 0, 127});
  check_both<uint8_t>("U8", {0, 1, 200, 255});
  check_both<int16_t>("I16", {-32768, -3, 0, 32767});
  check_both<uint16_t>("U16", {0, 7, 40000, 65535});
  check_both<int32_t>("I32", {-2147483647 - 1, -5, 0, 16777216});
  check_both<uint32_t>("U32", {0, 9, 2147483647u});
  check_both<int64_t>("I64", {-2147483647 - 1, -6, 0, 2147483647});
  check_both<uint64_t>("U64", {0, 11, 2147483647u});
  // Past int32: the element named; as floats they are fine.
  CHECK(read_error(one_tensor<uint32_t>("U32", {1, 2147483648u}), true).find("out of int32 range at element 1") !=
        std::string::npos);
  CHECK(read_error(one_tensor<int64_t>("I64", {0, 0, -2147483649LL}), true).find("out of int32 range at element 2") !=
        std::string::npos);
  CHECK(read_error(one_tensor<uint64_t>("U64", {~uint64_t{0}}), true).find("out of int32 range at element 0") !=
        std::string::npos);
  CHECK(read_error(one_tensor<uint64_t>("U64", {~uint64_t{0}}), false) == "(no error)");
}

TEST_CASE("safetensors: floats of every width, NaN and infinity named at their element") {
  const SafeTensorsFile d = one_tensor<double>("F64", {0.5, -3.25, 1e30});
  const Tensor t = d.read_f32(*d.find("t"));
  CHECK(t.f32()[0] == 0.5f);
  CHECK(t.f32()[1] == -3.25f);
  CHECK(t.f32()[2] == 1e30f);
  CHECK(read_error(one_tensor<double>("F64", {1.0, 2.0, 1e300}), false).find("infinite value at element 2") !=
        std::string::npos);  // finite as a double, not as a float
  CHECK(read_error(one_tensor<uint16_t>("F16", {0x3C00, 0x7C00}), false).find("infinite value at element 1") !=
        std::string::npos);
  CHECK(read_error(one_tensor<uint16_t>("BF16", {0x4040, 0x4040, 0x7FC1}), false).find("NaN value at element 2") !=
        std::string::npos);
  CHECK(read_error(one_tensor<float>("F32", {1.f, -std::numeric_limits<float>::infinity()}), false)
            .find("infinite value at element 1") != std::string::npos);
}

TEST_CASE("safetensors: dtypes convert to float (F16, BF16, integers)") {
  // F16 1.0 = 0x3C00, -2.5 = 0xC100, 2^-24 (subnormal) = 0x0001; BF16 3.0 = 0x4040.
  std::vector<uint8_t> f = raw_file(R"({"h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
                                        "b": {"dtype": "BF16", "shape": [1], "data_offsets": [6, 8]},
                                        "i": {"dtype": "I8", "shape": [2], "data_offsets": [8, 10]}})", 10);
  const size_t base = f.size() - 10;
  const uint8_t data[] = {0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00, 0x40, 0x40, 0xFE, 0x7F};
  std::memcpy(f.data() + base, data, 10);
  const SafeTensorsFile st = SafeTensorsFile::parse(f, "x");
  const Tensor h = st.read_f32(*st.find("h"));
  CHECK(h.f32()[0] == 1.0f);
  CHECK(h.f32()[1] == -2.5f);
  CHECK(h.f32()[2] == std::ldexp(1.0f, -24));
  CHECK(st.read_f32(*st.find("b")).f32()[0] == 3.0f);
  const Tensor i = st.read_i32(*st.find("i"));
  CHECK(i.i32()[0] == -2);
  CHECK(i.i32()[1] == 127);
  CHECK_THROWS_AS(st.read_i32(*st.find("h")), Error);
}

namespace {

// bytes written to a file of this test's own (removed on destruction).
struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<uint8_t>& bytes)
      : path((std::filesystem::temp_directory_path() /
              ("bitlane_st_" + std::to_string(::getpid()) + ".safetensors")).string()) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::filesystem::remove(path); }
};

template <class F>
std::string error_from(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("safetensors: a file read tensor by tensor gives what its bytes parsed in memory give") {
  // F32 (read straight into its tensor), F64, F16, U8, I64 (through scratch).
  std::vector<uint8_t> f = raw_file(R"({"f": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                                        "d": {"dtype": "F64", "shape": [2], "data_offsets": [12, 28]},
                                        "h": {"dtype": "F16", "shape": [2], "data_offsets": [28, 32]},
                                        "u": {"dtype": "U8", "shape": [3], "data_offsets": [32, 35]},
                                        "l": {"dtype": "I64", "shape": [1], "data_offsets": [35, 43]},
                                        "__metadata__": {"k": "v"}})",
                                    43);
  const size_t base = f.size() - 43;
  const float fv[3] = {1.5f, -0.f, 3e-39f};  // a subnormal and a negative zero: bits, not values
  const double dv[2] = {0.25, -7.0};
  const uint16_t hv[2] = {0x3C00, 0xC100};
  const uint8_t uv[3] = {0, 128, 255};
  const int64_t lv = -12345;
  std::memcpy(f.data() + base, fv, 12);
  std::memcpy(f.data() + base + 12, dv, 16);
  std::memcpy(f.data() + base + 28, hv, 4);
  std::memcpy(f.data() + base + 32, uv, 3);
  std::memcpy(f.data() + base + 35, &lv, 8);
  const TempFile file(f);
  const SafeTensorsFile from_file = SafeTensorsFile::load(file.path);
  const SafeTensorsFile in_memory = SafeTensorsFile::parse(f, file.path);
  CHECK(from_file.metadata() == in_memory.metadata());
  REQUIRE(from_file.tensors().size() == 5);
  for (const SafeTensor& t : in_memory.tensors()) {
    CAPTURE(t.name);
    const SafeTensor* ft = from_file.find(t.name);
    REQUIRE(ft);
    const Tensor a = from_file.read_f32(*ft), b = in_memory.read_f32(t);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * 4) == 0);
    CHECK(from_file.read_bytes(*ft) == in_memory.read_bytes(t));
    if (t.dtype == "U8" || t.dtype == "I64") {
      const Tensor ai = from_file.read_i32(*ft), bi = in_memory.read_i32(t);
      CHECK(std::memcmp(ai.data(), bi.data(), static_cast<size_t>(ai.size()) * 4) == 0);
    }
  }
  CHECK(from_file.read_i32(*from_file.find("l")).i32()[0] == -12345);
  CHECK(std::memcmp(from_file.read_f32(*from_file.find("f")).data(), fv, 12) == 0);
}

TEST_CASE("safetensors: a file's bad header, NaN or shrinking gives the error its bytes in memory give") {
  const std::vector<std::vector<uint8_t>> bad = {
      {1, 2, 3},
      raw_file("{\"a\": ", 0),
      raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4),
      raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
  };
  for (const auto& bytes : bad) {
    const TempFile file(bytes);
    const std::string from_file = error_from([&] { SafeTensorsFile::load(file.path); });
    CHECK(from_file != "(no error)");
    CHECK(from_file == error_from([&] { SafeTensorsFile::parse(bytes, file.path); }));
  }
  std::vector<uint8_t> nan = raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8);
  const float values[2] = {1.f, std::numeric_limits<float>::quiet_NaN()};
  std::memcpy(nan.data() + nan.size() - 8, values, 8);
  {
    const TempFile file(nan);
    const SafeTensorsFile st = SafeTensorsFile::load(file.path);
    CHECK(error_from([&] { st.read_f32(*st.find("t")); }).find("tensor 't': NaN value at element 1") !=
          std::string::npos);
    // The file cut short after its header was read: named, not a crash.
    std::filesystem::resize_file(file.path, nan.size() - 4);
    CHECK(error_from([&] { st.read_f32(*st.find("t")); }).find("file shrank while being read") != std::string::npos);
  }
  CHECK(error_from([] { SafeTensorsFile::load("/nonexistent/w.safetensors"); })
            .find("/nonexistent/w.safetensors: cannot open file") != std::string::npos);
}

TEST_CASE("calibration samples of an RGB model are normalised per channel, too few values named (not a crash)") {
  ModelBuilder mb;
  mb.input("image", {3, 2, 2})
      .output("y")
      .weight("w", {2, 12}, 1)
      .node("flatten", "flat", {"image"}, {"f"})
      .node("dense", "fc", {"f"}, {"y"}, {{"weight", "w"}});
  mb.doc["inputs"][0]["preprocessing"] = {
      {"color", "rgb"}, {"size", {2, 2}}, {"scale", 0.5}, {"mean", {1, 2, 3}}, {"std", {2, 4, 8}}};
  const auto model = mb.build();
  // Two samples of 3 x 2 x 2 pixels: value v of channel c becomes (v * 0.5 - mean[c]) / std[c].
  Tensor x({2, 3, 2, 2});
  for (int64_t i = 0; i < x.size(); ++i) x.f32()[i] = static_cast<float>(i);
  const std::vector<Tensor> got = calibration_tensor(*model, x, true, "calib");
  REQUIRE(got.size() == 1);
  const float mean[3] = {1, 2, 3}, sd[3] = {2, 4, 8};
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t c = (i / 4) % 3;
    CHECK(got[0].f32()[i] == (static_cast<float>(i) * 0.5f - mean[c]) / sd[c]);
  }
  // Four values for four samples: fewer than one per channel (this divided by zero once).
  Tensor few({4});
  CHECK_THROWS_WITH_AS(calibration_tensor(*model, few, true, "calib"), doctest::Contains("calib: samples of shape"),
                       Error);
}

TEST_CASE("a file read in pieces is the file read whole, with the same errors") {
  const size_t piece = 7;
  for (size_t size : {size_t{0}, size_t{1}, piece - 1, piece, piece + 1, 3 * piece, 3 * piece + 2}) {
    CAPTURE(size);
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + 11);
    const TempFile file(bytes);
    std::vector<uint8_t> joined;
    size_t calls = 0;
    read_file_pieces(file.path, piece, [&](const uint8_t* p, size_t n) {
      CHECK(n >= 1);
      CHECK(n <= piece);
      joined.insert(joined.end(), p, p + n);
      ++calls;
    });
    CHECK(joined == read_file(file.path));
    CHECK(calls == (size + piece - 1) / piece);
  }
  const auto ignore = [](const uint8_t*, size_t) {};
  const std::string dir = std::filesystem::temp_directory_path().string();
  for (const std::string& path : {dir, dir + "/bitlane_no_such_file_" + std::to_string(::getpid())}) {
    CAPTURE(path);
    const std::string whole = error_from([&] { read_file(path); });
    CHECK(!whole.empty());
    CHECK(error_from([&] { read_file_pieces(path, piece, ignore); }) == whole);
  }
}
