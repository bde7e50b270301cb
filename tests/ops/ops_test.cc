// Operators against independent references written here: naive loop nests
// for convolution and pooling, the LSTM equations as PyTorch documents them,
// hand-worked small cases, and dequantized float arithmetic for the integer
// layers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/executor.h"
#include "ops/conv_lowering.h"
#include "ops/kernels/winograd.h"
#include "ops/quantized_matmul.h"
#include "quant/calibration.h"
#include "quant/scheme.h"
#include "quant/terms.h"
#include "quant/uniform.h"
#include "runtime/engine.h"
#include "runtime/session.h"
#include "swar/cpu_features.h"
#include "swar/targets.h"
#include "tests/runtime/test_models.h"
#include "tests/simd_targets.h"

using namespace bitlane;
using test::ModelBuilder;

namespace {

Tensor run1(const ModelBuilder& mb, const Tensor& x, const quant::QuantPlan& plan = {},
            std::vector<Tensor> calibration = {}) {
  Executor ex(1);
  EngineOptions o;
  o.plan = plan;
  o.calibration = std::move(calibration);
  auto engine = Engine::build(mb.build(), o, ex);
  Session s(engine);
  const Tensor& y = *s.run({x}, ex)[0];
  Tensor copy(y.shape());
  std::copy_n(y.f32(), y.size(), copy.f32());
  return copy;
}

// The model's outputs on x under `plan_text` (calibrated on x), with integer
// hand-over between layers and with float hand-over: the two must agree in
// every bit.
void check_handovers_agree(const ModelBuilder& mb, const char* plan_text, const Tensor& x) {
  Executor ex(1);
  auto output = [&](bool float_handover) {
    EngineOptions o;
    o.plan = quant::QuantPlan::from_text(plan_text, {});
    o.calibration = {x};
    o.float_handover = float_handover;
    Session s(Engine::build(mb.build(), o, ex));
    std::vector<float> all;
    for (const Tensor* y : s.run({x}, ex)) all.insert(all.end(), y->f32(), y->f32() + y->size());
    return all;
  };
  const std::vector<float> integers = output(false), floats = output(true);
  REQUIRE(integers.size() == floats.size());
  CHECK(std::memcmp(integers.data(), floats.data(), integers.size() * 4) == 0);
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
  REQUIRE(static_cast<size_t>(got.size()) == want.size());
  for (size_t i = 0; i < want.size(); ++i)
    REQUIRE_MESSAGE(std::abs(got.f32()[i] - want[i]) <= tol * (1 + std::abs(want[i])),
                    "element " << i << ": " << got.f32()[i] << " vs " << want[i]);
}

struct ConvCase {
  int64_t n, c, h, w, cout, kh, kw, sh, sw, dh, dw, groups;
  std::vector<int64_t> pad;  // t, l, b, r
};

// One conv2d node of case k, weights and bias drawn from seeds seed, seed + 1
// (seed advances past them).
ModelBuilder conv_model(const ConvCase& k, unsigned& seed) {
  ModelBuilder mb;
  mb.input("x", {k.c, k.h, k.w}).output("y")
      .weight("w", {k.cout, k.c / k.groups, k.kh, k.kw}, seed)
      .weight("b", {k.cout}, seed + 1)
      .node("conv2d", "conv", {"x"}, {"y"},
            {{"weight", "w"}, {"bias", "b"}, {"stride", {k.sh, k.sw}}, {"dilation", {k.dh, k.dw}},
             {"padding", k.pad}, {"groups", k.groups}});
  seed += 2;
  return mb;
}

std::vector<double> naive_conv(const Tensor& x, const Tensor& wt, const Tensor& b, const ConvCase& k,
                               int64_t oh, int64_t ow) {
  std::vector<double> y(static_cast<size_t>(k.n * k.cout * oh * ow));
  const int64_t cg = k.c / k.groups, cog = k.cout / k.groups;
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t o = 0; o < k.cout; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double s = b.f32()[o];
          const int64_t g = o / cog;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < k.kh; ++i)
              for (int64_t j = 0; j < k.kw; ++j) {
                const int64_t yy = oy * k.sh - k.pad[0] + i * k.dh, xx = ox * k.sw - k.pad[1] + j * k.dw;
                if (yy < 0 || yy >= k.h || xx < 0 || xx >= k.w) continue;
                s += static_cast<double>(x.f32()[((n * k.c) + g * cg + c) * k.h * k.w + yy * k.w + xx]) *
                     wt.f32()[((o * cg + c) * k.kh + i) * k.kw + j];
              }
          y[static_cast<size_t>(((n * k.cout + o) * oh + oy) * ow + ox)] = s;
        }
  return y;
}

// Case k under a `bits` plan (symmetric weights or not), calibrated on its
// input (uniform in [lo, hi]): its output against the naive convolution of
// the operands as the public quantizers make them, dequantized. Returns the
// layer's kernel.
std::string check_against_dequantized(const ConvCase& k, int bits, bool wsym, unsigned& seed, float x_lo = -0.5f,
                                      float x_hi = 2.f) {
  CAPTURE(k.c);
  CAPTURE(k.kh);
  CAPTURE(k.sh);
  CAPTURE(k.groups);
  CAPTURE(bits);
  CAPTURE(wsym);
  const ModelBuilder mb = conv_model(k, seed);
  quant::QuantPlan plan;
  plan.defaults = quant::parse_layer_plan({{"bits", bits}, {"weight_symmetric", wsym}}, plan.defaults, "test");
  const Tensor x = test::random_tensor({k.n, k.c, k.h, k.w}, seed++, x_lo, x_hi);
  Executor ex(1);
  EngineOptions o;
  o.plan = plan;
  o.calibration = {x};
  auto engine = Engine::build(mb.build(), o, ex);
  Session session(engine);
  const Tensor& y = *session.run({x}, ex)[0];
  // The operands as the public quantizers make them, dequantized.
  quant::RangeStats stats;
  stats.add(x.f32(), x.size());
  const auto [lo, hi] = stats.choose(plan.defaults);
  const quant::Affine a = quant::activation_affine(lo, hi, bits, false);
  const int64_t k_len = k.c / k.groups * k.kh * k.kw;
  const Tensor& w = mb.weights.at("w");
  const quant::QuantizedWeights qw = quant::quantize_weights(w.f32(), k.cout, k_len, plan.defaults);
  Tensor xd({k.n, k.c, k.h, k.w}), wd(w.shape());
  std::vector<int16_t> qx(static_cast<size_t>(x.size()));
  quant::quantize(x.f32(), x.size(), a, qx.data());
  for (int64_t i = 0; i < x.size(); ++i) xd.f32()[i] = quant::dequantize(qx[static_cast<size_t>(i)], a);
  for (int64_t i = 0; i < w.size(); ++i)
    wd.f32()[i] = quant::dequantize(qw.q[static_cast<size_t>(i)], qw.affine[static_cast<size_t>(i / k_len)]);
  const int64_t oh = (k.h + k.pad[0] + k.pad[2] - k.dh * (k.kh - 1) - 1) / k.sh + 1;
  const int64_t ow = (k.w + k.pad[1] + k.pad[3] - k.dw * (k.kw - 1) - 1) / k.sw + 1;
  // Float rounding of up to 288-term sums with zero-point corrections; a
  // lowering error (a wrong pixel, padding value or channel) is off by a
  // product of operands, ~1e-2 and more.
  check_close(y, naive_conv(xd, wd, mb.weights.at("b"), k, oh, ow), 1e-4);
  return engine->ops()[0]->kernel();
}

}  // namespace

