// bitlane_encode: the run-time cost of each scheme's activation encoding, in
// nanoseconds per value, against the uniform quantizer (float -> u8) and
// against the int8 GEMM that consumes the values (per activation value of a
// 64 x 784 x 512 product, the MLP's first layer at batch 64), all measured
// in the same run. See README.md.
#include <cxxopts.hpp>

#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/executor.h"
#include "quant/exponential.h"
#include "quant/scheme.h"
#include "quant/uniform.h"
#include "swar/gemm.h"
#include "swar/targets.h"
#include "timing.h"

using namespace bitlane;
using namespace bitlane::bench;

namespace {

struct Row {
  std::string name;
  double ns_per_value;
};

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options opts("bitlane_encode", "Activation encoding cost per scheme, ns per value.");
  opts.add_options()("min-time", "seconds per measurement", cxxopts::value<double>()->default_value("0.3"))(
      "n", "values per call", cxxopts::value<int>()->default_value("50176"))(
      "filter", "only encodings whose name contains this (profiling)", cxxopts::value<std::string>()->default_value(""))(
      "h,help", "show help");
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s", opts.help().c_str());
    return 0;
  }
  const double min_time = args["min-time"].as<double>();
  const int64_t n = args["n"].as<int>();  // default 64 x 784: one MLP batch's first-layer inputs
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = std::max(0.f, normal(rng));  // after ReLU: half zeros
  std::vector<uint8_t> q(static_cast<size_t>(n)), work(static_cast<size_t>(n));
  std::vector<float> values(static_cast<size_t>(n));
  std::vector<int16_t> codes(static_cast<size_t>(n));

  std::vector<Row> rows;
  const std::string filter = args["filter"].as<std::string>();
  auto measure = [&](const std::string& name, const std::function<void()>& fn) {
    if (!rows.empty() && name.find(filter) == std::string::npos) return;  // the baseline always runs
    rows.push_back({name, time_calls(fn, min_time).median_s * 1e9 / static_cast<double>(n)});
  };

  // Plans from their text form (quant/plan.h), as a user writes them.
  const quant::LayerPlan uniform = quant::QuantPlan::from_text("8", {}).defaults;
  const quant::Affine a8 = uniform.scheme().activation_affine(0.f, 4.f, uniform);
  measure("uniform: quantize float -> u8 (baseline)", [&] { quant::quantize(x.data(), n, a8, q.data()); });
  const quant::ActivationLayout dense{1, 1, 1, n, n};

  auto transform = [&](const std::string& name, const std::string& spec) {
    const quant::LayerPlan p = quant::QuantPlan::from_text(spec, {}).defaults;
    const quant::Affine a = p.scheme().activation_affine(0.f, 4.f, p);
    const auto t = p.scheme().transform(p, a);
    quant::quantize(x.data(), n, a, q.data());
    measure(name, [&] {
      work = q;  // the transform works in place: start from the same values each call
      t->apply(work.data(), dense, nullptr);
    });
  };
  measure("copy of the quantized values (subtract from the rows below)", [&] { work = q; });
  transform("term: top 3 terms per value (binary, table)", "scheme=term,a8,s=3");
  transform("term: top 3 terms per value (HESE, table)", "scheme=term,a8,s=3,enc=hese");
  transform("term: top 12 terms per group of 8 (HESE)", "scheme=term,a8,s=3,enc=hese,ga=8,ka=12");
  transform("SDP: G4 K4 (vector kernel)", "scheme=sdp,sdp_g=4,sdp_k=4");
  transform("SDP: G8 K8 (scalar rank count)", "scheme=sdp,sdp_g=8,sdp_k=8");
  transform("DRQ: regions of 4, threshold 0.25", "scheme=drq");

  quant::ExpParams e;
  e.base = 1.35;
  e.bits = 5;
  e.alpha = 3.0;
  const quant::ExpCodec codec(e);
  measure("exponential: ExpCodec encode+decode, 5 bits", [&] {
    codec.encode_decode(x.data(), static_cast<size_t>(n), values.data(), codes.data());
  });
  measure("exponential: exp_encode reference (log, pow), 5 bits", [&] {
    for (int64_t i = 0; i < n; ++i) codes[static_cast<size_t>(i)] = quant::exp_encode(x[static_cast<size_t>(i)], e);
  });

  // What consumes them: the int8 GEMM of 64 x 784 by 784 x 512, per input value.
  const int m = 64, k = 784, nn = 512;
  std::vector<uint8_t> act(static_cast<size_t>(m * k));
  std::vector<int8_t> w(static_cast<size_t>(nn * k));
  for (auto& v : act) v = static_cast<uint8_t>(rng() % 256);
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  const swar::IntFormat af{8, false}, wf{8, true};
  const auto packed = swar::PackedWeights::pack(swar::MatrixView::of(w.data(), nn, k), wf, af);
  std::vector<int32_t> c(static_cast<size_t>(m * nn));
  Executor one(1);
  const double gemm_s = time_calls([&] {
    swar::GemmOptions trusted;
    trusted.trusted_range = true;
    swar::gemm(swar::MatrixView::of(act.data(), m, k), packed, c.data(), nn, one, trusted);
  }, min_time).median_s;
  const double gemm_ns = gemm_s * 1e9 / (m * k);

  std::printf("target %s, %lld values per call, 1 thread\n\n", swar::current_target().c_str(),
              static_cast<long long>(n));
  std::printf("| encoding | ns / value | vs uniform quantize | vs int8 GEMM per value |\n|---|---:|---:|---:|\n");
  for (const Row& r : rows)
    std::printf("| %s | %.3f | %.2f | %.3f |\n", r.name.c_str(), r.ns_per_value, r.ns_per_value / rows[0].ns_per_value,
                r.ns_per_value / gemm_ns);
  std::printf("| int8 GEMM 64x784x512, per activation value (%s) | %.3f | %.2f | 1 |\n",
              swar::method_name(packed.method()), gemm_ns, gemm_ns / rows[0].ns_per_value);
  return 0;
}
