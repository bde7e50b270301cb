// The C API against the C++ library it wraps: the same outputs for files,
// memory and images; every bad argument a status and a message, never a
// crash; separate handles in parallel threads.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>
#include <vector>

#include "core/executor.h"
#include <bitlane/bitlane.h>
#include "runtime/engine.h"
#include "runtime/image/image.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/test_paths.h"

using namespace bitlane;

extern "C" int bitlane_c_header_check(void);  // capi_c_check.c, compiled as C

namespace {

struct Handle {
  bitlane_model* h = bitlane_model_create();
  ~Handle() { bitlane_model_destroy(h); }
};

std::vector<float> output0(bitlane_model* h) {
  const float* data = nullptr;
  const int64_t* shape = nullptr;
  size_t rank = 0;
  REQUIRE(bitlane_output(h, 0, &data, &shape, &rank) == BITLANE_OK);
  int64_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= shape[i];
  return std::vector<float>(data, data + n);
}

// The library's own answer for an image file under a plan.
std::vector<float> library_answer(const std::string& model_name, const std::string& plan, const std::string& image) {
  const auto model = Model::load(test::model_path(model_name));
  Executor ex(1);
  EngineOptions o;
  o.plan = quant::QuantPlan::from_text(plan, {});
  const auto engine = Engine::build(model, o, ex);
  Session s(engine);
  const auto& pre = *model->inputs()[0].preprocessing;
  Tensor x({1, 1, pre.height, pre.width});
  preprocess(load_image(image), pre, x.f32());
  const Tensor& y = *s.run({x}, ex)[0];
  return std::vector<float>(y.f32(), y.f32() + y.size());
}

const std::string kImage = test::source_path("models/data/images/bag/1014.png");

}  // namespace

TEST_CASE("C API: the header compiles as C and its basic calls work from C") {
  CHECK(bitlane_c_header_check() == 0);
  CHECK(std::strlen(bitlane_version()) > 0);
}

TEST_CASE("C API: file and memory loads give the library's outputs") {
  const std::vector<float> want = library_answer("lenet", "4", kImage);
  Handle file;
  REQUIRE(bitlane_model_load_file(file.h, (std::string(BITLANE_MODELS_DIR) + "/lenet").c_str()) == BITLANE_OK);
  REQUIRE(bitlane_model_set_plan(file.h, "4") == BITLANE_OK);
  REQUIRE(bitlane_run_image_file(file.h, kImage.c_str()) == BITLANE_OK);
  CHECK(output0(file.h) == want);
  CHECK(std::string(bitlane_model_last_error(file.h)).empty());
  CHECK(bitlane_model_label_count(file.h) == 10);
  CHECK(std::string(bitlane_model_label(file.h, 8)) == "Bag");

  // From memory, with the calibration file's bytes, and the image as raw pixels.
  const auto json = read_file(test::model_file("lenet", "model.json"));
  const auto weights = read_file(test::model_file("lenet", "model.safetensors"));
  const auto calib = read_file(test::source_path("models/data/fashion-calibration.safetensors"));
  Handle mem;
  REQUIRE(bitlane_model_load_memory(mem.h, reinterpret_cast<const char*>(json.data()), json.size(), weights.data(),
                                    weights.size(), "lenet") == BITLANE_OK);
  REQUIRE(bitlane_model_set_plan(mem.h, "4") == BITLANE_OK);
  CHECK(bitlane_model_prepare(mem.h) == BITLANE_ERROR_PLAN);  // no calibration yet: says so
  CHECK(std::string(bitlane_model_last_error(mem.h)).find("calibration") != std::string::npos);
  REQUIRE(bitlane_model_set_calibration_safetensors(mem.h, calib.data(), calib.size(), "images") == BITLANE_OK);
  const Image img = load_image(kImage);
  std::vector<uint8_t> pixels(img.pixels.begin(), img.pixels.end());  // 8-bit gray
  REQUIRE(img.channels == 1);
  REQUIRE(bitlane_run_image_u8(mem.h, pixels.data(), static_cast<int>(img.width), static_cast<int>(img.height), 1,
                               0) == BITLANE_OK);
  CHECK(output0(mem.h) == want);
  // Threads do not change the answer.
  REQUIRE(bitlane_model_set_threads(mem.h, 2) == BITLANE_OK);
  REQUIRE(bitlane_run_image_u8(mem.h, pixels.data(), static_cast<int>(img.width), static_cast<int>(img.height), 1,
                               0) == BITLANE_OK);
  CHECK(output0(mem.h) == want);
}