TEST_CASE("conv2d matches a naive convolution (stride, padding, dilation, groups)") {
  // The float GEMM reads the padded input in place, in kernel rows (one
  // group, undilated width) or kernel positions (4+ channels per group);
  // the other cases go through the patch matrix (im2col).
  const ConvCase cases[] = {
      {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}},       // kernel rows
      {1, 4, 9, 9, 6, 3, 2, 2, 1, 1, 1, 2, {0, 1, 2, 0}},       // patch matrix (2 channels per group)
      {1, 2, 10, 8, 2, 3, 3, 1, 2, 2, 1, 1, {2, 0, 1, 1}},      // kernel rows, dilated height
      {3, 5, 6, 6, 5, 3, 3, 1, 1, 1, 1, 5, {1, 1, 1, 1}},       // depthwise: patch matrix
      {1, 1, 5, 5, 3, 5, 5, 1, 1, 1, 1, 1, {0, 0, 0, 0}},       // kernel = input, one channel
      {1, 3, 8, 9, 4, 3, 3, 1, 1, 1, 2, 1, {1, 2, 1, 0}},       // dilated width: taps copied one by one
      {2, 64, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}},      // K = 576
      {2, 8, 10, 9, 6, 3, 3, 2, 2, 1, 1, 2, {1, 0, 2, 1}},      // kernel positions: 2 groups of 4, uneven padding
      {1, 4, 11, 12, 5, 3, 3, 2, 1, 2, 2, 1, {0, 0, 0, 0}},     // kernel positions, dilated, unpadded, last row unread
  };
  unsigned seed = 1;
  for (const ConvCase& k : cases) {
    const ModelBuilder mb = conv_model(k, seed);
    const Tensor x = test::random_tensor({k.n, k.c, k.h, k.w}, seed++);
    const Tensor y = run1(mb, x);
    const int64_t oh = (k.h + k.pad[0] + k.pad[2] - k.dh * (k.kh - 1) - 1) / k.sh + 1;
    const int64_t ow = (k.w + k.pad[1] + k.pad[3] - k.dw * (k.kw - 1) - 1) / k.sw + 1;
    CHECK(y.shape() == Shape{k.n, k.cout, oh, ow});
    check_close(y, naive_conv(x, mb.weights.at("w"), mb.weights.at("b"), k, oh, ow), 1e-5);
  }
}

TEST_CASE("quantized conv2d equals the naive convolution of the dequantized operands") {
  // Every lowering the integer path picks: channels padded to 4 (16, 3
  // channels), a kernel row folded into channels (1 channel 5x5 as LeNet's
  // conv1, 1 channel 3x3 stride 2, 2 channels), the unfolded rows (groups,
  // dilation, 6 channels, asymmetric weights, 12-bit and 1-bit plans), with
  // odd paddings on every side.
  const ConvCase cases[] = {
      {2, 1, 12, 11, 6, 5, 5, 1, 1, 1, 1, 1, {2, 2, 2, 2}},
      {2, 1, 9, 10, 5, 3, 3, 2, 2, 1, 1, 1, {1, 0, 2, 1}},
      {1, 2, 7, 9, 3, 3, 3, 1, 1, 1, 1, 1, {1, 2, 0, 1}},
      {1, 3, 8, 8, 4, 3, 3, 1, 2, 1, 1, 1, {1, 1, 1, 1}},
      {2, 16, 6, 5, 17, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}},
      {1, 6, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, {0, 1, 1, 0}},
      {1, 4, 9, 9, 6, 3, 2, 2, 1, 1, 1, 2, {0, 1, 2, 0}},
      {1, 2, 10, 8, 2, 3, 3, 1, 1, 2, 2, 1, {2, 0, 1, 1}},
  };
  unsigned seed = 100;
  for (const ConvCase& k : cases)
    for (int bits : {8, 4, 1, 12})
      for (bool wsym : {true, false}) check_against_dequantized(k, bits, wsym, seed);
}

TEST_CASE("quantized conv2d: bit-serial's planes of gathered rows give the naive convolution, padding nowhere") {
  // Bit-serial packs the planes of rows gathered in place (LeNet's second
  // convolution: 6 channels padded to 8; ResNet's 32-channel ones, stride
  // 1 and 2) where its estimate beats the byte methods'. At 1 bit the
  // weights' grid has no 0 (binary: -s, +s) and the activations here, mostly
  // negative, have their zero point at integer 1 (the grid {-s, 0}), so the
  // padding columns must drop out of the zero-point terms, not meet weights
  // of 0. Every SIMD target; on AVX3_DL the 1-bit stride-2 layer must take
  // that path, on AMD's cores (popcount 5x VPDPBUSD's rate) the 5 x 5 one
  // too. (Where Winograd runs the 3 x 3 stride-1 one, it reads in place.)
  const ConvCase cases[] = {
      {2, 6, 12, 12, 16, 5, 5, 1, 1, 1, 1, 1, {0, 0, 0, 0}},
      {1, 32, 9, 9, 64, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}},
      {1, 32, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}},
  };
  bitlane::test::for_each_simd_target([&](const std::string& target) {
    unsigned seed = 300;
    for (const ConvCase& k : cases)
      for (int bits : {1, 2})
        for (bool wsym : {true, false}) {
          const std::string kernel = check_against_dequantized(k, bits, wsym, seed, -2.f, 0.5f);
          const bool fast_popcount = swar::kernel_features() & swar::kFastPopcount;
          if (target == "AVX3_DL" && bits == 1 && (k.sh == 2 || (k.kh == 5 && fast_popcount)))
            CHECK(kernel == "bitserial");
        }
  });
}

// Whether this SIMD target runs Winograd whatever a layer's U (VPDPBUSD),
// not only where its int16 pair sums hold 3 units (PMADDUBSW): weights whose
// pair sums over 6-bit inputs hold only one.
bool winograd_for_any_weights() {
  const std::vector<int16_t> sevens(9 * 16, 7);
  return ops::detail::winograd_pays_off(ops::detail::winograd_weights(sevens.data(), 1, 16, 0, 63));
}

TEST_CASE("quantized conv2d: the Winograd path gives the direct GEMM's bits") {
  // 3 x 3 stride-1 convolutions over integers of up to 6 bits with 4-bit
  // weights run Winograd F(2x2, 3x3) where it pays off on the target
  // (ops/kernels/winograd.h); the reference kernels run the direct
  // GEMM. Two chained convolutions (the second reads the first's integers),
  // odd and even sizes (2 x 2 tiles cut at the edges), no padding (which the
  // direct path reads in place), uneven padding, padding wider than the
  // kernel, channels padded to 4, output channels around the 16-column
  // blocks, signed and unsigned activations, 1 and 3 images, 1 and 2
  // threads: every bit the same.
  Executor one(1), two(2);
  struct Case {
    int64_t c, h, w, cout;
    std::vector<int64_t> pad;  // of the first convolution; the second pads 1
  };
  const Case cases[] = {{16, 8, 8, 16, {1, 1, 1, 1}}, {6, 7, 9, 17, {1, 1, 1, 1}}, {40, 6, 5, 33, {0, 0, 0, 0}},
                        {16, 9, 7, 16, {2, 0, 1, 1}}, {3, 5, 6, 8, {1, 1, 1, 1}}, {8, 4, 5, 16, {3, 3, 3, 2}}};
  unsigned seed = 1500;
  int winograd_layers = 0;
  const bool may = ops::detail::winograd_may_pay_off(), any_weights = winograd_for_any_weights();
  for (const Case& k : cases)
    for (const char* plan_text : {"4", "w4a6", "w2a3", "w4a5,activation_symmetric=true", "1"})
      for (int64_t n : {1, 3}) {
        INFO(k.c << " channels, " << k.h << "x" << k.w << ", " << k.cout << " out, plan " << std::string(plan_text)
                 << ", " << n << " images");
        ModelBuilder mb;
        mb.input("x", {k.c, k.h, k.w}).output("y")
            .weight("w1", {k.cout, k.c, 3, 3}, seed++).weight("b1", {k.cout}, seed++)
            .weight("w2", {k.cout, k.cout, 3, 3}, seed++).weight("b2", {k.cout}, seed++)
            .node("conv2d", "c1", {"x"}, {"h"},
                  {{"weight", "w1"}, {"bias", "b1"}, {"padding", k.pad}, {"activation", "relu"}})
            .node("conv2d", "c2", {"h"}, {"y"}, {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}});
        const Tensor x = test::random_tensor({n, k.c, k.h, k.w}, seed++, -1.f, 1.f);
        auto engine = [&](bool reference) {
          EngineOptions o;
          o.plan = quant::QuantPlan::from_text(plan_text, {});
          o.calibration = {x};
          o.reference_kernels = reference;
          return Engine::build(mb.build(), o, one);
        };
        auto output = [&](const std::shared_ptr<const Engine>& e, const Executor& ex) {
          Session s(e);
          const Tensor& y = *s.run({x}, ex)[0];
          return std::vector<float>(y.f32(), y.f32() + y.size());
        };
        const auto fast = engine(false);
        // The uniform plans read their inputs in place, so both layers take
        // Winograd where it pays: for any weights with VPDPBUSD, for
        // activations and weights of up to 4 bits with PMADDUBSW (5 and 6-bit
        // activations there only where U is small); symmetric (signed)
        // activations, which the GEMM biases into bytes as it packs them,
        // keep the direct GEMM; 1-bit layers take it unless the bit-serial
        // method (which does not read in place) is chosen for them.
        const std::string plan(plan_text);
        const bool possible = may && plan.find("symmetric") == std::string::npos;
        const bool sure = possible && (any_weights || plan == "4" || plan == "w2a3");
        for (const auto& op : fast->ops()) {
          if (op->kernel().empty()) continue;
          if (plan != "1" && sure) CHECK(op->kernel() == "winograd");
          if (!possible) CHECK(op->kernel() != "winograd");
          winograd_layers += op->kernel() == "winograd";
        }
        const std::vector<float> want = output(engine(true), one), got = output(fast, one), got2 = output(fast, two);
        REQUIRE(want.size() == got.size());
        CHECK(std::memcmp(want.data(), got.data(), want.size() * 4) == 0);
        CHECK(std::memcmp(want.data(), got2.data(), want.size() * 4) == 0);
      }
  if (!may)
    MESSAGE("this SIMD target multiplies bytes by emulation: the direct GEMM ran "
            "(Winograd is checked by its kernel test)");
  else  // at least both layers of every case under the uniform plans where it is sure to pay
    CHECK(winograd_layers >= (any_weights ? 60 : 40));
}

