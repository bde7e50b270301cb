// bitlane_kernels: GEMM throughput of every operand width and method against
// oneDNN int8 and OpenBLAS sgemm, measured in the same run. See README.md.
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/cpu_info.h"
#include "core/error.h"
#include "core/executor.h"
#include "peers.h"
#include "swar/gemm.h"
#include "swar/targets.h"
#include "timing.h"

using namespace bitlane;
using namespace bitlane::bench;

namespace {

struct Shape {
  int m, k, n;
};

struct Row {
  std::string impl, method;
  int a_bits = 0, w_bits = 0;
  Shape shape{};
  int threads = 1;
  double gops = 0;
  bool trusted = false;  // bitlane rows: activations promised in range (no check pass)
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

Shape parse_shape(const std::string& s) {
  Shape sh{};
  if (std::sscanf(s.c_str(), "%dx%dx%d", &sh.m, &sh.k, &sh.n) != 3 || sh.m <= 0 || sh.k <= 0 ||
      sh.n <= 0)
    fail("--shapes", "expected MxKxN, got '" + s + "'");
  return sh;
}

std::pair<int, int> parse_pair(const std::string& s) {
  int a = 0, w = 0;
  if (std::sscanf(s.c_str(), "%dx%d", &a, &w) == 2) return {a, w};
  if (std::sscanf(s.c_str(), "%d", &a) == 1) return {a, a};
  fail("--bits", "expected N or AxW, got '" + s + "'");
}

double gops(const Shape& s, double seconds) {
  return 2.0 * s.m * s.k * s.n / seconds / 1e9;
}

// Times bitlane's GEMM for one width pair and method. `trusted`: the call
// promises the activations lie in their format, as bitlane's quantized
// layers do (their clamping quantizers made them), and skips the range
// check an API caller with unknown data gets (one read of A per call).
double time_bitlane(const Shape& s, int a_bits, int w_bits, bool signed_act,
                    swar::GemmMethod method, bool trusted, const Executor& ex, double min_time,
                    std::string* chosen) {
  const swar::IntFormat af{a_bits, signed_act}, wf{w_bits, true};
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> da(static_cast<int>(af.min_value()),
                                        static_cast<int>(af.max_value()));
  std::uniform_int_distribution<int> dw(static_cast<int>(wf.min_value()),
                                        static_cast<int>(wf.max_value()));
  std::vector<int16_t> a(static_cast<size_t>(s.m) * s.k), w(static_cast<size_t>(s.n) * s.k);
  for (auto& x : a) x = static_cast<int16_t>(da(rng));
  for (auto& x : w) x = static_cast<int16_t>(dw(rng));
  if (method.automatic()) {  // as a dense layer packs for calls of m rows (ops/quantized_matmul.h)
    swar::GemmShape shape{static_cast<size_t>(s.k), static_cast<size_t>(s.n)};
    shape.rows = s.m == 1 ? swar::GemmShape::Rows::kOne : swar::GemmShape::Rows::kMany;
    method = swar::choose_method(af, wf, shape);
  }
  const auto packed = swar::PackedWeights::pack(swar::MatrixView::of(w.data(), s.n, s.k), wf, af,
                                                method);
  *chosen = swar::method_name(packed.method());
  // 8-bit activations go in as bytes, the way a quantized layer hands them over.
  std::vector<uint8_t> a8(a.begin(), a.end());
  std::vector<int8_t> a8s(a.begin(), a.end());
  swar::MatrixView av = swar::MatrixView::of(a.data(), s.m, s.k);
  if (a_bits <= 8) av = signed_act ? swar::MatrixView::of(a8s.data(), s.m, s.k)
                                   : swar::MatrixView::of(a8.data(), s.m, s.k);
  // int32 results when they cannot overflow (as a layer would use), else int64.
  const bool fits32 = static_cast<double>(s.k) * af.max_magnitude() * wf.max_magnitude() <
                      2147483647.0;
  std::vector<int32_t> c(static_cast<size_t>(s.m) * s.n);
  std::vector<int64_t> c64(fits32 ? 0 : static_cast<size_t>(s.m) * s.n);
  swar::GemmOptions options;
  options.trusted_range = trusted;
  const Timing t = time_calls(
      [&] {
        if (fits32)
          swar::gemm(av, packed, c.data(), s.n, ex, options);
        else
          swar::gemm(av, packed, c64.data(), s.n, ex, options);
      },
      min_time);
  return gops(s, t.median_s);
}

// "Our own plain int8 kernel": the straightforward loop nest a programmer
// would write (u8 x s8 -> s32, K innermost), left to the compiler.
double time_plain_int8(const Shape& s, const Executor& ex, double min_time) {
  std::vector<uint8_t> a(static_cast<size_t>(s.m) * s.k);
  std::vector<int8_t> w(static_cast<size_t>(s.n) * s.k);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 7 % 251);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i * 5 % 255 - 127);
  std::vector<int32_t> c(static_cast<size_t>(s.m) * s.n);
  const Timing t = time_calls(
      [&] {
        ex.parallel_for(static_cast<size_t>(s.m) * s.n, 64, [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i) {
            const uint8_t* ar = a.data() + (i / s.n) * s.k;
            const int8_t* wr = w.data() + (i % s.n) * s.k;
            int32_t sum = 0;
            for (int k = 0; k < s.k; ++k) sum += int32_t{ar[k]} * wr[k];
            c[i] = sum;
          }
        });
      },
      min_time);
  return gops(s, t.median_s);
}

