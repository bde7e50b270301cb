// bitlane info MODEL: what a model is made of and what it costs.
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "quant/scheme.h"
#include "runtime/cost.h"
#include "runtime/model.h"

namespace bitlane::cli {

int cmd_info(int argc, char** argv) {
  cxxopts::Options opts("bitlane info", "Inputs, outputs, layers with shapes, parameters, MACs, "
                                        "and weight bytes per scheme.");
  opts.positional_help("MODEL");
  opts.add_options()("model", "model.json or a folder holding it", cxxopts::value<std::string>())(
      "quant", "show the layers and bytes under this plan (see bitlane run --help)", cxxopts::value<std::string>())(
      "bits", "shorthand for --quant N", cxxopts::value<int>())("json", "print JSON")("h,help", "show help");
  opts.parse_positional({"model"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help() << "\nExamples:\n  bitlane info build/release/models/resnet\n"
                                "  bitlane info model.json --quant w4a8,first=fp32 --json\n";
    return 0;
  }
  if (!args.count("model")) throw UsageError("expects MODEL (see --help)");
  const auto model = Model::load(resolve_model_path(args["model"].as<std::string>()));
  const auto requested = plan_from_options(args);
  const quant::QuantPlan plan = requested ? *requested : model->plan();

  const ModelCost cost = model_cost(*model, plan);
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerCost& c : cost.layers) {
    const std::string scheme = !c.quantizable ? "-"
                               : c.plan.scheme().execution() == quant::Execution::kExponent
                                   ? c.plan.to_string() + " (width searched at load, at most)"
                                   : c.plan.to_string();
    layers.push_back({{"name", c.name}, {"op", c.op}, {"output", shape_str(model->tensor_shape(model->nodes()[static_cast<size_t>(c.node)].outputs[0]))},
                      {"params", c.shape.params}, {"macs", c.shape.macs}, {"plan", scheme},
                      {"weight_bits", c.weight_bits}, {"bytes", c.bytes}, {"term_pairs", c.pairs}});
  }
  if (args.count("json")) {
    nlohmann::json j = {{"model", model->origin()}, {"name", model->name()}, {"layers", layers},
                        {"params", cost.params}, {"macs", cost.macs}, {"term_pairs", cost.pairs},
                        {"bytes_fp32", cost.bytes_fp32}, {"bytes_int8", cost.bytes_int8}, {"bytes_plan", cost.bytes},
                        {"compression_vs_int8", cost.compression_vs_int8()}, {"plan", plan.to_json()}};
    for (const InputSpec& s : model->inputs())
      j["inputs"].push_back({{"name", s.name}, {"shape", s.shape}, {"dtype", dtype_name(s.dtype)}});
    for (int o : model->output_ids()) j["outputs"].push_back(model->tensor_name(o));
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::printf("model:  %s (%s)\n", model->origin().c_str(), model->name().c_str());
  if (!model->description().empty()) std::printf("        %s\n", model->description().c_str());
  for (const InputSpec& s : model->inputs()) {
    std::printf("input:  %s %s %s", s.name.c_str(), dtype_name(s.dtype), shape_str(s.shape).c_str());
    if (s.preprocessing)
      std::printf(" (image %s %lldx%lld, resize %s)", s.preprocessing->color.c_str(),
                  static_cast<long long>(s.preprocessing->width), static_cast<long long>(s.preprocessing->height),
                  s.preprocessing->resize.c_str());
    std::printf("\n");
  }
  for (int o : model->output_ids())
    std::printf("output: %s %s\n", model->tensor_name(o).c_str(), shape_str(model->tensor_shape(o)).c_str());
  if (!model->labels().empty()) std::printf("labels: %zu classes\n", model->labels().size());
  if (!model->vocabulary().empty()) std::printf("vocabulary: %zu symbols\n", model->vocabulary().size());
  std::printf("\n| layer | op | output (batch 1) | params | MACs | plan | weight bits | bytes | term pairs |\n"
              "|---|---|---|---:|---:|---|---:|---:|---:|\n");
  for (const auto& l : layers)
    std::printf("| %s | %s | %s | %lld | %.0f | %s | %.2f | %.0f | %.4g |\n", l["name"].get<std::string>().c_str(),
                l["op"].get<std::string>().c_str(), l["output"].get<std::string>().c_str(),
                static_cast<long long>(l["params"].get<int64_t>()), l["macs"].get<double>(),
                l["plan"].get<std::string>().c_str(), l["weight_bits"].get<double>(), l["bytes"].get<double>(),
                l["term_pairs"].get<double>());
  std::printf("\nparameters: %lld\nMACs per item: %.0f\nterm pairs per item (uniform: MACs x b_w x b_x; "
              "term: MACs x k/g x s): %.4g\n",
              static_cast<long long>(cost.params), cost.macs, cost.pairs);
  const double vs_int8 = cost.compression_vs_int8();
  std::printf("model bytes: fp32 %.0f, int8 %.0f, this plan %.0f (%.2fx %s than int8)\n", cost.bytes_fp32,
              cost.bytes_int8, cost.bytes, vs_int8 >= 1 ? vs_int8 : 1 / vs_int8, vs_int8 >= 1 ? "smaller" : "larger");
  std::printf("plan: %s\n", plan.to_json().dump().c_str());
  return 0;
}

}  // namespace bitlane::cli
