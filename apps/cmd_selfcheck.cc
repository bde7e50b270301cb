// bitlane selfcheck: what this machine offers and whether every packed GEMM
// method, and the integer Winograd convolution, agree with their scalar
// definitions on it. Useful in bug reports.
#include <cxxopts.hpp>

#include <cstdio>
#include <iostream>
#include <random>
#include <vector>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "core/cpu_info.h"
#include "core/executor.h"
#include "ops/kernels/winograd.h"
#include "swar/cpu_features.h"
#include "swar/gemm.h"
#include "swar/targets.h"

namespace bitlane::cli {
namespace {

// Integer Winograd (ops/kernels/winograd.h) on one padded image of 16
// channels, 17 outputs and odd sizes against the direct 3x3 correlation of
// the same integers (4-bit weights, 4-bit unsigned activations).
bool winograd_matches(std::mt19937& rng) {
  const int64_t cp = 16, n = 17, oh = 5, ow = 7, hp = 2 * ((oh + 1) / 2) + 2, wp = 2 * ((ow + 1) / 2) + 2;
  std::uniform_int_distribution<int> dw(-8, 7), dx(0, 15);
  std::vector<int16_t> w(static_cast<size_t>(n * 9 * cp));
  for (auto& v : w) v = static_cast<int16_t>(dw(rng));
  std::vector<uint8_t> x(static_cast<size_t>(hp * wp * cp) + 64, 0);  // the kernel may read 64 bytes past
  for (size_t i = 0; i < static_cast<size_t>(hp * wp * cp); ++i) x[i] = static_cast<uint8_t>(dx(rng));
  const ops::detail::WinogradWeights ww = ops::detail::winograd_weights(w.data(), n, cp, 0, 15);
  if (ww.empty()) return false;
  const size_t ldc = static_cast<size_t>(ww.blocks) * 16;
  std::vector<int32_t> sums(static_cast<size_t>(oh * ow) * ldc);
  ops::detail::winograd_sums(ww, {x.data(), hp, wp, 0, 0, 0}, oh, ow, 0, (oh + 1) / 2, sums.data(), ldc);
  for (int64_t oy = 0; oy < oh; ++oy)
    for (int64_t ox = 0; ox < ow; ++ox)
      for (int64_t o = 0; o < n; ++o) {
        int64_t s = 0;
        for (int64_t ij = 0; ij < 9; ++ij)
          for (int64_t c = 0; c < cp; ++c)
            s += x[static_cast<size_t>(((oy + ij / 3) * wp + ox + ij % 3) * cp + c)] *
                 int64_t{w[static_cast<size_t>((o * 9 + ij) * cp + c)]};
        if (s != sums[static_cast<size_t>(oy * ow + ox) * ldc + static_cast<size_t>(o)]) return false;
      }
  return true;
}

}  // namespace

int cmd_selfcheck(int argc, char** argv) {
  cxxopts::Options opts("bitlane selfcheck",
                        "Print CPU features and the SIMD target, then check every packed GEMM "
                        "method and the integer Winograd convolution against their scalar "
                        "definitions on every target this CPU runs.");
  opts.add_options()("threads", "threads for the check", cxxopts::value<int>()->default_value("1"))(
      "targets", "only list the SIMD targets this CPU and build can run, best first (for scripts)")(
      "h,help", "show help");
  auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help() << "\nExamples:\n  bitlane selfcheck --threads 2\n  bitlane selfcheck --targets\n";
    return 0;
  }
  if (args.count("targets")) {
    const auto targets = swar::available_targets();
    for (size_t i = 0; i < targets.size(); ++i) std::printf("%s%s", i ? " " : "", targets[i].name.c_str());
    std::printf("\n");
    return 0;
  }
  const CpuInfo& cpu = cpu_info();
  std::printf("CPU:       %s, %s\nfeatures: ", cpu_description().c_str(), cpu.arch.c_str());
  for (const auto& f : cpu.features) std::printf(" %s", f.c_str());
  std::printf("\nthreads:   %d available, scheduler %s\n", Executor::hardware_threads(),
              Executor::backend_name());
  std::printf("SIMD:      %s selected; available:", swar::target_label(swar::current_target()).c_str());
  for (const auto& t : swar::available_targets()) std::printf(" %s", t.name.c_str());
  // What the GEMM methods' speed estimates assume (fast-popcount, amx-int8
  // change which method a layer gets).
  std::printf("\nkernels:   %s\n\n", swar::feature_names(swar::kernel_features()).c_str());

  Executor ex(args["threads"].as<int>());
  std::mt19937 rng(2024);
  const size_t m = 7, k = 300, n = 21;
  int failures = 0;
  for (const auto& target : swar::available_targets()) {
    swar::ScopedTarget scope(target.name);
    const std::string label = swar::target_label(target.name);
    for (int bits : {1, 2, 3, 4, 8, 12}) {
      const swar::IntFormat af{bits, false}, wf{bits, true};
      std::uniform_int_distribution<int> da(0, static_cast<int>(af.max_value()));
      std::uniform_int_distribution<int> dw(static_cast<int>(wf.min_value()),
                                            static_cast<int>(wf.max_value()));
      std::vector<int16_t> a(m * k), w(n * k);
      for (auto& x : a) x = static_cast<int16_t>(da(rng));
      for (auto& x : w) x = static_cast<int16_t>(dw(rng));
      const auto av = swar::MatrixView::of(a.data(), m, k), wv = swar::MatrixView::of(w.data(), n, k);
      std::vector<int64_t> want(m * n), got(m * n);
      swar::gemm_reference(av, wv, want.data(), n);
      std::printf("%-9s %2d-bit:", label.c_str(), bits);
      for (swar::GemmMethod method : swar::all_methods()) {
        if (!swar::method_supports(method, swar::IntFormat{bits, true}, swar::IntFormat{bits, true}) ||
            !swar::method_runs_here(method))
          continue;
        const auto packed = swar::PackedWeights::pack(wv, wf, af, method);
        swar::gemm(av, packed, got.data(), n, ex);
        const bool ok = got == want;
        failures += !ok;
        std::printf(" %s %s", swar::method_name(method), ok ? "ok" : "MISMATCH");
      }
      std::printf("\n");
    }
    const bool winograd_ok = winograd_matches(rng);
    failures += !winograd_ok;
    // Checked on every target; run by convolutions only where it pays (winograd.h).
    std::printf("%-9s winograd 3x3: %s%s\n", label.c_str(), winograd_ok ? "ok" : "MISMATCH",
                ops::detail::winograd_may_pay_off() ? " (used here for narrow 3x3 layers)" : " (not used here)");
  }
  std::printf("\n%s\n", failures ? "selfcheck FAILED" : "selfcheck passed: all methods and Winograd bit-exact");
  return failures ? 1 : 0;
}

}  // namespace bitlane::cli
