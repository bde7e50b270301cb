// bitlane bench MODEL: latency and throughput for every combination of
// --threads, --bits and --batch (comma lists, like llama-bench), with init
// time, first run, warm-up, then min / mean / stdev over timed runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "apps/calibration_input.h"
#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/plan_grid.h"
#include "apps/width_note.h"
#include "bitlane_version.h"
#include "core/cpu_info.h"
#include "core/error.h"
#include "quant/scheme.h"
#include "runtime/session.h"
#include "swar/targets.h"

namespace bitlane::cli {
namespace {

struct Result {
  int threads;
  std::string plan;
  int batch;
  std::string micro;  // --micro-batch's value
  MicroBatches split;  // how the session split the batch
  double init_ms, first_ms, min_ms, mean_ms, stdev_ms, items_per_s, median_ms;
  int runs;
  std::vector<std::pair<std::string, double>> layers;  // "name (op)", mean ms
  std::vector<double> layer_macs;
  std::string kernels;  // the integer kernels its layers run on, "int8" or "bitserial+int8"
  int bits = 0;         // the narrower of the default weight and activation widths (0: fp32)
  std::string scheme;   // of the plan's default layers
  std::string simd;     // the SIMD target its kernels dispatched to
};

// The distinct kernels of the engine's layers, in first-use order.
std::string kernels_of(const Engine& e) {
  std::vector<std::string> seen;
  for (const auto& op : e.ops()) {
    const std::string k = op->kernel();
    if (!k.empty() && std::find(seen.begin(), seen.end(), k) == seen.end()) seen.push_back(k);
  }
  std::string out;
  for (const std::string& k : seen) out += (out.empty() ? "" : "+") + k;
  return out;
}

// "whole", or "8 x 8" (micro-batches x samples each) and the option's
// value when it was not auto.
std::string split_text(const Result& r) {
  std::string s = r.split.count <= 1 ? "whole" : std::to_string(r.split.count) + " x " + std::to_string(r.split.size);
  return r.micro == "auto" ? s : s + " (" + r.micro + ")";
}

// Calibration samples (--calibration's, else the model's) tiled to `batch`
// items when there are any (data-dependent schemes such as DRQ then see real
// activations), random values otherwise.
std::vector<Tensor> make_inputs(const Model& m, int batch, int seq, bool use_calibration,
                                const std::vector<Tensor>& given) {
  std::vector<Tensor> out;
  if (use_calibration && (!given.empty() || !m.calibration().is_null()) && m.inputs().size() == 1 &&
      (m.inputs()[0].dtype == DType::kF32 || seq <= 0)) {
    const Tensor calib = given.empty() ? load_calibration(m)[0] : given[0];
    Shape shape = calib.shape();
    const int64_t n = shape[0], per = calib.size() / n;
    shape[0] = batch;
    Tensor t(shape, calib.dtype());
    for (int64_t i = 0; i < batch; ++i)
      std::memcpy(t.f32() + i * per, calib.f32() + (i % n) * per, static_cast<size_t>(per) * 4);
    out.push_back(std::move(t));
    return out;
  }
  std::mt19937 rng(7);
  for (const InputSpec& s : m.inputs()) {
    Shape shape{batch};
    for (int64_t d : s.shape) shape.push_back(d < 0 ? seq : d);
    Tensor t(shape, s.dtype);
    if (s.dtype == DType::kI32) {
      const int64_t vocab = m.vocabulary().empty() ? 2 : static_cast<int64_t>(m.vocabulary().size());
      std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
      for (int64_t i = 0; i < t.size(); ++i) t.i32()[i] = d(rng);
    } else {
      std::normal_distribution<float> d(0.f, 1.f);
      for (int64_t i = 0; i < t.size(); ++i) t.f32()[i] = d(rng);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const std::vector<std::string> quant_specs = take_repeated(argc, argv, "quant");
  cxxopts::Options opts("bitlane bench", "Latency and throughput over threads x quantization x batch.");
  opts.positional_help("MODEL");
  opts.add_options()
      ("model", "model.json or a folder holding it", cxxopts::value<std::string>())
      ("threads", "comma list of thread counts", cxxopts::value<std::string>()->default_value("1"))
      ("bits", "comma list of plans: fp32, N, wNaM (default fp32,8,4,2 unless --quant is given)",
       cxxopts::value<std::string>())
      ("quant", "a plan of any scheme, braces expand ('scheme=term,g=16,k={6,10}'); repeatable",
       cxxopts::value<std::string>())
      ("batch", "comma list of batch sizes", cxxopts::value<std::string>()->default_value("1"))
      ("micro-batch", "comma list: how a batch is split into micro-batches that each run the whole graph "
                      "(auto: by cache size and threads; off: whole batches, layer by layer; N: N samples each)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("seq", "sequence length for text models", cxxopts::value<int>()->default_value("64"))
      ("warmup", "warm-up runs", cxxopts::value<int>()->default_value("3"))
      ("min-time", "seconds of timed runs per combination", cxxopts::value<double>()->default_value("1.0"))
      ("profile", "per-layer time table")
      ("random-weights", "run the graph with random weights of the shapes in its metadata")
      ("format", "md or json", cxxopts::value<std::string>()->default_value("md"))
      ("h,help", "show help");
  add_calibration_options(opts);
  opts.parse_positional({"model"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help() << "\nExamples:\n"
                                "  bitlane bench build/release/models/lenet --threads 1,2 --bits fp32,8,4,2\n"
                                "  bitlane bench model.json --batch 1,64 --profile --format json\n"
                                "  bitlane bench build/release/models/mlp --batch 64 --quant 8 "
                                "--quant 'scheme={term,sdp,exponential},w8a8'\n";
    return 0;
  }
  if (!args.count("model")) throw UsageError("expects MODEL (see --help)");
  const std::string path = resolve_model_path(args["model"].as<std::string>());
  const auto threads = int_list(args["threads"].as<std::string>(), "--threads");
  const auto batches = int_list(args["batch"].as<std::string>(), "--batch");
  // --micro-batch values as written, and as EngineOptions::micro_batch.
  std::vector<std::pair<std::string, int64_t>> micros;
  for (const std::string& m : split_list(args["micro-batch"].as<std::string>())) {
    const int64_t v = m == "auto" ? 0 : m == "off" ? -1 : int_list(m, "--micro-batch")[0];
    if (m != "auto" && m != "off" && v < 1) throw UsageError("--micro-batch takes auto, off or a positive number");
    micros.emplace_back(m, v);
  }
  std::vector<std::string> plans;
  if (args.count("bits") || quant_specs.empty())
    plans = split_list(args.count("bits") ? args["bits"].as<std::string>() : "fp32,8,4,2");
  for (const std::string& q : quant_specs)
    for (std::string& s : expand_braces(q)) plans.push_back(std::move(s));
  for (const std::string& p : plans) parse_plan(p, "--quant");  // all valid before any work
  const int warmup = args["warmup"].as<int>(), seq = args["seq"].as<int>();
  const double min_time = args["min-time"].as<double>();
  const bool profile = args.count("profile") > 0, json = args["format"].as<std::string>() == "json";
  if (!json && args["format"].as<std::string>() != "md") throw UsageError("--format must be md or json");
  for (int t : threads)
    if (t < 0) throw UsageError("--threads must be >= 0");
  for (int b : batches)
    if (b < 1) throw UsageError("--batch must be >= 1");
  LoadOptions load;
  load.random_weights = args.count("random-weights") > 0;

  // One combination's engine (built from the files, calibration included:
  // build_ms) and inputs.
  struct Setup {
    double build_ms = 0;
    std::shared_ptr<const Model> model;
    EngineOptions options;
    std::shared_ptr<const Engine> engine;
    std::vector<Tensor> inputs;
  };
  auto set_up = [&](const std::string& spec, int batch, int64_t micro_batch, const Executor& ex) {
    Setup s;
    const double t0 = now_seconds();
    s.model = Model::load(path, load);
    if (load.random_weights) s.options.plan = parse_plan(spec, "--quant");
    else s.options = engine_options(args, *s.model, parse_plan(spec, "--quant"), ex);
    s.options.micro_batch = micro_batch;
    s.options.calibration_cache.clear();  // init ms is the whole build, calibration included
    s.engine = Engine::build(s.model, s.options, ex);
    s.build_ms = (now_seconds() - t0) * 1e3;
    s.inputs = make_inputs(*s.model, batch, seq, !load.random_weights, s.options.calibration);
    return s;
  };

  std::vector<Result> results;
  for (int t : threads)
    for (const std::string& spec : plans)
      for (int batch : batches)
        for (const auto& [micro, micro_batch] : micros) {
          Executor ex(t);
          Result r{ex.threads(), spec, batch, micro, {}, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}, {}, 0, {}, {}};
          const Setup setup = set_up(spec, batch, micro_batch, ex);
          r.init_ms = setup.build_ms;
          const auto& model = setup.model;
          const auto& engine = setup.engine;
          const auto& o = setup.options;
          const std::vector<Tensor>& inputs = setup.inputs;
          r.kernels = kernels_of(*engine);
          if (o.plan && o.plan->defaults.quantized())
            r.bits = std::min(o.plan->defaults.weight_bits, o.plan->defaults.activation_bits);
          if (o.plan) r.scheme = o.plan->defaults.scheme().name();
          Session session(engine);
          double s0 = now_seconds();
          session.run(inputs, ex);
          r.first_ms = (now_seconds() - s0) * 1e3;
          for (int i = 0; i < warmup; ++i) session.run(inputs, ex);
          if (profile) session.enable_profiling();
          std::vector<double> times;
          const double start = now_seconds();
          while (times.size() < 3 || now_seconds() - start < min_time) {
            s0 = now_seconds();
            session.run(inputs, ex);
            times.push_back((now_seconds() - s0) * 1e3);
            if (times.size() >= 100000) break;
          }
          r.runs = static_cast<int>(times.size());
          r.simd = swar::dispatched_target();
          r.split = session.last_split();
          std::vector<double> sorted = times;
          std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(sorted.size() / 2), sorted.end());
          r.median_ms = sorted[sorted.size() / 2];
          r.min_ms = *std::min_element(times.begin(), times.end());
          double sum = 0, sq = 0;
          for (double x : times) sum += x;
          r.mean_ms = sum / times.size();
          for (double x : times) sq += (x - r.mean_ms) * (x - r.mean_ms);
          r.stdev_ms = std::sqrt(sq / times.size());
          r.items_per_s = batch / (r.mean_ms / 1e3);
          if (profile) {
            const auto& secs = session.node_seconds();
            for (size_t i = 0; i < secs.size(); ++i) {
              const Node& n = model->nodes()[i];
              r.layers.emplace_back(n.name + " (" + n.op + ")", secs[i] * 1e3 / times.size());
              std::vector<Shape> in;
              for (int tid : n.inputs) in.push_back(model->tensor_shape(tid));
              r.layer_macs.push_back(engine->ops()[i]->cost(in).macs * batch);
            }
          }
          results.push_back(std::move(r));
        }

  if (json) {
    nlohmann::json j = {{"model", path},
                        {"cpu", cpu_description()},
                        {"simd", swar::current_target()},
                        {"simd_label", swar::target_label(swar::current_target())},
                        {"scheduler", Executor::backend_name()},
                        {"version", BITLANE_VERSION_STRING}};
    for (const Result& r : results) {
      nlohmann::json e = {{"threads", r.threads}, {"plan", r.plan}, {"batch", r.batch}, {"micro_batch", r.micro},
                          {"micro_batches", r.split.count}, {"micro_batch_size", r.split.size}, {"init_ms", r.init_ms},
                          {"first_ms", r.first_ms}, {"min_ms", r.min_ms}, {"mean_ms", r.mean_ms},
                          {"stdev_ms", r.stdev_ms}, {"median_ms", r.median_ms}, {"items_per_s", r.items_per_s},
                          {"runs", r.runs}, {"simd", r.simd},
                          {"kernels", r.kernels}};
      for (size_t i = 0; i < r.layers.size(); ++i)
        e["layers"].push_back({{"layer", r.layers[i].first}, {"ms", r.layers[i].second}, {"macs", r.layer_macs[i]}});
      j["results"].push_back(e);
    }
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::printf("model: %s\nCPU: %s; SIMD target %s; scheduler %s; bitlane %s (%s, %s)\n\n", path.c_str(),
              cpu_description().c_str(), swar::target_label(swar::current_target()).c_str(), Executor::backend_name(),
              BITLANE_VERSION_STRING, __VERSION__, BITLANE_BUILD_TYPE);
  std::printf("| threads | plan | batch | split | init ms | first ms | min ms | mean ms | stdev ms | items/s | kernels |\n"
              "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Result& r : results)
    std::printf("| %d | %s | %d | %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.1f | %s |\n", r.threads, r.plan.c_str(),
                r.batch, split_text(r).c_str(), r.init_ms, r.first_ms, r.min_ms, r.mean_ms, r.stdev_ms, r.items_per_s,
                r.kernels.empty() ? "fp32" : r.kernels.c_str());
  // A note's pair timed again in turns (apps/width_note.h), for as long as
  // one combination was.
  auto in_turns = [&](size_t narrow, size_t eight) {
    const Result& a = results[narrow];
    Executor ex(a.threads);
    const int64_t micro_batch =
        std::find_if(micros.begin(), micros.end(), [&](const auto& m) { return m.first == a.micro; })->second;
    const Setup sa = set_up(a.plan, a.batch, micro_batch, ex);
    const Setup sb = set_up(results[eight].plan, a.batch, micro_batch, ex);
    Session session_a(sa.engine), session_b(sb.engine);
    for (int i = 0; i < std::max(warmup, 1); ++i) {
      session_a.run(sa.inputs, ex);
      session_b.run(sb.inputs, ex);
    }
    double min_a = 1e300, min_b = 1e300;
    auto timed = [&](Session& s, const std::vector<Tensor>& in, double& best) {
      const double s0 = now_seconds();
      s.run(in, ex);
      best = std::min(best, (now_seconds() - s0) * 1e3);
    };
    const double start = now_seconds();
    for (int i = 0; i < 3 || (now_seconds() - start < min_time && i < 100000); ++i) {
      timed(session_a, sa.inputs, min_a);
      timed(session_b, sb.inputs, min_b);
    }
    return std::pair{min_a, min_b};
  };
  std::vector<WidthRun> widths;
  for (const Result& r : results)
    widths.push_back({r.plan, r.bits, r.threads, r.batch, r.micro, r.min_ms, r.kernels, r.scheme});
  std::printf("%s", width_notes(widths, in_turns).c_str());
  if (profile)
    for (const Result& r : results) {
      double total = 0;
      for (const auto& l : r.layers) total += l.second;
      std::printf("\n### threads %d, plan %s, batch %d, %s\n\n| layer | ms | share | MACs |\n|---|---:|---:|---:|\n",
                  r.threads, r.plan.c_str(), r.batch, split_text(r).c_str());
      for (size_t i = 0; i < r.layers.size(); ++i)
        std::printf("| %s | %.4f | %.1f%% | %.0f |\n", r.layers[i].first.c_str(), r.layers[i].second,
                    total > 0 ? 100 * r.layers[i].second / total : 0.0, r.layer_macs[i]);
    }
  return 0;
}

}  // namespace bitlane::cli