TEST_CASE("quantized conv2d: Winograd weights are prepared only where the SIMD target runs them") {
  // An engine built under a target whose byte products are emulated holds
  // no Winograd weights (they would only take memory), so it keeps the direct
  // GEMM even when later run where Winograd pays; one built where it pays
  // runs it. Either way the bits are the reference kernels'.
  Executor one(1);
  ModelBuilder mb;
  mb.input("x", {16, 6, 6}).output("y")
      .weight("w", {16, 16, 3, 3}, 1601).weight("b", {16}, 1602)
      .node("conv2d", "c", {"x"}, {"h"}, {{"weight", "w"}, {"bias", "b"}, {"padding", {1, 1, 1, 1}},
                                          {"activation", "relu"}})
      .node("conv2d", "c2", {"h"}, {"y"}, {{"weight", "w"}, {"padding", {1, 1, 1, 1}}});
  const Tensor x = test::random_tensor({2, 16, 6, 6}, 1603, -1.f, 1.f);
  auto engine = [&](bool reference) {
    EngineOptions o;
    o.plan = quant::QuantPlan::from_text("4", {});
    o.calibration = {x};
    o.reference_kernels = reference;
    return Engine::build(mb.build(), o, one);
  };
  auto output = [&](const std::shared_ptr<const Engine>& e) {
    Session s(e);
    const Tensor& y = *s.run({x}, one)[0];
    return std::vector<float>(y.f32(), y.f32() + y.size());
  };
  const bool pays_here = ops::detail::winograd_may_pay_off();  // 4 bits: wherever it may
  int built_elsewhere = 0, targets_without = 0;
  test::for_each_simd_target([&](const std::string&) {
    const bool pays_there = ops::detail::winograd_may_pay_off();
    targets_without += !pays_there;
    // Built under this target (the reference too: calibration runs the float
    // model, whose last bits differ between targets), run under the best one.
    const std::shared_ptr<const Engine> e = engine(false), reference = engine(true);
    swar::ScopedTarget best(swar::available_targets().front().name);
    const std::vector<float> want = output(reference);
    CHECK(ops::detail::winograd_may_pay_off() == pays_here);
    const std::string second = e->ops().back()->kernel();
    CHECK((second == "winograd") == (pays_here && pays_there));
    built_elsewhere += pays_here && !pays_there;
    const std::vector<float> got = output(e);
    REQUIRE(got.size() == want.size());
    CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);
  });
  if (!pays_here) MESSAGE("no SIMD target here has VPDPBUSD, PMADDUBSW or SDOT: Winograd is never prepared");
  else if (targets_without == 0) MESSAGE("Winograd may pay on every SIMD target here (Arm with SVE)");
  else CHECK(built_elsewhere == targets_without);  // x86: the portable fallback at least
}

TEST_CASE("pooling: hand-worked windows, padding and ceil mode") {
  // 1x1x3x4 input 1..12.
  Tensor x({1, 1, 3, 4});
  for (int i = 0; i < 12; ++i) x.f32()[i] = static_cast<float>(i + 1);
  {
    ModelBuilder mb;
    mb.input("x", {1, 3, 4}).output("y").node("max_pool2d", "p", {"x"}, {"y"}, {{"kernel", {2, 2}}});
    // windows [1 2 5 6] [3 4 7 8]; the last row has no full window.
    check_close(run1(mb, x), {6, 8}, 0);
  }
  {
    ModelBuilder mb;
    mb.input("x", {1, 3, 4}).output("y").node("max_pool2d", "p", {"x"}, {"y"},
                                               {{"kernel", {2, 2}}, {"ceil_mode", true}});
    check_close(run1(mb, x), {6, 8, 10, 12}, 0);
  }
  {
    ModelBuilder mb;  // average with padding 1, stride 2, padding not counted
    mb.input("x", {1, 3, 4}).output("y").node("avg_pool2d", "p", {"x"}, {"y"},
                                               {{"kernel", {3, 3}}, {"stride", {2, 2}}, {"padding", {1, 1, 1, 1}}});
    // (1,2,5,6)/4, (2,3,4,6,7,8)/6 ; (5,6,9,10)/4, (6,7,8,10,11,12)/6
    check_close(run1(mb, x), {3.5, 5.0, 7.5, 9.0}, 1e-6);
  }
  {
    ModelBuilder mb;
    mb.input("x", {1, 3, 4}).output("y").node("global_avg_pool", "p", {"x"}, {"y"});
    check_close(run1(mb, x), {6.5}, 1e-6);
  }
}

TEST_CASE("integer max pooling between quantized layers equals pooling the floats") {
  // conv -> max_pool2d -> conv: with integer hand-over the pool runs on the
  // quantized channels-last integers (u8, i8 or i16 by the plan), with float
  // hand-over on the dequantized floats; max commutes with the monotonic
  // dequantization, so every bit of the output must agree. Channel counts
  // around the 8-byte pixel words the integer pool moves, odd sizes (the
  // last row and column left out), 1 and 3 images.
  unsigned seed = 700;
  for (int64_t ch : {1, 3, 4, 5, 6, 8, 9, 16})
    for (const char* plan_text : {"4", "8", "12", "w4a6,activation_symmetric=true"})
      for (int64_t n : {1, 3}) {
        CAPTURE(ch);
        INFO("plan " << std::string(plan_text));
        ModelBuilder mb;
        mb.input("x", {2, 11, 9}).output("y")
            .weight("w1", {ch, 2, 3, 3}, seed++).weight("b1", {ch}, seed++)
            .weight("w2", {4, ch, 3, 3}, seed++).weight("b2", {4}, seed++)
            .node("conv2d", "c1", {"x"}, {"h"}, {{"weight", "w1"}, {"bias", "b1"}, {"padding", {1, 1, 1, 1}}})
            .node("max_pool2d", "p", {"h"}, {"hp"}, {{"kernel", {2, 2}}})
            .node("conv2d", "c2", {"hp"}, {"y"}, {{"weight", "w2"}, {"bias", "b2"}});
        check_handovers_agree(mb, plan_text, test::random_tensor({n, 2, 11, 9}, seed++, -1.f, 1.f));
      }
}

TEST_CASE("an unpadded convolution reads handed-over integers in place, as it would their padded copy") {
  // conv -> unpadded conv (1x1 or 3x3, stride 1 or 2): with integer hand-over
  // the second conv gathers straight from the first one's integers (no
  // padded copy) when its channels are a multiple of 4; with float hand-over
  // it quantizes and pads its own copy. Every bit must agree. 5 channels
  // (padded to 8: no in-place read), int16 activations (12 bits), a scheme
  // with a run-time transform (DRQ), single images (little slack).
  unsigned seed = 1300;
  for (int64_t ch : {4, 5, 8, 16})
    for (const char* plan_text : {"4", "8", "12", "scheme=drq"})
      for (int64_t k : {1, 3})
        for (int64_t stride : {1, 2})
          for (int64_t n : {1, 3}) {
            INFO(ch << " channels, plan " << std::string(plan_text) << ", kernel " << k << ", stride " << stride << ", " << n << " images");
            ModelBuilder mb;
            mb.input("x", {3, 9, 10}).output("y")
                .weight("w1", {ch, 3, 3, 3}, seed++).weight("b1", {ch}, seed++)
                .weight("w2", {6, ch, k, k}, seed++).weight("b2", {6}, seed++)
                .node("conv2d", "c1", {"x"}, {"h"},
                      {{"weight", "w1"}, {"bias", "b1"}, {"padding", {1, 1, 1, 1}}, {"activation", "relu"}})
                .node("conv2d", "c2", {"h"}, {"y"}, {{"weight", "w2"}, {"bias", "b2"}, {"stride", {stride, stride}}});
            check_handovers_agree(mb, plan_text, test::random_tensor({n, 3, 9, 10}, seed++, -1.f, 1.f));
          }
}

