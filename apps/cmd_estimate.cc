// bitlane estimate MODEL: what the model and a plan would cost on a
// systolic array (runtime/estimate), per layer and in total.
#include <cmath>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/estimate_options.h"
#include "runtime/estimate/estimate.h"

namespace bitlane::cli {

int cmd_estimate(int argc, char** argv) {
  cxxopts::Options opts("bitlane estimate",
                        "Cycles, latency, utilization, term pairs and energy of a model on a systolic array.");
  opts.positional_help("MODEL");
  opts.add_options()("model", "model.json or a folder holding it", cxxopts::value<std::string>())(
      "quant", "quantization plan (see bitlane run --help; default: the model's)", cxxopts::value<std::string>())(
      "bits", "shorthand for --quant N", cxxopts::value<int>())("json", "print JSON")("h,help", "show help");
  add_estimate_options(opts);
  opts.parse_positional({"model"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "array"})
              << "\nCosts are per item (an image, or one token of a text model).\n"
                 "\nExamples:\n"
                 "  bitlane estimate build/release/models/mlp --quant scheme=term,w4a6,g=16,k=10,s=6\n"
                 "  bitlane estimate build/release/models/mlp --quant w4a6 --pe bit-serial --array 64x128\n"
                 "  bitlane estimate models/resnet --dataflow os --clock 1GHz --json\n";
    return 0;
  }
  if (!args.count("model")) throw UsageError("expects MODEL (see --help)");
  const auto model = Model::load(resolve_model_path(args["model"].as<std::string>()));
  const auto requested = plan_from_options(args);
  const quant::QuantPlan plan = requested ? *requested : model->plan();
  const estimate::EstimateOptions o = estimate_options(args);
  const estimate::ModelEstimate e = estimate::estimate(*model, plan, o);

  if (args.count("json")) {
    nlohmann::json j = {{"model", model->origin()},
                        {"array", {{"rows", o.array.rows}, {"cols", o.array.cols}, {"clock_hz", o.array.clock_hz},
                                   {"dataflow", estimate::dataflow_name(o.array.dataflow)}, {"batch", o.batch}}},
                        {"cycles", e.cycles}, {"seconds", e.seconds}, {"utilization", e.utilization},
                        {"energy_pj", e.energy_pj}, {"term_pairs", e.term_pairs}, {"plan", plan.to_json()}};
    for (const auto& l : e.layers)
      j["layers"].push_back({{"name", l.name}, {"op", l.op}, {"pe", l.pe}, {"cycles", l.cycles},
                             {"folds", l.folds}, {"utilization", l.utilization}, {"energy_pj", l.energy_pj},
                             {"term_pairs", l.term_pairs}});
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::printf("model: %s\narray: %lldx%lld, %s, %.4g MHz, batch %lld (costs per item)\n\n", model->origin().c_str(),
              static_cast<long long>(o.array.rows), static_cast<long long>(o.array.cols),
              estimate::dataflow_name(o.array.dataflow), o.array.clock_hz / 1e6, static_cast<long long>(o.batch));
  std::printf("| layer | op | PE | folds | cycles | utilization | term pairs | energy (nJ) |\n"
              "|---|---|---|---:|---:|---:|---:|---:|\n");
  for (const auto& l : e.layers)
    std::printf("| %s | %s | %s | %lld | %.0f | %.1f%% | %.4g | %.2f |\n", l.name.c_str(), l.op.c_str(), l.pe.c_str(),
                static_cast<long long>(l.folds), l.cycles, 100 * l.utilization, l.term_pairs, l.energy_pj / 1e3);
  std::printf("\ntotal: %.0f cycles, %.4g ms at the clock, utilization %.1f%%, %.4g term pairs, %.2f nJ per item\n",
              e.cycles, e.seconds * 1e3, 100 * e.utilization, e.term_pairs, e.energy_pj / 1e3);
  std::printf("plan: %s\n", plan.to_json().dump().c_str());
  return 0;
}

}  // namespace bitlane::cli
