// The systolic-array estimator against cycle counts worked out by hand
// (systolic.h: folds = ceil(S_R/R) ceil(S_C/C), steps per fold 2R + C + T - 2,
// cycles = steps x cycles per step), for each dataflow, each PE kind and
// folding, and on the bundled MLP and LSTM.
#include <doctest/doctest.h>

#include "core/error.h"
#include "runtime/estimate/estimate.h"
#include "runtime/model.h"
#include "tests/test_paths.h"

using namespace bitlane;
using namespace bitlane::estimate;

namespace {

ArrayConfig array4x4(Dataflow d) {
  ArrayConfig a;
  a.rows = 4;
  a.cols = 4;
  a.dataflow = d;
  return a;
}

PeStep unit() { return PeStep{"bit-parallel", 1, 1, 0, 8, 8}; }

}  // namespace

TEST_CASE("estimate: one fold, weight-stationary, by hand") {
  // m=3, n=2, k=4: S_R = k = 4 rows, S_C = n = 2 columns, T = m = 3.
  // One fold of 2*4 + 4 + 3 - 2 = 13 steps; 3*2*4 = 24 useful of 16*13.
  const GemmTiming t = time_gemm(array4x4(Dataflow::kWeightStationary), {3, 2, 4, 1}, unit());
  CHECK(t.folds == 1);
  CHECK(t.steps == 13);
  CHECK(t.cycles == 13);
  CHECK(t.useful == 24);
  CHECK(t.utilization == doctest::Approx(24.0 / (16 * 13)));
  // Buffers: weights k*n = 8 bytes once, inputs m*k*1 = 12 bytes, 6 partial
  // sums of 4 bytes once: 44 bytes.
  CHECK(t.buffer_bytes == doctest::Approx(44));
}

TEST_CASE("estimate: folding in each dataflow, by hand") {
  const ops::GemmShape g{5, 6, 10, 1};  // m=5, n=6, k=10 on a 4x4 array
  // WS: S_R = k = 10 -> 3 row folds, S_C = n = 6 -> 2 column folds; T = m = 5:
  // 6 folds x (8 + 4 + 5 - 2 = 15) = 90 steps.
  const GemmTiming ws = time_gemm(array4x4(Dataflow::kWeightStationary), g, unit());
  CHECK(ws.folds == 6);
  CHECK(ws.steps == 90);
  // OS: S_R = m = 5 -> 2, S_C = n = 6 -> 2; T = k = 10: 4 x (8 + 4 + 10 - 2 = 20) = 80.
  const GemmTiming os = time_gemm(array4x4(Dataflow::kOutputStationary), g, unit());
  CHECK(os.folds == 4);
  CHECK(os.steps == 80);
  // IS: S_R = k = 10 -> 3, S_C = m = 5 -> 2; T = n = 6: 6 x (8 + 4 + 6 - 2 = 16) = 96.
  const GemmTiming is = time_gemm(array4x4(Dataflow::kInputStationary), g, unit());
  CHECK(is.folds == 6);
  CHECK(is.steps == 96);
  for (const GemmTiming& t : {ws, os, is}) CHECK(t.useful == 5 * 6 * 10);
  // OS buffers: inputs m*k*2 column folds = 100, weights k*n*2 row folds = 120
  // (bytes at 8 bits), outputs m*n*4 = 120: 340.
  CHECK(os.buffer_bytes == doctest::Approx(340));
}

TEST_CASE("estimate: every PE kind, by hand") {
  const ops::GemmShape g{5, 6, 10, 1};
  const ArrayConfig a = array4x4(Dataflow::kWeightStationary);
  EstimateOptions o;
  o.array = a;
  auto cycles = [&](const quant::LayerPlan& p, double drq = 0.5) {
    return time_gemm(a, g, pe_for(p, p.weight_bits, o, drq)).cycles;
  };
  quant::LayerPlan p;
  p.scheme = quant::Scheme::kUniform;
  p.weight_bits = 3;
  p.activation_bits = 5;
  // Bit-parallel: the 90 steps of the WS case, one cycle each.
  CHECK(cycles(p) == 90);
  o.uniform_pe = UniformPe::kBitSerial;  // 3 x 5 = 15 cycles per step
  CHECK(cycles(p) == 90 * 15);
  o.uniform_pe = UniformPe::kSerialData;  // 5 cycles per step
  CHECK(cycles(p) == 90 * 5);
  // Term, g = 4, k = 3, s = 2: a step eats a group of 4 in 3 x 2 = 6 cycles.
  // k' = ceil(10 / 4) = 3 rows: 1 row fold x 2 column folds x 15 steps = 30.
  quant::LayerPlan t = p;
  t.scheme = quant::Scheme::kTerm;
  t.group = 4, t.budget = 3, t.activation_terms = 2;
  CHECK(cycles(t) == 30 * 6);
  // Exponent MAC: one cycle per step, like bit-parallel.
  quant::LayerPlan e = p;
  e.scheme = quant::Scheme::kExponential;
  CHECK(cycles(e) == 90);
  // SDP, G = 4, K = 3: groups of 4 in 3 cycles: 30 steps x 3.
  quant::LayerPlan s = p;
  s.scheme = quant::Scheme::kSdp;
  s.sdp_group = 4, s.sdp_keep = 3;
  CHECK(cycles(s) == 30 * 3);
  // DRQ with a quarter of the regions sensitive: 8 x 0.25 + 4 x 0.75 = 5.
  quant::LayerPlan d = p;
  d.scheme = quant::Scheme::kDrq;
  CHECK(cycles(d, 0.25) == 90 * 5);
  // fp32 layers: a float MAC per cycle.
  CHECK(cycles(quant::LayerPlan{}) == 90);
}