TEST_CASE("gather_row_offsets: every row's offset, whatever batch sizes and geometries came before") {
  // The offsets are kept per thread by geometry, not batch size (a session's
  // micro-batches differ in size): asked for 3, 1, 5, 2 images, and with
  // more geometries in between than the cache holds, each answer must still
  // list row (n, oy, ox) at ((n * Hp + oy * sh) * Wp + ox * sw) * c4.
  auto check = [](int64_t n, int64_t h, int64_t stride, int64_t c4) {
    ops::conv::Geometry g{};
    g.n = n, g.c = c4, g.h = h, g.w = h + 1, g.kh = g.kw = 3, g.sh = g.sw = stride, g.dh = g.dw = 1;
    g.oh = (h + 2 - 3) / stride + 1, g.ow = (h + 1 + 2 - 3) / stride + 1;
    ops::conv::Geometry gp = g;
    gp.h = h + 2, gp.w = h + 3;
    const int64_t* got = ops::conv::gather_row_offsets(g, gp, c4);
    size_t r = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox, ++r)
          REQUIRE_MESSAGE(got[r] == ((i * gp.h + oy * stride) * gp.w + ox * stride) * c4,
                          n << " images, " << h << " rows, stride " << stride << ", row " << r);
  };
  for (int64_t n : {3, 1, 5, 2, 5, 1})
    for (int64_t h = 4; h < 24; ++h) check(n, h, 1 + h % 2, h % 3 == 0 ? 8 : 4);
}

TEST_CASE("integer hand-over between convolutions equals float hand-over: paddings, fan-out, pools") {
  // c1 hands its output to convolutions as integers on their grid; with
  // float hand-over each reader quantizes and pads its own copy. Every bit
  // must agree:
  // - one reader, symmetric and lopsided paddings, strides 1 and 2;
  // - two readers with different paddings (a 3x3 and a 1x1 projection whose
  //   output is added in as a residual: a ResNet block);
  // - a grouped reader beside an implicit-im2col one, a max pool in between;
  // - c1 without an activation (0 not integer 0 on the readers' grid),
  //   5 channels (padded to 8), int16 activations, DRQ (a run-time
  //   transform), 1 and 3 images (little slack).
  using Pad = std::vector<int64_t>;
  unsigned seed = 1500;
  for (int64_t ch : {4, 5, 16})
    for (const char* plan_text : {"4", "8", "12", "scheme=drq"})
      for (const char* act : {"relu", "none"})
        for (int64_t n : {1, 3}) {
          INFO(ch << " channels, plan " << std::string(plan_text) << ", activation " << std::string(act) << ", " << n << " images");
          const Tensor x = test::random_tensor({n, 3, 9, 10}, seed++, -1.f, 1.f);
          unsigned w = seed;  // weights' seeds
          seed += 20;
          auto first = [&](ModelBuilder& mb) -> ModelBuilder& {
            mb.input("x", {3, 9, 10}).output("y").weight("w1", {ch, 3, 3, 3}, w).weight("b1", {ch}, w + 1);
            nlohmann::json a = {{"weight", "w1"}, {"bias", "b1"}, {"padding", {1, 1, 1, 1}}};
            if (std::string(act) != "none") a["activation"] = act;
            return mb.node("conv2d", "c1", {"x"}, {"h"}, a);
          };
          for (const Pad& pad : {Pad{1, 1, 1, 1}, Pad{0, 1, 2, 1}, Pad{2, 0, 0, 2}})
            for (int64_t stride : {1, 2}) {
              INFO("one reader, padding " << pad[0] << pad[1] << pad[2] << pad[3] << ", stride " << stride);
              ModelBuilder mb;
              first(mb).weight("w2", {6, ch, 3, 3}, w + 2).weight("b2", {6}, w + 3)
                  .node("conv2d", "c2", {"h"}, {"y"},
                        {{"weight", "w2"}, {"bias", "b2"}, {"padding", pad}, {"stride", {stride, stride}}});
              check_handovers_agree(mb, plan_text, x);
            }
          {
            INFO("a 3x3 reader and a 1x1 projection, added");
            ModelBuilder mb;
            first(mb).weight("w2", {8, ch, 3, 3}, w + 4).weight("b2", {8}, w + 5)
                .weight("w3", {8, ch, 1, 1}, w + 6).weight("b3", {8}, w + 7)
                .node("conv2d", "c2", {"h"}, {"h2"},
                      {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}, {"stride", {2, 2}}})
                .node("conv2d", "c3", {"h"}, {"h3"}, {{"weight", "w3"}, {"bias", "b3"}, {"stride", {2, 2}}})
                .node("add", "a", {"h2", "h3"}, {"y"});
            check_handovers_agree(mb, plan_text, x);
          }
          if (ch % 2 == 0) {
            INFO("beside a grouped reader");
            ModelBuilder mb;
            first(mb).weight("w2", {6, ch, 3, 3}, w + 8).weight("b2", {6}, w + 9)
                .weight("w3", {6, ch / 2, 3, 3}, w + 10).weight("b3", {6}, w + 11)
                .node("conv2d", "c2", {"h"}, {"h2"}, {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}})
                .node("conv2d", "c3", {"h"}, {"h3"},
                      {{"weight", "w3"}, {"bias", "b3"}, {"padding", {1, 1, 1, 1}}, {"groups", 2}})
                .node("add", "a", {"h2", "h3"}, {"y"});
            check_handovers_agree(mb, plan_text, x);
          }
          {
            INFO("through a max pool");
            ModelBuilder mb;
            first(mb).weight("w2", {6, ch, 3, 3}, w + 12).weight("b2", {6}, w + 13)
                .node("max_pool2d", "p", {"h"}, {"hp"}, {{"kernel", {2, 2}}})
                .node("conv2d", "c2", {"hp"}, {"y"}, {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}});
            check_handovers_agree(mb, plan_text, x);
          }
        }
}

TEST_CASE("a float tensor that is also a convolution's input carries that convolution's integers as its twin") {
  // c1's output h is read as integers by convolutions and as floats by
  // others (a residual add, a pool): c1 writes the floats and, after them in
  // the same tensor, the integer readers' integers -- ResNet's stem, whose
  // output is the first block's input and its residual. Against float
  // hand-over, every bit must agree:
  // - the block: h -> c2 (3x3), c2 + h (the add fuses into c2, which then
  //   reads h twice: integers and the float residual);
  // - two integer readers with different paddings (3x3 and a strided 1x1,
  //   which gathers from the twin in place) beside a float reader (a global
  //   average pool);
  // - c1 with and without an activation, 5 channels (padded to 8), int16
  //   activations, DRQ (the transform runs on a copy of the twin), 1 and 3
  //   images.
  unsigned seed = 1700;
  for (int64_t ch : {4, 5, 16})
    for (const char* plan_text : {"4", "8", "12", "scheme=drq"})
      for (const char* act : {"relu", "none"})
        for (int64_t n : {1, 3}) {
          INFO(ch << " channels, plan " << std::string(plan_text) << ", activation " << std::string(act) << ", "
                  << n << " images");
          const Tensor x = test::random_tensor({n, 3, 9, 10}, seed++, -1.f, 1.f);
          const unsigned w = seed;  // weights' seeds
          seed += 10;
          auto first = [&](ModelBuilder& mb) -> ModelBuilder& {
            mb.input("x", {3, 9, 10}).weight("w1", {ch, 3, 3, 3}, w).weight("b1", {ch}, w + 1);
            nlohmann::json a = {{"weight", "w1"}, {"bias", "b1"}, {"padding", {1, 1, 1, 1}}};
            if (std::string(act) != "none") a["activation"] = act;
            return mb.node("conv2d", "c1", {"x"}, {"h"}, a);
          };
          {
            INFO("a residual block");
            ModelBuilder mb;
            first(mb).output("y").weight("w2", {ch, ch, 3, 3}, w + 2).weight("b2", {ch}, w + 3)
                .node("conv2d", "c2", {"h"}, {"h2"}, {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}})
                .node("add", "a", {"h2", "h"}, {"s"})
                .node("relu", "r", {"s"}, {"y"});
            check_handovers_agree(mb, plan_text, x);
          }
          {
            INFO("two integer readers and a pool");
            ModelBuilder mb;
            first(mb).output("y").output("p").weight("w2", {8, ch, 3, 3}, w + 4).weight("b2", {8}, w + 5)
                .weight("w3", {8, ch, 1, 1}, w + 6).weight("b3", {8}, w + 7)
                .node("conv2d", "c2", {"h"}, {"h2"},
                      {{"weight", "w2"}, {"bias", "b2"}, {"padding", {1, 1, 1, 1}}, {"stride", {2, 2}}})
                .node("conv2d", "c3", {"h"}, {"h3"}, {{"weight", "w3"}, {"bias", "b3"}, {"stride", {2, 2}}})
                .node("add", "a", {"h2", "h3"}, {"y"})
                .node("global_avg_pool", "g", {"h"}, {"p"});
            check_handovers_agree(mb, plan_text, x);
          }
        }
}

