// The systolic-array estimator against cycle counts worked out by hand from
// the model of runtime/estimate/README.md (the numbers below come from the
// formulas in these comments, not from the code under test):
//   fill  = 2R + C - 2 (weight- and input-stationary: preload R, skew R + C - 2)
//           R + C - 2  (output-stationary: nothing to preload)
//   fold  = fill + T * cycles per step
//   cycles of a product = folds * fold - 1
// for each dataflow, each PE kind, folding, a convolution lowered to a GEMM,
// and the bundled MLP and LSTM.
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

constexpr Dataflow kWs = Dataflow::kWeightStationary, kOs = Dataflow::kOutputStationary,
                   kIs = Dataflow::kInputStationary;

}  // namespace

TEST_CASE("estimate: a product that fits one fold, each dataflow, by hand") {
  // m = 3, n = 2, k = 4 on a 4 x 4 array; fill 2*4 + 4 - 2 = 10 (WS, IS), 4 + 4 - 2 = 6 (OS).
  const ops::GemmShape g{3, 2, 4, 1};
  // WS: S_R = k = 4, S_C = n = 2, T = m = 3: 1 fold of 10 + 3 = 13, cycles 12.
  const GemmTiming ws = time_gemm(array4x4(kWs), g, unit());
  CHECK(ws.folds == 1);
  CHECK(ws.fold_cycles == 13);
  CHECK(ws.cycles == 12);
  CHECK(ws.useful == 24);
  CHECK(ws.utilization == doctest::Approx(24.0 / (16 * 12)));
  // Buffers: weights k*n = 8 bytes once, inputs m*k = 12 bytes, 6 partial
  // sums of 4 bytes once: 44 bytes.
  CHECK(ws.buffer_bytes == doctest::Approx(44));
  // OS: S_R = m = 3, S_C = n = 2, T = k = 4: 6 + 4 = 10, cycles 9.
  const GemmTiming os = time_gemm(array4x4(kOs), g, unit());
  CHECK(os.folds == 1);
  CHECK(os.cycles == 9);
  // IS: S_R = k = 4, S_C = m = 3, T = n = 2: 10 + 2 = 12, cycles 11.
  const GemmTiming is = time_gemm(array4x4(kIs), g, unit());
  CHECK(is.folds == 1);
  CHECK(is.cycles == 11);
}

TEST_CASE("estimate: a product that folds in both dimensions, each dataflow, by hand") {
  const ops::GemmShape g{5, 6, 10, 1};  // m=5, n=6, k=10 on a 4x4 array
  // WS: S_R = k = 10 -> 3 row folds, S_C = n = 6 -> 2 column folds; T = m = 5:
  // 6 folds x (10 + 5) - 1 = 89.
  const GemmTiming ws = time_gemm(array4x4(kWs), g, unit());
  CHECK(ws.folds == 6);
  CHECK(ws.cycles == 89);
  // OS: S_R = m = 5 -> 2, S_C = n = 6 -> 2; T = k = 10: 4 x (6 + 10) - 1 = 63.
  const GemmTiming os = time_gemm(array4x4(kOs), g, unit());
  CHECK(os.folds == 4);
  CHECK(os.cycles == 63);
  // IS: S_R = k = 10 -> 3, S_C = m = 5 -> 2; T = n = 6: 6 x (10 + 6) - 1 = 95.
  const GemmTiming is = time_gemm(array4x4(kIs), g, unit());
  CHECK(is.folds == 6);
  CHECK(is.cycles == 95);
  for (const GemmTiming& t : {ws, os, is}) {
    CHECK(t.useful == 5 * 6 * 10);
    CHECK(t.busy == 5 * 6 * 10);
  }
  // OS buffers: inputs m*k*2 column folds = 100, weights k*n*2 row folds = 120
  // (bytes at 8 bits), outputs m*n*4 = 120: 340.
  CHECK(os.buffer_bytes == doctest::Approx(340));
}