// Each row names the CPU that measured it, so saved rows stay self-describing
// and bench/kernel_tables.py heads its tables with this description.
void print_json(const Row& r, const std::string& cpu) {
  // trusted_range only where it means something: bitlane's rows.
  const bool ours = r.impl == "bitlane";
  std::printf(
      "{\"impl\": \"%s\", \"method\": \"%s\", \"a_bits\": %d, \"w_bits\": %d, \"m\": %d, "
      "\"k\": %d, \"n\": %d, \"threads\": %d, \"gops\": %.2f%s, \"cpu\": %s}\n",
      r.impl.c_str(), r.method.c_str(), r.a_bits, r.w_bits, r.shape.m, r.shape.k, r.shape.n,
      r.threads, r.gops, !ours ? "" : r.trusted ? ", \"trusted_range\": true" : ", \"trusted_range\": false",
      cpu.c_str());
  std::fflush(stdout);
}

void print_markdown(const std::vector<Row>& rows) {
  // Group by shape and threads; ratios against oneDNN int8 (at the ISA
  // --onednn-isa set) of the same group.
  std::map<std::tuple<int, int, int, int>, std::vector<const Row*>> groups;
  for (const Row& r : rows) groups[{r.shape.m, r.shape.k, r.shape.n, r.threads}].push_back(&r);
  for (const auto& [key, list] : groups) {
    const auto [m, k, n, threads] = key;
    double base = 0;
    for (const Row* r : list)
      if (r->impl.rfind("onednn_int8", 0) == 0) base = r->gops;
    std::printf("\n### %dx%dx%d (MxKxN), %d thread%s\n\n", m, k, n, threads,
                threads == 1 ? "" : "s");
    std::printf("| impl | a x w bits | method | GOPS | vs oneDNN int8 |\n");
    std::printf("|---|---|---|---:|---:|\n");
    for (const Row* r : list) {
      std::string bits = r->a_bits ? std::to_string(r->a_bits) + " x " + std::to_string(r->w_bits)
                                   : "-";
      std::string ratio = base > 0 ? std::to_string(r->gops / base).substr(0, 4) + "x" : "-";
      std::printf("| %s | %s | %s | %.1f | %s |\n", r->impl.c_str(), bits.c_str(),
                  r->method.c_str(), r->gops, ratio.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  cxxopts::Options opts("bitlane_kernels",
                        "GEMM throughput (GOPS, 2 ops per multiply-accumulate) of bitlane's "
                        "packed kernels against oneDNN int8 and OpenBLAS sgemm, in one run.");
  opts.add_options()
      ("shapes", "MxKxN list",
       cxxopts::value<std::string>()->default_value(
           "1x784x512,1x512x512,64x784x512,3136x576x64,196x2304x256"))
      ("bits", "activation x weight widths: N (= NxN) or AxW, comma list",
       cxxopts::value<std::string>()->default_value("1,2,3,4,8"))
      ("threads", "thread counts, comma list", cxxopts::value<std::string>()->default_value("1,2"))
      ("methods",
       "auto (as a dense layer packs for calls of M rows), all, or a list of methods "
       "(bitserial,int8,int7,amx,int4,int4col,int16,widemul; amx only where the CPU has AMX)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("signed-activations", "use signed activations (default: unsigned, as after ReLU)")
      ("onednn-isa", "vnni (cap oneDNN at AVX512 VNNI), avx2 (at AVX2: no VNNI), avx2_vnni (AVX2 with AVX-VNNI) or default (its own choice, e.g. AMX)",
       cxxopts::value<std::string>()->default_value("vnni"))
      ("target", "force a SIMD target (e.g. AVX2)", cxxopts::value<std::string>())
      ("min-time", "seconds per measurement", cxxopts::value<double>()->default_value("0.3"))
      ("trusted-range", "promise bitlane's calls that the activations lie in their width, as the "
       "quantized layers do (no range-check pass; default: checked, as for unknown data)")
      ("no-peers", "skip oneDNN and OpenBLAS")
      ("json", "one JSON object per measurement instead of tables")
      ("h,help", "show help");
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::cout << opts.help() << "\nExample:\n  bitlane_kernels --shapes 64x784x512 --bits 1,2,4 "
                                "--threads 1 --methods all\n";
    return 0;
  }
  if (args.count("target")) swar::force_target(args["target"].as<std::string>());

  std::vector<Shape> shapes;
  for (const auto& s : split(args["shapes"].as<std::string>(), ',')) shapes.push_back(parse_shape(s));
  std::vector<std::pair<int, int>> pairs;
  for (const auto& s : split(args["bits"].as<std::string>(), ',')) pairs.push_back(parse_pair(s));
  std::vector<int> threads;
  for (const auto& s : split(args["threads"].as<std::string>(), ',')) threads.push_back(std::stoi(s));
  std::vector<swar::GemmMethod> methods;
  const std::string mspec = args["methods"].as<std::string>();
  if (mspec == "all")
    methods = swar::all_methods();
  else
    for (const auto& s : split(mspec, ',')) methods.push_back(swar::parse_method(s));
  const bool json = args.count("json") > 0;
  const bool signed_act = args.count("signed-activations") > 0;
  const bool trusted = args.count("trusted-range") > 0;
  const double min_time = args["min-time"].as<double>();

  const CpuInfo& cpu = cpu_info();
  const std::string cpu_json = nlohmann::json(cpu_description()).dump();
  std::string features;
  for (const auto& f : cpu.features) features += f + " ";
  if (!json)
    std::printf("# bitlane_kernels\n\nCPU: %s, %s\nfeatures: %s\nSIMD target: %s\nbitlane's activations: %s\n",
                cpu_description().c_str(), cpu.arch.c_str(), features.c_str(),
                swar::target_label(swar::current_target()).c_str(),
                trusted ? "trusted to be in range (--trusted-range, as quantized layers call it)"
                        : "range-checked in each call");

  std::vector<std::unique_ptr<GemmPeer>> peers;
  if (!args.count("no-peers")) {
    if (auto p = make_onednn_int8(args["onednn-isa"].as<std::string>())) peers.push_back(std::move(p));
    if (auto p = make_openblas_sgemm()) peers.push_back(std::move(p));
  }

  std::vector<Row> rows;
  auto emit = [&](Row r) {
    if (json) print_json(r, cpu_json);
    rows.push_back(std::move(r));
  };
  for (const Shape& s : shapes)
    for (int t : threads) {
      Executor ex(t);
      for (auto& peer : peers) {
        peer->setup(s.m, s.k, s.n, t);
        const Timing tm = time_calls([&] { peer->run(); }, min_time);
        emit({peer->name(), "-", 0, 0, s, t, gops(s, tm.median_s)});
      }
      emit({"plain_int8", "-", 8, 8, s, t, time_plain_int8(s, ex, min_time)});
      for (auto [ab, wb] : pairs)
        for (swar::GemmMethod m : methods) {
          if (!swar::method_supports(m, swar::IntFormat{ab, true}, swar::IntFormat{wb, true}) ||
              !swar::method_runs_here(m))
            continue;
          std::string chosen;
          const double g = time_bitlane(s, ab, wb, signed_act, m, trusted, ex, min_time, &chosen);
          emit({"bitlane", chosen, ab, wb, s, t, g, trusted});
        }
    }
  if (!json) print_markdown(rows);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bitlane_kernels: %s\n", e.what());
  return 1;
}