TEST_CASE("global_avg_pool sums each plane in pixel order, whatever the layout it gets") {
  // conv -> global_avg_pool hands the pool channels-last floats; the same conv
  // alone gives the planes. The pool must equal each plane summed pixel by
  // pixel in float, then divided -- the order of the NCHW path -- bit for bit.
  for (const char* plan_text : {"fp32", "4"})
    for (int64_t ch : {3, 16, 21}) {
      INFO("plan " << std::string(plan_text) << ", " << ch << " channels");
      auto model = [&](bool pool) {
        ModelBuilder mb;
        mb.input("x", {2, 7, 6}).output("y")
            .weight("w", {ch, 2, 3, 3}, 900).weight("b", {ch}, 901)
            .node("conv2d", "c", {"x"}, {pool ? "h" : "y"}, {{"weight", "w"}, {"bias", "b"}, {"padding", {1, 1, 1, 1}}});
        if (pool) mb.node("global_avg_pool", "p", {"h"}, {"y"});
        return mb;
      };
      const Tensor x = test::random_tensor({3, 2, 7, 6}, 902, -1.f, 1.f);
      quant::QuantPlan plan = quant::QuantPlan::from_text(plan_text, {});
      const Tensor planes = run1(model(false), x, plan, {x});
      const Tensor pooled = run1(model(true), x, plan, {x});
      const int64_t area = 7 * 6;
      REQUIRE(pooled.size() == 3 * ch);
      for (int64_t p = 0; p < 3 * ch; ++p) {
        float acc = 0.f;
        for (int64_t i = 0; i < area; ++i) acc += planes.f32()[p * area + i];
        const float want = acc / static_cast<float>(area);
        REQUIRE_MESSAGE(std::memcmp(&want, &pooled.f32()[p], 4) == 0, "plane " << p << ": " << pooled.f32()[p] << " vs " << want);
      }
    }
}

TEST_CASE("softmax, log_softmax, activations, add with a broadcast constant, concat") {
  Tensor x({2, 3});
  const float v[] = {1, 2, 3, -1000, 0, 1000};
  std::copy(v, v + 6, x.f32());
  ModelBuilder mb;
  mb.input("x", {3}).output("s").output("l").output("c").output("a")
      .weight_values("k", {3}, {10, 20, 30})
      .node("softmax", "s", {"x"}, {"s"})
      .node("log_softmax", "l", {"x"}, {"l"})
      .node("add", "a", {"x"}, {"a"}, {{"constant", "k"}})
      .node("relu6", "r", {"a"}, {"r"})
      .node("concat", "c", {"x", "r"}, {"c"}, {{"axis", 1}});
  Executor ex(1);
  auto engine = Engine::build(mb.build(), {}, ex);
  Session s(engine);
  const auto& out = s.run({x}, ex);
  const double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0), z = e1 + e2 + e3;
  check_close(*out[0], {e1 / z, e2 / z, e3 / z, 0, 0, 1}, 1e-6);
  check_close(*out[1], {1 - std::log(z), 2 - std::log(z), 3 - std::log(z), -2000, -1000, 0}, 1e-6);
  check_close(*out[2], {1, 2, 3, 6, 6, 6, -1000, 0, 1000, 0, 6, 6}, 1e-6);
  check_close(*out[3], {11, 22, 33, -990, 20, 1030}, 1e-6);
}

TEST_CASE("lstm: the same bits on 1 and 2 threads, over two streamed calls") {
  // 41 streams: blocks of 20 and 21 streams per thread (ops/lstm.cc);
  // 12 streams x 384 hidden units: too few streams to share, so each step's
  // cell updates split over the threads instead.
  for (const auto& [batch, hidden] : {std::pair<int64_t, int64_t>{41, 24}, {12, 384}})
    for (const char* plan : {"fp32", "8"}) {
      CAPTURE(batch);
      CAPTURE(plan);
      const int64_t in = 6, steps = 5;
      ModelBuilder mb;
      mb.weight("wih", {4 * hidden, in}, 11, 0.3f).weight("whh", {4 * hidden, hidden}, 12, 0.3f);
      mb.input("x", {-1, in}).output("y").node("lstm", "lstm", {"x"}, {"y"},
          {{"hidden_size", hidden}, {"weight_ih", {"wih"}}, {"weight_hh", {"whh"}}, {"stateful", true}});
      const Tensor x = test::random_tensor({batch, steps, in}, 8, -2, 2);
      Executor one(1);
      EngineOptions o;
      o.plan = quant::QuantPlan::from_text(plan, {});
      o.calibration = {x};
      const auto engine = Engine::build(mb.build(), o, one);
      auto two_calls = [&](const Executor& ex) {
        Session s(engine);
        std::vector<float> y;
        for (int call = 0; call < 2; ++call) {  // the second call starts from the first's state
          const Tensor& out = *s.run({x}, ex)[0];
          y.insert(y.end(), out.f32(), out.f32() + out.size());
        }
        return y;
      };
      const std::vector<float> want = two_calls(one);
      {
        Executor ex(2);
        const std::vector<float> got = two_calls(ex);
        REQUIRE(got.size() == want.size());
        CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);
      }
    }
}

TEST_CASE("lstm: each stream's bits are the same in a batch of 50, of 7 and alone") {
  // The char LSTM's width: a batch of 50 takes its input products one step
  // at a time, reading the [N, T, in] input in place; 7 streams take blocks
  // of several steps from a time-major copy; one stream reads its steps in
  // place as a block (ops/lstm.cc).
  const int64_t in = 16, hidden = 192, steps = 5;
  for (const char* plan : {"fp32", "8"}) {
    CAPTURE(plan);
    ModelBuilder mb;
    mb.weight("wih", {4 * hidden, in}, 31, 0.3f).weight("whh", {4 * hidden, hidden}, 32, 0.1f);
    mb.input("x", {-1, in}).output("y").node("lstm", "lstm", {"x"}, {"y"},
        {{"hidden_size", hidden}, {"weight_ih", {"wih"}}, {"weight_hh", {"whh"}}});
    const Tensor x = test::random_tensor({50, steps, in}, 9, -2, 2);
    Executor one(1);
    EngineOptions o;
    o.plan = quant::QuantPlan::from_text(plan, {});
    o.calibration = {x};
    Session s(Engine::build(mb.build(), o, one));
    const Tensor all = *s.run({x}, one)[0];
    const int64_t per = steps * in, out_per = steps * hidden;
    for (const int64_t batch : {7, 1})
      for (int64_t b0 = 0; b0 < 50; b0 += batch) {
        const int64_t nb = std::min<int64_t>(batch, 50 - b0);
        Tensor part({nb, steps, in});
        std::memcpy(part.f32(), x.f32() + b0 * per, static_cast<size_t>(nb * per) * 4);
        const Tensor& y = *s.run({part}, one)[0];
        CAPTURE(batch);
        CAPTURE(b0);
        REQUIRE(std::memcmp(y.f32(), all.f32() + b0 * out_per, static_cast<size_t>(nb * out_per) * 4) == 0);
      }
  }
}