TEST_CASE("C API: a calibration cache folder gives the same answers and keeps one entry") {
  // LeNet: each calibration runs the float model over 512 samples, which
  // under TSan or qemu costs seconds; three of them here.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bitlane_capi_cache_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::vector<float> want = library_answer("lenet", "4", kImage);
  Handle h;
  REQUIRE(bitlane_model_load_file(h.h, test::model_path("lenet").c_str()) == BITLANE_OK);
  REQUIRE(bitlane_model_set_plan(h.h, "4") == BITLANE_OK);
  REQUIRE(bitlane_model_set_calibration_cache(h.h, dir.c_str()) == BITLANE_OK);
  for (int round = 0; round < 2; ++round) {  // calibrates and writes, then reads
    CAPTURE(round);
    REQUIRE(bitlane_model_prepare(h.h) == BITLANE_OK);
    REQUIRE(bitlane_run_image_file(h.h, kImage.c_str()) == BITLANE_OK);
    CHECK(output0(h.h) == want);
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    REQUIRE(bitlane_model_set_calibration_cache(h.h, dir.c_str()) == BITLANE_OK);  // the next round builds anew
  }
  // NULL turns it off: another plan calibrates without writing an entry.
  REQUIRE(bitlane_model_set_calibration_cache(h.h, nullptr) == BITLANE_OK);
  REQUIRE(bitlane_model_set_plan(h.h, "w4a4,first=fp32") == BITLANE_OK);
  REQUIRE(bitlane_model_prepare(h.h) == BITLANE_OK);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  CHECK(bitlane_model_set_calibration_cache(nullptr, "x") == BITLANE_ERROR_ARGUMENT);
  fs::remove_all(dir);
}

TEST_CASE("C API: float and token inputs, shapes, state") {
  Handle h;
  REQUIRE(bitlane_model_load_file(h.h, test::model_path("mlp").c_str()) == BITLANE_OK);
  const int64_t* dims = nullptr;
  size_t rank = 0;
  REQUIRE(bitlane_model_input_count(h.h) == 1);
  REQUIRE(bitlane_model_input_shape(h.h, 0, &dims, &rank) == BITLANE_OK);
  CHECK(std::vector<int64_t>(dims, dims + rank) == std::vector<int64_t>{1, 28, 28});
  std::vector<float> x(2 * 28 * 28, 0.25f);
  const int64_t shape[] = {2, 1, 28, 28};
  REQUIRE(bitlane_run_f32(h.h, x.data(), shape, 4) == BITLANE_OK);
  const float* out = nullptr;
  const int64_t* oshape = nullptr;
  size_t orank = 0;
  REQUIRE(bitlane_output(h.h, 0, &out, &oshape, &orank) == BITLANE_OK);
  CHECK(std::vector<int64_t>(oshape, oshape + orank) == std::vector<int64_t>{2, 10});
  CHECK(out[3] == out[13]);  // two identical items

  Handle lstm;
  REQUIRE(bitlane_model_load_file(lstm.h, test::model_path("char_lstm").c_str()) == BITLANE_OK);
  const int32_t tokens[] = {5, 6, 7, 8};
  const int64_t tshape[] = {1, 4};
  REQUIRE(bitlane_run_i32(lstm.h, tokens, tshape, 2) == BITLANE_OK);
  const std::vector<float> first = output0(lstm.h);
  REQUIRE(bitlane_run_i32(lstm.h, tokens, tshape, 2) == BITLANE_OK);
  CHECK(output0(lstm.h) != first);  // the state carried over
  REQUIRE(bitlane_model_reset(lstm.h) == BITLANE_OK);
  REQUIRE(bitlane_run_i32(lstm.h, tokens, tshape, 2) == BITLANE_OK);
  CHECK(output0(lstm.h) == first);
  CHECK(bitlane_run_f32(lstm.h, x.data(), shape, 4) == BITLANE_ERROR_INPUT);  // tokens expected
}

