// bitlane's fp32 path against PyTorch's outputs on fixed inputs, for every
// bundled model (reference.safetensors is written by the training scripts).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/executor.h"
#include "runtime/engine.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/test_paths.h"

using namespace bitlane;

namespace {

EngineOptions fp32_options() {
  EngineOptions o;
  o.plan = quant::QuantPlan{};
  return o;
}

// Largest |got - want| relative to the largest |want| of the same sample.
double max_relative_error(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  const int64_t per = want.size() / want.dim(0);
  double worst = 0;
  for (int64_t s = 0; s < want.dim(0); ++s) {
    double scale = 1e-6;
    for (int64_t i = 0; i < per; ++i) scale = std::max(scale, std::abs(static_cast<double>(want.f32()[s * per + i])));
    for (int64_t i = 0; i < per; ++i)
      worst = std::max(worst, std::abs(static_cast<double>(got.f32()[s * per + i]) - want.f32()[s * per + i]) / scale);
  }
  return worst;
}

void check_model(const std::string& name) {
  const auto model = Model::load(test::model_path(name));
  Executor ex(1);
  const auto engine = Engine::build(model, fp32_options(), ex);
  Session session(engine);
  const SafeTensorsFile ref = SafeTensorsFile::load(test::model_file(name, "reference.safetensors"));
  const SafeTensor* in = ref.find("input");
  const SafeTensor* out = ref.find("output");
  REQUIRE(in);
  REQUIRE(out);
  Tensor x = model->inputs()[0].dtype == DType::kI32 ? ref.read_i32(*in) : ref.read_f32(*in);
  const auto& outputs = session.run({x}, ex);
  const double err = max_relative_error(*outputs[0], ref.read_f32(*out));
  INFO(name << ": max relative error " << err);
  CHECK(err < 1e-4);
}

}  // namespace

TEST_CASE("fp32 outputs match PyTorch: mlp") { check_model("mlp"); }
TEST_CASE("fp32 outputs match PyTorch: lenet") { check_model("lenet"); }
TEST_CASE("fp32 outputs match PyTorch: resnet") { check_model("resnet"); }
TEST_CASE("fp32 outputs match PyTorch: char_lstm") { check_model("char_lstm"); }

TEST_CASE("char_lstm: streaming in chunks equals one call") {
  const auto model = Model::load(test::model_path("char_lstm"));
  Executor ex(1);
  const auto engine = Engine::build(model, fp32_options(), ex);
  const SafeTensorsFile ref = SafeTensorsFile::load(test::model_file("char_lstm", "reference.safetensors"));
  const Tensor ids = ref.read_i32(*ref.find("input"));  // [1, 64]
  const Tensor want = ref.read_f32(*ref.find("output"));
  Session s(engine);
  const int64_t vocab = want.dim(2);
  for (int64_t start = 0; start < 64; start += 16) {  // four calls of 16 characters
    Tensor part({1, 16}, DType::kI32);
    for (int64_t t = 0; t < 16; ++t) part.i32()[t] = ids.i32()[start + t];
    const Tensor& y = *s.run({part}, ex)[0];
    for (int64_t i = 0; i < 16 * vocab; ++i)
      REQUIRE(std::abs(y.f32()[i] - want.f32()[start * vocab + i]) <= 1e-4 * (1 + std::abs(want.f32()[start * vocab + i])));
  }
}