// One to three layers: the first reads the input, the last writes the
// output, the middle one reads and writes the op's own sequence buffers.
static void check_lstm_against_equations(int64_t layers) {
  const int64_t in = 5, hidden = 4, steps = 6, batch = 2;
  ModelBuilder mb;
  nlohmann::json ih = nlohmann::json::array(), hh = ih, bih = ih, bhh = ih;
  for (int l = 0; l < layers; ++l) {
    const std::string p = "l" + std::to_string(l);
    mb.weight(p + ".wih", {4 * hidden, l == 0 ? in : hidden}, 10 + l)
        .weight(p + ".whh", {4 * hidden, hidden}, 20 + l)
        .weight(p + ".bih", {4 * hidden}, 30 + l)
        .weight(p + ".bhh", {4 * hidden}, 40 + l);
    ih.push_back(p + ".wih");
    hh.push_back(p + ".whh");
    bih.push_back(p + ".bih");
    bhh.push_back(p + ".bhh");
  }
  mb.input("x", {-1, in}).output("y").node("lstm", "lstm", {"x"}, {"y"},
      {{"hidden_size", hidden}, {"layers", layers}, {"weight_ih", ih}, {"weight_hh", hh},
       {"bias_ih", bih}, {"bias_hh", bhh}, {"stateful", true}});
  const Tensor x = test::random_tensor({batch, steps, in}, 7, -2, 2);

  // Reference: h_t = o * tanh(c_t), c_t = f * c_{t-1} + i * g, gates i f g o.
  std::vector<double> want(static_cast<size_t>(batch * steps * hidden));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> seq(static_cast<size_t>(steps));
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t k = 0; k < in; ++k) seq[static_cast<size_t>(t)].push_back(x.f32()[(b * steps + t) * in + k]);
    for (int l = 0; l < layers; ++l) {
      const std::string p = "l" + std::to_string(l);
      const Tensor &wih = mb.weights.at(p + ".wih"), &whh = mb.weights.at(p + ".whh"),
                   &bi = mb.weights.at(p + ".bih"), &bh = mb.weights.at(p + ".bhh");
      std::vector<double> h(static_cast<size_t>(hidden), 0), c(static_cast<size_t>(hidden), 0);
      for (int64_t t = 0; t < steps; ++t) {
        const auto& xt = seq[static_cast<size_t>(t)];
        std::vector<double> g(static_cast<size_t>(4 * hidden));
        for (int64_t r = 0; r < 4 * hidden; ++r) {
          double s = bi.f32()[r] + bh.f32()[r];
          for (size_t k = 0; k < xt.size(); ++k) s += wih.f32()[r * static_cast<int64_t>(xt.size()) + static_cast<int64_t>(k)] * xt[k];
          for (int64_t k = 0; k < hidden; ++k) s += whh.f32()[r * hidden + k] * h[static_cast<size_t>(k)];
          g[static_cast<size_t>(r)] = s;
        }
        auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
        for (int64_t j = 0; j < hidden; ++j) {
          const double ig = sig(g[static_cast<size_t>(j)]), fg = sig(g[static_cast<size_t>(hidden + j)]);
          const double gg = std::tanh(g[static_cast<size_t>(2 * hidden + j)]), og = sig(g[static_cast<size_t>(3 * hidden + j)]);
          c[static_cast<size_t>(j)] = fg * c[static_cast<size_t>(j)] + ig * gg;
          h[static_cast<size_t>(j)] = og * std::tanh(c[static_cast<size_t>(j)]);
        }
        seq[static_cast<size_t>(t)] = h;
      }
    }
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t j = 0; j < hidden; ++j)
        want[static_cast<size_t>((b * steps + t) * hidden + j)] = seq[static_cast<size_t>(t)][static_cast<size_t>(j)];
  }
  Executor ex(1);
  auto engine = Engine::build(mb.build(), {}, ex);
  Session s(engine);
  check_close(*s.run({x}, ex)[0], want, 1e-5);

  // Streaming: the same sequence fed in two halves gives the same outputs.
  s.reset();
  Tensor first({batch, steps / 2, in}), second({batch, steps / 2, in});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t k = 0; k < in; ++k)
        (t < steps / 2 ? first : second).f32()[(b * (steps / 2) + t % (steps / 2)) * in + k] =
            x.f32()[(b * steps + t) * in + k];
  std::vector<double> got;
  for (const Tensor* part : {&first, &second}) {
    const Tensor& y = *s.run({*part}, ex)[0];
    for (int64_t b = 0; b < batch; ++b) (void)b;
    got.insert(got.end(), y.f32(), y.f32() + y.size());
  }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t j = 0; j < hidden; ++j) {
        const size_t half = static_cast<size_t>(t < steps / 2 ? 0 : batch * (steps / 2) * hidden);
        const double g = got[half + static_cast<size_t>((b * (steps / 2) + t % (steps / 2)) * hidden + j)];
        REQUIRE(std::abs(g - want[static_cast<size_t>((b * steps + t) * hidden + j)]) < 1e-5);
      }
}

TEST_CASE("lstm matches the PyTorch equations, and streams state across calls") {
  for (const int64_t layers : {1, 2, 3}) {
    CAPTURE(layers);
    check_lstm_against_equations(layers);
  }
}

TEST_CASE("lstm: a weight list with no name per layer is refused, an empty one too") {
  for (const nlohmann::json& ih : {nlohmann::json::array(), nlohmann::json::array({"a", "a"})}) {
    ModelBuilder mb;
    mb.weight("a", {4, 3}, 1).weight("b", {4, 1}, 2);
    mb.input("x", {-1, 3}).output("y").node("lstm", "lstm", {"x"}, {"y"},
        {{"hidden_size", 1}, {"layers", 1}, {"weight_ih", ih}, {"weight_hh", {"b"}}});
    CAPTURE(ih.dump());
    CHECK_THROWS_WITH_AS(mb.build(), doctest::Contains("must name one weight per layer (1)"), Error);
  }
}

TEST_CASE("embedding looks up rows and rejects ids outside the vocabulary") {
  ModelBuilder mb;
  mb.input("ids", {-1}, "int32").output("e").weight_values("t", {3, 2}, {0, 1, 10, 11, 20, 21})
      .node("embedding", "emb", {"ids"}, {"e"}, {{"weight", "t"}});
  Tensor ids({1, 4}, DType::kI32);
  const int32_t v[] = {2, 0, 1, 2};
  std::copy(v, v + 4, ids.i32());
  check_close(run1(mb, ids), {20, 21, 0, 1, 10, 11, 20, 21}, 0);
  ids.i32()[1] = 3;
  CHECK_THROWS_WITH_AS(run1(mb, ids), doctest::Contains("token id 3 at position 1"), Error);
}

TEST_CASE("batch norm after conv2d is folded at load and gives the unfolded result") {
  ModelBuilder mb;
  mb.input("x", {2, 4, 4}).output("y")
      .weight("w", {3, 2, 3, 3}, 1).weight("b", {3}, 2)
      .weight_values("scale", {3}, {1.5f, -0.5f, 2.f}).weight_values("shift", {3}, {0.1f, 0.2f, -0.3f})
      .weight_values("mean", {3}, {0.3f, -0.2f, 0.f}).weight_values("var", {3}, {0.5f, 2.f, 1.f})
      .node("conv2d", "conv", {"x"}, {"c"}, {{"weight", "w"}, {"bias", "b"}, {"padding", {1, 1, 1, 1}}})
      .node("batch_norm", "bn", {"c"}, {"y"},
            {{"scale", "scale"}, {"bias", "shift"}, {"mean", "mean"}, {"var", "var"}, {"epsilon", 1e-3}});
  const auto model = mb.build();
  REQUIRE(model->nodes().size() == 1);  // folded
  const Tensor x = test::random_tensor({1, 2, 4, 4}, 3);
  // Unfolded reference: the conv alone, then the batch-norm formula.
  ModelBuilder conv_only;
  conv_only.input("x", {2, 4, 4}).output("c").weights = {{"w", mb.weights.at("w")}, {"b", mb.weights.at("b")}};
  conv_only.node("conv2d", "conv", {"x"}, {"c"}, {{"weight", "w"}, {"bias", "b"}, {"padding", {1, 1, 1, 1}}});
  const Tensor c = run1(conv_only, x);
  std::vector<double> want;
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t i = 0; i < 16; ++i) {
      const double v = c.f32()[ch * 16 + i];
      want.push_back((v - mb.weights.at("mean").f32()[ch]) / std::sqrt(mb.weights.at("var").f32()[ch] + 1e-3) *
                         mb.weights.at("scale").f32()[ch] + mb.weights.at("shift").f32()[ch]);
    }
  check_close(run1(mb, x), want, 1e-5);
}

TEST_CASE("quantized dense equals the float dot product of the dequantized operands") {
  // Every grid the integer correction must handle: symmetric, asymmetric and
  // binary weights; unsigned, zero-point and binary activations.
  const int64_t in = 37, out = 9, batch = 5;
  for (const char* wgrid : {"symmetric", "asymmetric"})
    for (int bits : {1, 2, 4, 8, 12})
      for (bool act_symmetric : {false, true}) {
        CAPTURE(wgrid);
        CAPTURE(bits);
        CAPTURE(act_symmetric);
        ModelBuilder mb;
        mb.input("x", {in}).output("y").weight("w", {out, in}, 5).weight("b", {out}, 6)
            .node("dense", "fc", {"x"}, {"y"}, {{"weight", "w"}, {"bias", "b"}});
        quant::QuantPlan plan;
        plan.defaults = quant::parse_layer_plan(
            {{"bits", bits}, {"weight_symmetric", std::string(wgrid) == "symmetric"},
             {"activation_symmetric", act_symmetric}},
            plan.defaults, "test");
        const Tensor x = test::random_tensor({batch, in}, 9, -1.f, 3.f);
        const Tensor y = run1(mb, x, plan, {x});
        // Independent expectation from the public quantizers.
        quant::RangeStats stats;
        stats.add(x.f32(), x.size());
        const auto [lo, hi] = stats.choose(plan.defaults);
        const quant::Affine a = quant::activation_affine(lo, hi, bits, act_symmetric);
        const quant::QuantizedWeights qw =
            quant::quantize_weights(mb.weights.at("w").f32(), out, in, plan.defaults);
        std::vector<int16_t> qx(static_cast<size_t>(x.size()));
        quant::quantize(x.f32(), x.size(), a, qx.data());
        std::vector<double> want;
        for (int64_t r = 0; r < batch; ++r)
          for (int64_t c = 0; c < out; ++c) {
            double s = mb.weights.at("b").f32()[c];
            for (int64_t k = 0; k < in; ++k)
              s += static_cast<double>(quant::dequantize(qx[static_cast<size_t>(r * in + k)], a)) *
                   quant::dequantize(qw.q[static_cast<size_t>(c * in + k)], qw.affine[static_cast<size_t>(c)]);
            want.push_back(s);
          }
        check_close(y, want, 1e-5);
      }
}

