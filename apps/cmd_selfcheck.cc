// bitlane selfcheck: what this machine offers and whether every packed GEMM
// method agrees with the scalar reference on it. Useful in bug reports.
#include <cxxopts.hpp>

#include <cstdio>
#include <iostream>
#include <random>
#include <vector>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "core/cpu_info.h"
#include "core/executor.h"
#include "swar/cpu_features.h"
#include "swar/gemm.h"
#include "swar/targets.h"

namespace bitlane::cli {

int cmd_selfcheck(int argc, char** argv) {
  cxxopts::Options opts("bitlane selfcheck",
                        "Print CPU features and the SIMD target, then check every packed GEMM "
                        "method against the scalar reference on every target this CPU runs.");
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
  std::printf("SIMD:      %s selected; available:", swar::current_target().c_str());
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
      std::printf("%-8s %2d-bit:", target.name.c_str(), bits);
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
  }
  std::printf("\n%s\n", failures ? "selfcheck FAILED" : "selfcheck passed: all methods bit-exact");
  return failures ? 1 : 0;
}

}  // namespace bitlane::cli