TEST_CASE("estimate: the bundled MLP and LSTM map layer by layer") {
  EstimateOptions o;  // 64 x 128, weight-stationary, 200 MHz, batch 1
  quant::QuantPlan plan = quant::QuantPlan::from_cli("8", {});
  const auto mlp = Model::load(test::model_path("mlp"));
  const ModelEstimate e = estimate::estimate(*mlp, plan, o);
  REQUIRE(e.layers.size() == 3);
  // fc1: k = 784 -> 13 row folds, n = 512 -> 4 column folds, T = 1:
  // 52 x (128 + 128 + 1 - 2 = 255) = 13260. fc2: 8 x 4 x 255 = 8160.
  // fc3: n = 10: 8 x 1 x 255 = 2040.
  CHECK(e.layers[0].cycles == 13260);
  CHECK(e.layers[1].cycles == 8160);
  CHECK(e.layers[2].cycles == 2040);
  CHECK(e.cycles == 23460);
  CHECK(e.seconds == doctest::Approx(23460 / 200e6));
  // 64 images share each fold: T = 64, 52 x (128 + 128 + 64 - 2) / 64 per image.
  EstimateOptions batched = o;
  batched.batch = 64;
  CHECK(estimate::estimate(*mlp, plan, batched).layers[0].cycles == doctest::Approx(52.0 * 318 / 64));
  // The paper's settings on bit-serial PEs: term g16 k10 s6 steps take 60
  // cycles per group, uniform w4a6 24 per value.
  o.uniform_pe = UniformPe::kBitSerial;
  const ModelEstimate tq = estimate::estimate(*mlp, quant::QuantPlan::from_cli("scheme=term,w4a6,g=16,k=10,s=6", {}), o);
  const ModelEstimate u4 = estimate::estimate(*mlp, quant::QuantPlan::from_cli("w4a6", {}), o);
  // fc1: k' = 49 -> 1 row fold, 4 column folds: 4 x 255 x 60 = 61200.
  CHECK(tq.layers[0].cycles == 61200);
  // uniform fc1: 13 x 4 x 255 x 24 = 318240.
  CHECK(u4.layers[0].cycles == 318240);
  CHECK(u4.term_pairs / tq.term_pairs == doctest::Approx(6.4).epsilon(0.01));

  // char_lstm per token: LSTM 1: k = 64 + 192, n = 4 x 192: 4 x 6 folds;
  // LSTM 2: k = 384: 6 x 6; head: k = 192, n = 123: 3 x 1. 63 folds x 255.
  const auto lstm = Model::load(test::model_path("char_lstm"));
  EstimateOptions ol;
  const ModelEstimate el = estimate::estimate(*lstm, plan, ol);
  REQUIRE(el.layers.size() == 3);
  CHECK(el.layers[0].cycles == 24 * 255);
  CHECK(el.layers[1].cycles == 36 * 255);
  CHECK(el.layers[2].cycles == 3 * 255);
}

TEST_CASE("estimate: batches share folds; bad settings are errors") {
  // WS, m grows with the batch: one fold of 2*4 + 4 + (3*8) - 2 = 34 steps for
  // 8 items: 34 / 8 per item.
  const GemmTiming t = time_gemm(array4x4(Dataflow::kWeightStationary), {24, 2, 4, 1}, unit());
  CHECK(t.steps == 34);
  ArrayConfig bad = array4x4(Dataflow::kWeightStationary);
  bad.rows = 0;
  CHECK_THROWS_AS(time_gemm(bad, {1, 1, 1, 1}, unit()), Error);
  CHECK_THROWS_WITH_AS(Energies::parse("mac8=0.3,sram=2"), doctest::Contains("unknown 'sram=2'"), Error);
  CHECK_THROWS_WITH_AS(Energies::parse("mac8=-1"), doctest::Contains("non-negative"), Error);
  CHECK(Energies::parse("mac8=0.5,bit_cycle=0.02").mac8 == 0.5);
}