TEST_CASE("a term-quantized dense layer equals the term-pair dot product of its integers") {
  // Independent of the packed kernels: the truncated integers from the public
  // quantizers, multiplied as term pairs (exponent-sum counters).
  const int64_t in = 40, out = 7, batch = 3;
  for (const char* enc : {"binary", "hese"}) {
    ModelBuilder mb;
    mb.input("x", {in}).output("y").weight("w", {out, in}, 11).weight("b", {out}, 12)
        .node("dense", "fc", {"x"}, {"y"}, {{"weight", "w"}, {"bias", "b"}});
    quant::QuantPlan plan;
    plan.defaults = quant::parse_layer_plan({{"scheme", "term"}, {"weight_bits", 4}, {"activation_bits", 6},
                                             {"group", 8}, {"budget", 6}, {"activation_terms", 2},
                                             {"encoding", enc}},
                                            plan.defaults, "test");
    const Tensor x = test::random_tensor({batch, in}, 13, 0.f, 2.f);
    const Tensor y = run1(mb, x, plan, {x});
    quant::RangeStats stats;
    stats.add(x.f32(), x.size());
    const auto [lo, hi] = stats.choose(plan.defaults);
    const quant::Scheme& scheme = plan.defaults.scheme();
    const quant::Affine a = scheme.activation_affine(lo, hi, plan.defaults);
    const quant::QuantizedWeights qw = scheme.quantize_weights(mb.weights.at("w").f32(), out, in, in, plan.defaults);
    const quant::TermEncoding e = plan.defaults.get<quant::TermOptions>().encoding;
    std::vector<double> want;
    for (int64_t r = 0; r < batch; ++r) {
      std::vector<int16_t> q(static_cast<size_t>(in));
      quant::quantize(x.f32() + r * in, in, a, q.data());
      std::vector<int32_t> xt(static_cast<size_t>(in));
      for (int64_t k = 0; k < in; ++k) xt[static_cast<size_t>(k)] = quant::truncate_value(q[static_cast<size_t>(k)], 2, e);
      for (int64_t c = 0; c < out; ++c) {
        std::vector<int32_t> wc(qw.q.begin() + c * in, qw.q.begin() + (c + 1) * in);
        const int64_t dot = quant::term_pair_dot(wc, xt, e);
        want.push_back(static_cast<double>(dot) * a.scale * qw.affine[static_cast<size_t>(c)].scale +
                       mb.weights.at("b").f32()[c]);
      }
    }
    check_close(y, want, 1e-5);
  }
}

TEST_CASE("bad plans give clear errors") {
  auto error = [](const nlohmann::json& j) {
    try {
      quant::parse_layer_plan(j, {}, "plan");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error({{"budget", -1}}).find("'budget': must be 0..4096, got -1") != std::string::npos);
  CHECK(error({{"group", 0}}).find("'group': must be 1..4096, got 0") != std::string::npos);
  CHECK(error({{"weight_bits", 17}}).find("'weight_bits': must be 1..16, got 17") != std::string::npos);
  CHECK(error({{"scheme", "ternary"}}).find("unknown scheme 'ternary'") != std::string::npos);
  CHECK(error({{"exp_base", 1.0}}).find("base must be greater than 1") != std::string::npos);
  CHECK(error({{"encoding", "naf"}}).find("expected binary or hese, got 'naf'") != std::string::npos);
  CHECK(error({{"drq_threshold", 2}}).find("must lie in [0, 1]") != std::string::npos);
  CHECK(error({{"bugdet", 3}}).find("'bugdet': unknown setting") != std::string::npos);
  CHECK_THROWS_WITH_AS(quant::QuantPlan::from_text("scheme=term,k=x", {}), doctest::Contains("k=x: not a number"), Error);
  CHECK_THROWS_WITH_AS(quant::QuantPlan::from_text("scheme=term,zz=1", {}), doctest::Contains("unknown key 'zz'"), Error);
  // Found by fuzz_plan: a huge integer was cast from double (undefined);
  // non-finite numbers are no numbers.
  CHECK_THROWS_WITH_AS(quant::QuantPlan::from_text("scheme=term,g=-37777777777777777777777777", {}),
                       doctest::Contains("'group': must be an integer"), Error);
  CHECK_THROWS_WITH_AS(quant::QuantPlan::from_text("scheme=exponential,thr=inf", {}),
                       doctest::Contains("thr=inf: not a number"), Error);
  CHECK(error({{"scheme", "drq"}, {"drq_threshold", std::numeric_limits<double>::infinity()}})
            .find("must be a finite number") != std::string::npos);
  // Found by fuzz_plan: a setting of another scheme was silently ignored.
  CHECK(error({{"scheme", "sdp"}, {"activation_terms", 8}})
            .find("'activation_terms': is a setting of scheme term, not of sdp") != std::string::npos);
  CHECK(error({{"scheme", "uniform"}, {"exp_base", 2.0}}).find("is a setting of scheme exponential") !=
        std::string::npos);
  // Trained grids (quant/trained_grid.h): uniform only, valid scales and zero points.
  const nlohmann::json grid = {{"scale", {0.5, 0.25}}, {"signed", true}};
  CHECK(error({{"scheme", "term"}, {"weight_grid", grid}}).find("'weight_grid': needs scheme uniform, not term") !=
        std::string::npos);
  CHECK(error({{"scheme", "uniform"}, {"weight_grid", {{"scale", -1}}}}).find("scales must be positive and finite") !=
        std::string::npos);
  CHECK(error({{"scheme", "uniform"}, {"activation_bits", 4}, {"activation_grid", {{"scale", 1}, {"zero_point", 16}, {"signed", false}}}})
            .find("zero point 16 lies outside the 4-bit range") != std::string::npos);
  CHECK(error({{"scheme", "uniform"}, {"activation_grid", grid}}).find("activations take one scale") != std::string::npos);
  CHECK(error({{"scheme", "uniform"}, {"weight_grid", {{"scale", 1}, {"sign", true}}}}).find("'sign': unknown key") !=
        std::string::npos);
  // ... and they round-trip through JSON.
  const auto with_grid = quant::QuantPlan::from_json(
      {{"default", {{"scheme", "uniform"}, {"weight_bits", 2}, {"weight_grid", grid}}}}, "plan");
  CHECK(quant::QuantPlan::from_json(with_grid.to_json(), "again").defaults == with_grid.defaults);
  CHECK_FALSE(with_grid.defaults.get<quant::UniformOptions>().activations);
  CHECK(with_grid.needs_samples());  // the activations are not trained: calibrated
}

TEST_CASE("plans: settings inherited from another scheme are dropped, so JSON round-trips") {
  // A term default with an SDP layer: the layer keeps none of the term settings.
  const auto plan = quant::QuantPlan::from_json(
      nlohmann::json::parse(R"({"default": {"scheme": "term", "group": 8, "budget": 12},
                                "layers": {"fc2": {"scheme": "sdp", "sdp_keep": 2}}})"),
      "plan");
  const quant::LayerPlan& sdp = plan.layers.at("fc2");
  REQUIRE(sdp.is<quant::SdpOptions>());
  CHECK(sdp.get<quant::SdpOptions>().keep == 2);
  CHECK(sdp.get<quant::SdpOptions>().group == quant::SdpOptions{}.group);
  CHECK(plan.defaults.get<quant::TermOptions>().group == 8);
  CHECK(plan.defaults.get<quant::TermOptions>().budget == 12);
  const auto again = quant::QuantPlan::from_json(plan.to_json(), "round trip");
  CHECK(again.defaults == plan.defaults);
  CHECK(again.layers.at("fc2") == sdp);
}

