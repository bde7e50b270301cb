// bitlane sweep MODEL DATA --grid SPEC...: every plan of a grid evaluated on
// labelled data, with what it costs (MACs, term pairs as the papers count
// them and as kept, model bytes against INT8) and how fast it runs here;
// written as a markdown table, CSV, JSON and an SVG plot.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "apps/calibration_input.h"
#include "apps/cli_common.h"
#include "quant/scheme.h"
#include "apps/commands.h"
#include "apps/estimate_options.h"
#include "apps/evaluate.h"
#include "apps/plan_grid.h"
#include "apps/sweep_plot.h"
#include "core/error.h"
#include "runtime/cost.h"
#include "runtime/session.h"

namespace bitlane::cli {
namespace {

struct Row {
  std::string spec, plan, family;
  EvalResult eval;
  ModelCost cost;
  double weight_bits = 0;  // mean over quantized weights
  double ms_per_item = -1;
  double array_cycles = 0;  // systolic estimate per item
  double drq_sensitive = -1;
};

// The family a plan belongs to in the plot's legend.
std::string family_of(const quant::QuantPlan& p) {
  const quant::LayerPlan& d = p.defaults;
  std::string f = d.scheme().name();
  if (d.is<quant::TermOptions>()) {
    const quant::TermOptions& t = d.get<quant::TermOptions>();
    f += std::string(" ") + quant::encoding_name(t.encoding) + " g" + std::to_string(t.group);
  }
  return f;
}

// The first `n` items (dimension 0) of `t`.
Tensor first_items(const Tensor& t, int64_t n) {
  Shape s = t.shape();
  n = std::min(n, s[0]);
  s[0] = n;
  Tensor out(s, t.dtype());
  std::memcpy(out.f32(), t.f32(), static_cast<size_t>(out.size()) * 4);  // both dtypes are 4 bytes
  return out;
}

// Milliseconds per item: the best of repeated runs on `inputs`.
double time_per_item(const std::shared_ptr<const Engine>& engine, const std::vector<Tensor>& inputs,
                     const Executor& ex) {
  Session session(engine);
  session.run(inputs, ex);  // warm-up
  double best = 1e300, spent = 0;
  for (int r = 0; r < 20 && spent < 0.5; ++r) {
    session.reset();
    const double t0 = now_seconds();
    session.run(inputs, ex);
    const double dt = now_seconds() - t0;
    best = std::min(best, dt);
    spent += dt;
  }
  return best * 1e3 / static_cast<double>(inputs[0].dim(0));
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

void write_csv(std::FILE* f, const std::vector<Row>& rows, bool text) {
  std::fprintf(f, "spec,plan,family,%s,samples,failed,macs,term_pairs,kept_term_pairs,weight_bits,model_bytes,"
                  "compression_vs_int8,drq_sensitive_share,array_cycles,ms_per_item,eval_seconds\n",
               text ? "bits_per_char" : "top1,top5");
  for (const Row& r : rows) {
    std::fprintf(f, "%s,%s,%s,", csv_field(r.spec).c_str(), csv_field(r.plan).c_str(), csv_field(r.family).c_str());
    if (text)
      std::fprintf(f, "%.5f,", r.eval.bits_per_char);
    else
      std::fprintf(f, "%.5f,%.5f,", r.eval.top1, r.eval.top5);
    std::fprintf(f, "%lld,%zu,%.0f,%.0f,%.0f,%.3f,%.0f,%.4f,%.4f,%.1f,%.4f,%.2f\n",
                 static_cast<long long>(r.eval.samples), r.eval.failed, r.cost.macs, r.cost.pairs, r.cost.kept_pairs,
                 r.weight_bits, r.cost.bytes, r.cost.compression_vs_int8(), r.drq_sensitive, r.array_cycles,
                 r.ms_per_item, r.eval.seconds);
  }
}

nlohmann::json to_json(const Row& r, bool text) {
  nlohmann::json j = {{"spec", r.spec}, {"plan", r.plan}, {"family", r.family}, {"samples", r.eval.samples},
                      {"failed", r.eval.failed}, {"macs", r.cost.macs}, {"term_pairs", r.cost.pairs},
                      {"kept_term_pairs", r.cost.kept_pairs}, {"weight_bits", r.weight_bits},
                      {"model_bytes", r.cost.bytes}, {"compression_vs_int8", r.cost.compression_vs_int8()},
                      {"drq_sensitive_share", r.drq_sensitive}, {"array_cycles", r.array_cycles},
                      {"ms_per_item", r.ms_per_item},
                      {"eval_seconds", r.eval.seconds}};
  if (text)
    j["bits_per_char"] = r.eval.bits_per_char;
  else
    j["top1"] = r.eval.top1, j["top5"] = r.eval.top5;
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerCost& c : r.cost.layers)
    if (c.quantizable)
      layers.push_back({{"name", c.name}, {"plan", c.plan.to_string()}, {"macs", c.shape.macs},
                        {"term_pairs", c.pairs}, {"kept_term_pairs", c.kept_pairs}, {"weight_bits", c.weight_bits},
                        {"bytes", c.bytes}, {"drq_sensitive_share", c.drq_sensitive}});
  j["layers"] = layers;
  return j;
}

void write_markdown(const std::vector<Row>& rows, bool text) {
  // Term pairs relative to uniform 8-bit (MACs x 64) make rows comparable.
  std::printf("| plan | %s | term pairs / item | vs w8a8 | kept pairs / item | weight bits | model KB | "
              "x smaller than int8 | array cycles | ms / item |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              text ? "bits/char" : "top-1");
  for (const Row& r : rows) {
    const std::string metric = text ? fmt("%.4f", r.eval.bits_per_char) : fmt("%.2f%%", 100 * r.eval.top1);
    const double ref = r.cost.macs * 64;
    std::printf("| %s | %s | %s | %s | %s | %s | %.1f | %.2f | %.0f | %s |\n", r.plan.c_str(), metric.c_str(),
                r.cost.pairs > 0 ? fmt("%.4g", r.cost.pairs).c_str() : "-",
                r.cost.pairs > 0 ? fmt("%.3f", r.cost.pairs / ref).c_str() : "-",
                r.cost.kept_pairs > 0 ? fmt("%.4g", r.cost.kept_pairs).c_str() : "-",
                r.weight_bits > 0 ? fmt("%.2f", r.weight_bits).c_str() : "32", r.cost.bytes / 1024,
                r.cost.compression_vs_int8(), r.array_cycles,
                r.ms_per_item >= 0 ? fmt("%.3f", r.ms_per_item).c_str() : "-");
  }
}

double mean_weight_bits(const ModelCost& c) {
  double bits = 0, n = 0;
  for (const LayerCost& l : c.layers)
    if (l.quantizable) {
      bits += l.weight_bits * static_cast<double>(l.shape.weights);
      n += static_cast<double>(l.shape.weights);
    }
  return n > 0 ? bits / n : 0;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  std::vector<std::string> grid_specs = take_repeated(argc, argv, "grid");
  cxxopts::Options opts("bitlane sweep",
                        "Accuracy (or bits per character) against cost for a grid of quantization plans.");
  opts.positional_help("MODEL DATA");
  opts.add_options()
      ("model", "model.json or a folder holding it", cxxopts::value<std::string>())
      ("data", "labelled data as for bitlane eval", cxxopts::value<std::string>())
      ("grid", "plans to evaluate; repeatable; braces expand ({8,4} is two plans); a preset name: "
               "standard, quick (default: standard)", cxxopts::value<std::string>())
      ("limit", "evaluate at most N samples per plan (0 = all)", cxxopts::value<int64_t>()->default_value("0"))
      ("batch", "images per batch", cxxopts::value<int>()->default_value("64"))
      ("streams", "text: parallel streams", cxxopts::value<int>()->default_value("16"))
      ("threads", "worker threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
      ("csv", "write the table as CSV to FILE", cxxopts::value<std::string>())
      ("json", "write the table (with per-layer costs) as JSON to FILE", cxxopts::value<std::string>())
      ("plot", "write an SVG plot to FILE", cxxopts::value<std::string>())
      ("no-timing", "skip the per-plan latency measurement")
      ("dry-run", "list the plans with their static costs, evaluate nothing")
      ("h,help", "show help");
  add_estimate_options(opts, "array-batch");
  add_calibration_options(opts);
  opts.parse_positional({"model", "data"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "array", "calibration"})
              << "\nA grid spec is a --quant plan with braces, e.g.\n"
                 "  'scheme=term,w4a6,s=6,enc={binary,hese},g=16,k={6,8,10}'   (six plans)\n"
                 "\nExamples:\n"
                 "  bitlane sweep build/release/models/mlp models/data/fashion-test.safetensors --plot mlp.svg\n"
                 "  bitlane sweep models/lenet models/data/images --grid '{8,4,2}' --grid scheme=exponential "
                 "--csv lenet.csv\n";
    return 0;
  }
  if (!args.count("model")) throw UsageError("expects MODEL and DATA (see --help)");
  const bool dry = args.count("dry-run") > 0;
  if (!dry && !args.count("data")) throw UsageError("expects MODEL and DATA (see --help)");
  if (grid_specs.empty()) grid_specs.push_back("standard");

  std::vector<std::string> specs;
  for (const std::string& g : grid_specs) {
    std::vector<std::string> expanded = preset_grid(g);
    if (expanded.empty()) expanded = expand_braces(g);
    specs.insert(specs.end(), expanded.begin(), expanded.end());
  }
  std::vector<quant::QuantPlan> plans;  // all parsed first: a typo fails before hours of work
  for (const std::string& s : specs) plans.push_back(parse_plan(s, "--grid"));

  const auto model = Model::load(resolve_model_path(args["model"].as<std::string>()));
  const estimate::EstimateOptions array = estimate_options(args, "array-batch");
  if (dry) {
    std::printf("| spec | plan | term pairs / item | model bytes | array cycles |\n|---|---|---:|---:|---:|\n");
    for (size_t i = 0; i < plans.size(); ++i) {
      const ModelCost c = model_cost(*model, plans[i]);
      std::printf("| %s | %s | %.4g | %.0f | %.0f |\n", specs[i].c_str(), plans[i].defaults.to_string().c_str(),
                  c.pairs, c.bytes, estimate::estimate(*model, plans[i], array).cycles);
    }
    return 0;
  }
  const std::string data = args["data"].as<std::string>();
  EvalOptions eo;
  eo.batch = args["batch"].as<int>();
  eo.streams = args["streams"].as<int>();
  eo.limit = args["limit"].as<int64_t>();
  eo.count_pairs = true;
  if (eo.batch < 1 || eo.batch > 4096) throw UsageError("--batch must be 1..4096");
  const bool text = !model->vocabulary().empty();

  Executor ex(args["threads"].as<int>());
  EngineOptions base;
  bool needs_calibration = false;
  for (const auto& p : plans) needs_calibration |= p.needs_samples();
  // Samples from --calibration, else the model's; a usage error naming the
  // option when it has none and they are needed.
  std::vector<Tensor> samples;
  if (args.count("calibration"))
    samples = calibration_samples(*model, args["calibration"].as<std::string>(),
                                  args["calibration-samples"].as<int64_t>(), ex);
  else if (!model->calibration().is_null())
    samples = load_calibration(*model);
  else if (needs_calibration || !args.count("no-timing"))
    missing_calibration(*model, needs_calibration ? "the quantization plans need" : "timing (leave it out with --no-timing) needs");
  if (needs_calibration) base.calibration = samples;
  // Plans that measure the same layers by min/max share one entry: the
  // samples run through the float model once per sweep, or not at all.
  base.calibration_cache = calibration_cache_dir(args);
  std::vector<Tensor> timing_inputs;
  if (!args.count("no-timing")) {
    timing_inputs = samples;
    for (Tensor& t : timing_inputs) t = first_items(t, text ? 16 : 64);
  }

  const bool tty = isatty(STDERR_FILENO);
  std::vector<Row> rows;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (tty) std::fprintf(stderr, "[%zu/%zu] %s ...", i + 1, plans.size(), specs[i].c_str()), std::fflush(stderr);
    EngineOptions o = base;
    o.plan = plans[i];
    const auto engine = Engine::build(model, o, ex);
    Row r;
    r.spec = specs[i];
    r.plan = plans[i].defaults.to_string();
    r.family = family_of(plans[i]);
    r.eval = evaluate(engine, data, eo, ex);
    std::vector<ops::LayerStats> stats(r.eval.layers.size());
    for (size_t k = 0; k < stats.size(); ++k) {
      stats[k].macs = r.eval.layers[k].macs;
      stats[k].pairs = r.eval.layers[k].pairs;
      stats[k].regions = r.eval.layers[k].regions;
      stats[k].sensitive = r.eval.layers[k].sensitive;
    }
    r.cost = model_cost(*engine, &stats);
    r.weight_bits = mean_weight_bits(r.cost);
    r.array_cycles = estimate::estimate(*model, engine->ops(), r.cost, array).cycles;
    int64_t regions = 0, sensitive = 0;
    for (const LayerCount& l : r.eval.layers) regions += l.regions, sensitive += l.sensitive;
    if (regions) r.drq_sensitive = static_cast<double>(sensitive) / static_cast<double>(regions);
    if (!timing_inputs.empty()) r.ms_per_item = time_per_item(engine, timing_inputs, ex);
    if (tty)
      std::fprintf(stderr, "\r[%zu/%zu] %s: %s (%.1f s)\n", i + 1, plans.size(), specs[i].c_str(),
                   text ? fmt("%.4f bits/char", r.eval.bits_per_char).c_str()
                        : fmt("top-1 %.2f%%", 100 * r.eval.top1).c_str(),
                   r.eval.seconds);
    rows.push_back(std::move(r));
  }

  write_markdown(rows, text);
  if (args.count("csv")) {
    Output out(args["csv"].as<std::string>());
    write_csv(out.file(), rows, text);
    out.commit();
  }
  if (args.count("json")) {
    nlohmann::json j = {{"model", model->origin()}, {"data", data}, {"rows", nlohmann::json::array()}};
    for (const Row& r : rows) j["rows"].push_back(to_json(r, text));
    Output out(args["json"].as<std::string>());
    std::fprintf(out.file(), "%s\n", j.dump(1).c_str());
    out.commit();
  }
  if (args.count("plot")) {
    std::vector<PlotPoint> points;
    for (const Row& r : rows)
      points.push_back({r.family, r.plan, r.cost.pairs, r.cost.bytes,
                        text ? r.eval.bits_per_char : 100 * r.eval.top1});
    Output out(args["plot"].as<std::string>());
    write_sweep_svg(out.file(), model->name() + ": " + (text ? "bits per character" : "accuracy") + " vs cost",
                    text ? "bits per character (lower is better)" : "top-1 accuracy (%)", points, !text,
                    text ? 1.0 : 20.0);
    out.commit();
  }
  for (const Row& r : rows)
    if (r.eval.failed) return 1;
  return 0;
}

}  // namespace bitlane::cli