TEST_CASE("C API: bad arguments and inputs are statuses with messages") {
  CHECK(bitlane_model_load_file(nullptr, "x") == BITLANE_ERROR_ARGUMENT);
  CHECK(std::string(bitlane_model_last_error(nullptr)) == "the handle is NULL");
  Handle h;
  const int64_t shape[] = {1, 1, 28, 28};
  std::vector<float> x(28 * 28);
  CHECK(bitlane_run_f32(h.h, x.data(), shape, 4) == BITLANE_ERROR_STATE);
  CHECK(std::string(bitlane_model_last_error(h.h)).find("no model loaded") != std::string::npos);
  CHECK(bitlane_model_load_file(h.h, nullptr) == BITLANE_ERROR_ARGUMENT);
  CHECK(bitlane_model_load_file(h.h, "/nonexistent/model.json") == BITLANE_ERROR_MODEL);
  CHECK(std::string(bitlane_model_last_error(h.h)).find("/nonexistent/model.json") != std::string::npos);
  const char bad_json[] = "{\"format_version\": 1, \"nodes\": [";
  CHECK(bitlane_model_load_memory(h.h, bad_json, sizeof bad_json - 1, nullptr, 0, "broken") == BITLANE_ERROR_MODEL);
  CHECK(std::string(bitlane_model_last_error(h.h)).find("broken") != std::string::npos);

  REQUIRE(bitlane_model_load_file(h.h, test::model_path("mlp").c_str()) == BITLANE_OK);
  CHECK(bitlane_model_set_plan(h.h, "scheme=term,k=-1") == BITLANE_ERROR_PLAN);
  CHECK(std::string(bitlane_model_last_error(h.h)).find("budget") != std::string::npos);
  CHECK(bitlane_model_set_threads(h.h, -1) == BITLANE_ERROR_ARGUMENT);
  const int64_t wrong[] = {1, 1, 27, 28};
  CHECK(bitlane_run_f32(h.h, x.data(), wrong, 4) == BITLANE_ERROR_INPUT);
  CHECK(std::string(bitlane_model_last_error(h.h)).find("[1, 1, 27, 28]") != std::string::npos);
  const int64_t zero[] = {0, 1, 28, 28};
  CHECK(bitlane_run_f32(h.h, x.data(), zero, 4) == BITLANE_ERROR_ARGUMENT);
  // A NaN or infinite input value is named, for the float and the quantized plan alike.
  for (const char* plan : {"fp32", "4"}) {
    CAPTURE(plan);
    REQUIRE(bitlane_model_set_plan(h.h, plan) == BITLANE_OK);
    std::vector<float> bad = x;
    bad[300] = std::numeric_limits<float>::quiet_NaN();
    CHECK(bitlane_run_f32(h.h, bad.data(), shape, 4) == BITLANE_ERROR_INPUT);
    CHECK(std::string(bitlane_model_last_error(h.h)).find("NaN value at element 300") != std::string::npos);
    bad[300] = 0.f;
    bad[783] = -std::numeric_limits<float>::infinity();
    CHECK(bitlane_run_f32(h.h, bad.data(), shape, 4) == BITLANE_ERROR_INPUT);
    CHECK(std::string(bitlane_model_last_error(h.h)).find("infinite value at element 783") != std::string::npos);
  }
  const int64_t huge[] = {int64_t{1} << 30, 1, 28, 28};
  CHECK(bitlane_run_f32(h.h, x.data(), huge, 4) != BITLANE_OK);  // over the tensor limit: refused before allocating
  CHECK(bitlane_run_f32(h.h, nullptr, shape, 4) == BITLANE_ERROR_ARGUMENT);
  CHECK(bitlane_run_f32(h.h, x.data(), shape, 0) == BITLANE_ERROR_ARGUMENT);
  CHECK(bitlane_run_image_u8(h.h, nullptr, 28, 28, 1, 0) == BITLANE_ERROR_ARGUMENT);
  const uint8_t px[4] = {};
  CHECK(bitlane_run_image_u8(h.h, px, 2, 2, 2, 0) == BITLANE_ERROR_ARGUMENT);  // 2 channels: not offered
  CHECK(bitlane_run_image_u8(h.h, px, 2, 2, 1, 1) == BITLANE_ERROR_ARGUMENT);  // stride < width
  CHECK(bitlane_run_image_file(h.h, test::source_path("models/data/bad/truncated.png").c_str()) == BITLANE_ERROR_INPUT);
  const float* out = nullptr;
  const int64_t* oshape = nullptr;
  size_t orank = 0;
  CHECK(bitlane_output(h.h, 0, &out, &oshape, &orank) == BITLANE_ERROR_STATE);  // the failed runs left none
  CHECK(bitlane_output(h.h, 0, nullptr, &oshape, &orank) == BITLANE_ERROR_ARGUMENT);
  CHECK(bitlane_model_label(h.h, 99) == nullptr);
  CHECK(std::string(bitlane_status_name(BITLANE_ERROR_PLAN)) == "invalid plan or calibration");
}