TEST_CASE("plans: CLI items apply in any order and widths keep the scheme's settings") {
  using quant::QuantPlan;
  const QuantPlan a = QuantPlan::from_text("scheme=term,g=8,k=4,w4a6", {});
  REQUIRE(a.defaults.is<quant::TermOptions>());
  CHECK(a.defaults.get<quant::TermOptions>().group == 8);
  CHECK(a.defaults.get<quant::TermOptions>().budget == 4);
  CHECK(a.defaults.weight_bits == 4);
  CHECK(a.defaults.activation_bits == 6);
  CHECK(QuantPlan::from_text("g=8,k=4,w4a6,scheme=term", {}).defaults == a.defaults);
  CHECK(QuantPlan::from_text("w4a6,scheme=term,k=4,g=8", {}).defaults == a.defaults);
  // fp32 after widths (found by fuzz_plan): nothing of the widths survives.
  const QuantPlan f = QuantPlan::from_text("w4a8,fp32,last=fp32", QuantPlan::from_text("w4a8,first=fp32", {}));
  CHECK(f.defaults == quant::LayerPlan{});
  CHECK(QuantPlan::from_json(f.to_json(), "round trip").defaults == f.defaults);
}

TEST_CASE("a quantized layer tells rows_done of each block of rows once, with the rows final, and refuses partial tiles") {
  const int64_t in = 300, out = 200, batch = 37;
  const Tensor w = test::random_tensor({out, in}, 24, -1.f, 1.f);
  const Tensor x = test::random_tensor({batch, in}, 25, 0.f, 3.f);
  quant::QuantPlan plan;
  plan.defaults = quant::parse_layer_plan({{"bits", 4}}, plan.defaults, "test");
  ops::QuantizedMatmul q;
  q.prepare(w.f32(), out, in, nullptr, plan.defaults, quant::activation_affine(0.f, 3.f, 4, false));
  Executor one(1);
  for (const bool reference : {false, true}) {
    CAPTURE(reference);
    std::vector<float> want(static_cast<size_t>(batch * out)), y(want.size(), -1.f);
    q.run(x.f32(), batch, in, want.data(), out, ops::RunContext{one, nullptr, reference});
    struct Seen {
      const std::vector<float> *want, *y;
      int64_t cols;
      bool blocks_of_8;  // the fast path's blocks; the reference tells all rows at once
      std::vector<int> times;
      int not_final = 0, too_big = 0;
    } seen{&want, &y, out, !reference, std::vector<int>(static_cast<size_t>(batch), 0)};
    ops::MatmulDest d = ops::MatmulDest::rows(y.data(), out);
    d.rows_done = [](void* p, int64_t r0, int64_t r1) {
      auto& s = *static_cast<Seen*>(p);
      s.too_big += s.blocks_of_8 && r1 - r0 > 8;
      for (int64_t r = r0; r < r1; ++r) {
        ++s.times[static_cast<size_t>(r)];
        s.not_final += std::memcmp(s.y->data() + r * s.cols, s.want->data() + r * s.cols,
                                   static_cast<size_t>(s.cols) * 4) != 0;
      }
    };
    d.rows_done_ctx = &seen;
    q.run(x.f32(), batch, in, d, ops::Activation::kNone, ops::RunContext{one, nullptr, reference});
    CHECK(seen.not_final == 0);
    CHECK(seen.too_big == 0);
    CHECK(std::count(seen.times.begin(), seen.times.end(), 1) == batch);
    CHECK(y == want);
  }
  // Two threads and three rows: the GEMM splits the columns over tasks, so
  // no row is ever finished by one tile.
  const int64_t wide = 2048;
  const Tensor w2 = test::random_tensor({wide, wide}, 26, -1.f, 1.f);
  const Tensor x2 = test::random_tensor({3, wide}, 27, 0.f, 3.f);
  ops::QuantizedMatmul q2;
  q2.prepare(w2.f32(), wide, wide, nullptr, plan.defaults, quant::activation_affine(0.f, 3.f, 4, false));
  std::vector<float> y2(static_cast<size_t>(3 * wide));
  ops::MatmulDest d2 = ops::MatmulDest::rows(y2.data(), wide);
  d2.rows_done = [](void*, int64_t, int64_t) {};
  Executor two(2);
  CHECK_THROWS_WITH_AS(q2.run(x2.f32(), 3, wide, d2, ops::Activation::kNone, ops::RunContext{two, nullptr, false}),
                       doctest::Contains("rows_done needs float rows computed whole"), Error);
}

TEST_CASE("a quantized layer computes the same without its unpacked weights, which only the reference reads") {
  const int64_t in = 37, out = 13, batch = 6;
  const Tensor w = test::random_tensor({out, in}, 21, -1.f, 1.f);
  const Tensor b = test::random_tensor({out}, 22, -0.5f, 0.5f);
  const Tensor x = test::random_tensor({batch, in}, 23, 0.f, 3.f);
  for (int bits : {2, 4, 8}) {
    CAPTURE(bits);
    quant::QuantPlan plan;
    plan.defaults = quant::parse_layer_plan({{"bits", bits}}, plan.defaults, "test");
    const quant::Affine a = quant::activation_affine(0.f, 3.f, bits, false);
    ops::QuantizedMatmul kept, released;
    kept.prepare(w.f32(), out, in, b.f32(), plan.defaults, a);
    released.prepare(w.f32(), out, in, b.f32(), plan.defaults, a);
    released.release_reference_weights();
    Executor ex(1);
    auto run = [&](const ops::QuantizedMatmul& q, bool reference) {
      std::vector<float> y(static_cast<size_t>(batch * out));
      q.run(x.f32(), batch, in, y.data(), out, ops::RunContext{ex, nullptr, reference});
      return y;
    };
    const std::vector<float> want = run(kept, true);  // the scalar reference, weights kept
    CHECK(run(kept, false) == want);
    CHECK(run(released, false) == want);
    CHECK_THROWS_WITH_AS(run(released, true), doctest::Contains("released"), Error);
  }
}

TEST_CASE("a layer whose single rows and many rows run best on different methods keeps both packings, each with the reference's bits") {
  // 1 x 1 bits on the AVX2 target: bit-serial's GEMVs, and int7's GEMMs
  // (int8's with AVX-VNNI; QuantizedMatmul::kManyRows). Every target, with
  // AVX-VNNI and without.
  const int64_t in = 300, out = 40, batch = 5;
  const Tensor w = test::random_tensor({out, in}, 31, -1.f, 1.f);
  const Tensor b = test::random_tensor({out}, 32, -0.5f, 0.5f);
  const Tensor x = test::random_tensor({batch, in}, 33, 0.f, 3.f);
  Executor ex(2);
  int kept_two = 0;
  for (const bool vnni : {true, false}) {
    const bool was = swar::allow_avx_vnni(vnni);
    test::for_each_simd_target([&](const std::string& target) {
      for (int bits : {1, 2, 4}) {
        CAPTURE(target);
        CAPTURE(vnni);
        CAPTURE(bits);
        quant::QuantPlan plan;
        plan.defaults = quant::parse_layer_plan({{"bits", bits}}, plan.defaults, "test");
        ops::QuantizedMatmul q;
        q.prepare(w.f32(), out, in, b.f32(), plan.defaults, quant::activation_affine(0.f, 3.f, bits, false));
        auto run = [&](int64_t r0, int64_t rows, bool reference) {
          std::vector<float> y(static_cast<size_t>(rows * out));
          q.run(x.f32() + r0 * in, rows, in, y.data(), out, ops::RunContext{ex, nullptr, reference});
          return y;
        };
        const std::vector<float> want = run(0, batch, true);  // the scalar reference
        CHECK(run(0, batch, false) == want);
        for (int64_t r = 0; r < batch; ++r)  // GEMVs
          CHECK(run(r, 1, false) == std::vector<float>(want.begin() + r * out, want.begin() + (r + 1) * out));
        if (target == "AVX2" && bits == 1) {  // measured: bench/README.md, thirty-ninth session
          REQUIRE(q.many_rows_packed());
          CHECK(q.kernel() == (swar::avx_vnni_usable() ? "int8 (1 row: bitserial)" : "int7 (1 row: bitserial)"));
        }
        if (q.many_rows_packed()) {
          ++kept_two;
          CHECK(q.many_rows_packed()->method() != q.packed().method());
          CHECK(q.kernel().find(" (1 row: ") != std::string::npos);
        } else {
          CHECK(q.kernel().find('(') == std::string::npos);
        }
      }
    });
    swar::allow_avx_vnni(was);
  }
  if (kept_two == 0) MESSAGE("no target here runs single rows and many rows on different methods");
}