TEST_CASE("estimate: convolutions lowered to GEMMs (the bundled LeNet), each dataflow, by hand") {
  // 64 x 128 array: fill 2*64 + 128 - 2 = 254 (WS, IS), 64 + 128 - 2 = 190 (OS).
  // conv1: 1 -> 6 channels, 5x5, pad 2, 28x28 -> m = 784 pixels, n = 6, k = 25.
  // conv2: 6 -> 16, 5x5, 14x14 -> 10x10: m = 100, n = 16, k = 150.
  // fc1 400 -> 120, fc2 120 -> 84, fc3 84 -> 10: m = 1.
  const auto lenet = Model::load(test::model_path("lenet"));
  const quant::QuantPlan plan = quant::QuantPlan::from_text("8", {});
  struct Case {
    Dataflow d;
    double conv1, conv2, fc1, fc2, fc3;
  };
  const Case cases[] = {
      // WS: conv1 S_R = 25, S_C = 6: 1 fold, T = 784: 254 + 784 - 1 = 1037.
      //     conv2 S_R = 150 -> 3 folds, T = 100: 3 x 354 - 1 = 1061.
      //     fc1 S_R = 400 -> 7, T = 1: 7 x 255 - 1; fc2, fc3: S_R = 120, 84 -> 2: 2 x 255 - 1.
      {kWs, 1037, 1061, 7 * 255 - 1, 2 * 255 - 1, 2 * 255 - 1},
      // OS: conv1 S_R = 784 -> 13 folds, T = 25: 13 x 215 - 1 = 2794 (with a
      //     preload it would be 13 x 279 = 3627). conv2 S_R = 100 -> 2, T = 150:
      //     2 x 340 - 1 = 679. fc: 1 fold, T = k: 190 + 400 - 1, 190 + 120 - 1, 190 + 84 - 1.
      {kOs, 2794, 679, 589, 309, 273},
      // IS: conv1 S_R = 25, S_C = 784 -> 7, T = 6: 7 x 260 - 1 = 1819.
      //     conv2 S_R = 150 -> 3, S_C = 100, T = 16: 3 x 270 - 1 = 809.
      //     fc S_C = m = 1, T = n: fc1 7 x (254 + 120) - 1, fc2 2 x (254 + 84) - 1, fc3 2 x 264 - 1.
      {kIs, 1819, 809, 7 * 374 - 1, 2 * 338 - 1, 2 * 264 - 1},
  };
  double totals[3] = {};
  for (const Case& c : cases) {
    EstimateOptions o;
    o.array.dataflow = c.d;
    const ModelEstimate e = estimate::estimate(*lenet, plan, o);
    INFO(dataflow_name(c.d));
    REQUIRE(e.layers.size() == 5);
    CHECK(e.layers[0].cycles == c.conv1);
    CHECK(e.layers[1].cycles == c.conv2);
    CHECK(e.layers[2].cycles == c.fc1);
    CHECK(e.layers[3].cycles == c.fc2);
    CHECK(e.layers[4].cycles == c.fc3);
    CHECK(e.cycles == c.conv1 + c.conv2 + c.fc1 + c.fc2 + c.fc3);
    totals[static_cast<int>(c.d)] = e.cycles;
  }
  // Output-stationary is the faster of the two here (4644 against 4900).
  CHECK(totals[static_cast<int>(kOs)] < totals[static_cast<int>(kWs)]);
}

TEST_CASE("estimate: term groups stay inside a convolution's channels") {
  // conv2 of LeNet: k = 150 = 25 kernel positions x 6 channels. Groups of 4
  // cannot cross a position: ceil(6/4) = 2 per position, 50 steps (not
  // ceil(150/4) = 38).
  CHECK(ops::GemmShape{100, 16, 150, 1, 6}.reduction_steps(4) == 50);
  CHECK(ops::GemmShape{100, 16, 150, 1, 0}.reduction_steps(4) == 38);
  // Runs of 4, 4 and a short 2: 2 + 2 + 1 steps of 3 values.
  CHECK(ops::GemmShape{1, 1, 10, 1, 4}.reduction_steps(3) == 5);
  CHECK(ops::GemmShape{1, 1, 10, 1, 0}.reduction_steps(1) == 10);
}

TEST_CASE("estimate: slow PEs stretch the streaming, not the fill and drain, by hand") {
  const ops::GemmShape g{5, 6, 10, 1};
  const ArrayConfig a = array4x4(kWs);
  EstimateOptions o;
  o.array = a;
  auto cycles = [&](const quant::LayerPlan& p, double drq = 0.5) {
    return time_gemm(a, g, pe_for(p, p.weight_bits, o, drq)).cycles;
  };
  // WS, m=5, n=6, k=10 on 4x4: 6 folds, fill 10, T = 5 steps.
  quant::LayerPlan p;
  p.options = quant::UniformOptions{};
  p.weight_bits = 3;
  p.activation_bits = 5;
  // Bit-parallel: 6 x (10 + 5) - 1 = 89.
  CHECK(cycles(p) == 89);
  o.uniform_pe = UniformPe::kBitSerial;  // 3 x 5 = 15 cycles per step: 6 x (10 + 75) - 1
  CHECK(cycles(p) == 509);
  o.uniform_pe = UniformPe::kSerialData;  // 5 cycles per step: 6 x (10 + 25) - 1
  CHECK(cycles(p) == 209);
  // Term, g = 4, k = 3, s = 2: a step eats a group of 4 in 3 x 2 = 6 cycles.
  // k' = ceil(10 / 4) = 3 rows: 1 row fold x 2 column folds x (10 + 5 x 6) - 1 = 79.
  quant::LayerPlan t = p;
  t.options = quant::TermOptions{.group = 4, .budget = 3, .activation_terms = 2};
  CHECK(cycles(t) == 79);
  const GemmTiming tt = time_gemm(a, g, pe_for(t, t.weight_bits, o, 0.5));
  // 5 x 6 x 3 busy steps of 6 cycles on 16 PEs over 79 cycles.
  CHECK(tt.busy == 540);
  CHECK(tt.utilization == doctest::Approx(540.0 / (16 * 79)));
  // Exponent MAC: one cycle per step, like bit-parallel.
  quant::LayerPlan e = p;
  e.options = quant::ExpOptions{};
  CHECK(cycles(e) == 89);
  // SDP, G = 4, K = 3: groups of 4 in 3 cycles: 2 folds x (10 + 15) - 1 = 49.
  quant::LayerPlan s = p;
  s.options = quant::SdpOptions{.group = 4, .keep = 3};
  CHECK(cycles(s) == 49);
  // DRQ with a quarter of the regions sensitive: 8 x 0.25 + 4 x 0.75 = 5
  // cycles per step: 6 x (10 + 25) - 1 = 209.
  quant::LayerPlan d = p;
  d.options = quant::DrqOptions{};
  CHECK(cycles(d, 0.25) == 209);
  // fp32 layers: a float MAC per cycle.
  CHECK(cycles(quant::LayerPlan{}) == 89);
  // Output-stationary, term: S_R = m = 5 -> 2, S_C = 6 -> 2, T = k' = 3:
  // 4 x (6 + 3 x 6) - 1 = 95.
  CHECK(time_gemm(array4x4(kOs), g, pe_for(t, t.weight_bits, o, 0.5)).cycles == 95);
}