TEST_CASE("C API: a batch on 2 threads (micro-batches side by side) equals its images run one by one") {
  // LeNet's activations make a batch of 5 on 2 threads run as micro-batches
  // of 3 and 2 samples on the two threads (runtime/micro_batch.h).
  constexpr int64_t kBatch = 5, kPixels = 28 * 28;
  std::vector<float> x(kBatch * kPixels);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 251) / 125.f - 1.f;
  Handle one, two;
  for (Handle* h : {&one, &two}) {
    REQUIRE(bitlane_model_load_file(h->h, test::model_path("lenet").c_str()) == BITLANE_OK);
    REQUIRE(bitlane_model_set_plan(h->h, "4") == BITLANE_OK);
  }
  REQUIRE(bitlane_model_set_threads(two.h, 2) == BITLANE_OK);
  const int64_t shape[] = {kBatch, 1, 28, 28};
  REQUIRE(bitlane_run_f32(two.h, x.data(), shape, 4) == BITLANE_OK);
  const std::vector<float> batch = output0(two.h);
  REQUIRE(batch.size() == static_cast<size_t>(kBatch * 10));
  for (int64_t i = 0; i < kBatch; ++i) {
    const int64_t single[] = {1, 1, 28, 28};
    REQUIRE(bitlane_run_f32(one.h, x.data() + i * kPixels, single, 4) == BITLANE_OK);
    const std::vector<float> alone = output0(one.h);
    CHECK(std::equal(alone.begin(), alone.end(), batch.begin() + i * 10));
  }
}

TEST_CASE("C API: separate handles run in parallel threads with the same answers") {
  const std::vector<float> want = library_answer("lenet", "8", kImage);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] {
      bitlane_model* h = bitlane_model_create();
      bitlane_model_load_file(h, test::model_path("lenet").c_str());
      bitlane_model_set_plan(h, "8");
      bitlane_model_set_threads(h, t % 2 ? 2 : 1);
      for (int r = 0; r < 3; ++r)
        if (bitlane_run_image_file(h, kImage.c_str()) == BITLANE_OK) {
          const float* d = nullptr;
          const int64_t* s = nullptr;
          size_t rank = 0;
          if (bitlane_output(h, 0, &d, &s, &rank) == BITLANE_OK) got[t].assign(d, d + s[0] * s[1]);
        }
      bitlane_model_destroy(h);
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) CHECK(g == want);
}