TEST_CASE("estimate: the bundled MLP and LSTM map layer by layer") {
  EstimateOptions o;  // 64 x 128, weight-stationary, 200 MHz, batch 1: fill 254
  quant::QuantPlan plan = quant::QuantPlan::from_text("8", {});
  const auto mlp = Model::load(test::model_path("mlp"));
  const ModelEstimate e = estimate::estimate(*mlp, plan, o);
  REQUIRE(e.layers.size() == 3);
  // fc1: k = 784 -> 13 row folds, n = 512 -> 4 column folds, T = 1:
  // 52 x (254 + 1) - 1 = 13259. fc2: 8 x 4 x 255 - 1 = 8159.
  // fc3: n = 10: 8 x 1 x 255 - 1 = 2039.
  CHECK(e.layers[0].cycles == 13259);
  CHECK(e.layers[1].cycles == 8159);
  CHECK(e.layers[2].cycles == 2039);
  CHECK(e.cycles == 23457);
  CHECK(e.seconds == doctest::Approx(23457 / 200e6));
  // 64 images share each fold: T = 64, (52 x (254 + 64) - 1) / 64 per image.
  EstimateOptions batched = o;
  batched.batch = 64;
  CHECK(estimate::estimate(*mlp, plan, batched).layers[0].cycles == doctest::Approx((52.0 * 318 - 1) / 64));
  // The paper's settings on bit-serial PEs: term g16 k10 s6 steps take 60
  // cycles per group, uniform w4a6 24 per value.
  o.uniform_pe = UniformPe::kBitSerial;
  const ModelEstimate tq = estimate::estimate(*mlp, quant::QuantPlan::from_text("scheme=term,w4a6,g=16,k=10,s=6", {}), o);
  const ModelEstimate u4 = estimate::estimate(*mlp, quant::QuantPlan::from_text("w4a6", {}), o);
  // fc1: k' = 49 -> 1 row fold, 4 column folds: 4 x (254 + 60) - 1 = 1255.
  CHECK(tq.layers[0].cycles == 1255);
  // uniform fc1: 52 x (254 + 24) - 1 = 14455.
  CHECK(u4.layers[0].cycles == 14455);
  CHECK(u4.term_pairs / tq.term_pairs == doctest::Approx(6.4).epsilon(0.01));

  // char_lstm per token: LSTM 1: k = 64 + 192, n = 4 x 192: 4 x 6 folds;
  // LSTM 2: k = 384: 6 x 6; head: k = 192, n = 123: 3 x 1.
  const auto lstm = Model::load(test::model_path("char_lstm"));
  EstimateOptions ol;
  const ModelEstimate el = estimate::estimate(*lstm, plan, ol);
  REQUIRE(el.layers.size() == 3);
  CHECK(el.layers[0].cycles == 24 * 255 - 1);
  CHECK(el.layers[1].cycles == 36 * 255 - 1);
  CHECK(el.layers[2].cycles == 3 * 255 - 1);
}

TEST_CASE("estimate: batches share folds, bad settings are errors") {
  // WS, m grows with the batch: one fold of 10 + 3*8 = 34 cycles, 33 counted,
  // for 8 items.
  const GemmTiming t = time_gemm(array4x4(kWs), {24, 2, 4, 1}, unit());
  CHECK(t.cycles == 33);
  ArrayConfig bad = array4x4(kWs);
  bad.rows = 0;
  CHECK_THROWS_AS(time_gemm(bad, {1, 1, 1, 1}, unit()), Error);
  CHECK_THROWS_WITH_AS(Energies::parse("mac8=0.3,sram=2"), doctest::Contains("unknown 'sram=2'"), Error);
  CHECK_THROWS_WITH_AS(Energies::parse("mac8=-1"), doctest::Contains("non-negative"), Error);
  CHECK(Energies::parse("mac8=0.5,bit_cycle=0.02").mac8 == 0.5);
}
