// bitlane info MODEL: what a model is made of and what it costs.
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/commands.h"
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
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::cout << opts.help() << "\nExamples:\n  bitlane info build/release/models/resnet\n"
                                "  bitlane info model.json --quant w4a8,first=fp32 --json\n";
    return 0;
  }
  if (!args.count("model")) throw UsageError("expects MODEL (see --help)");
  const auto model = Model::load(resolve_model_path(args["model"].as<std::string>()));
  const auto requested = plan_from_options(args);
  const quant::QuantPlan plan = requested ? *requested : model->plan();

  // Quantizable layers in order, for first/last rules.
  std::vector<std::unique_ptr<ops::Op>> ops;
  int quantizable = 0;
  for (const Node& n : model->nodes()) {
    ops.push_back(model->build_op(n));
    quantizable += ops.back()->quantizable();
  }
  nlohmann::json layers = nlohmann::json::array();
  double macs = 0;
  int64_t params = 0, bytes_plan = 0, index = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Node& n = model->nodes()[i];
    std::vector<Shape> in;
    for (int t : n.inputs) in.push_back(model->tensor_shape(t));
    const ops::OpCost c = ops[i]->cost(in);
    std::string scheme = "-";
    int64_t bytes = c.params * 4;
    if (ops[i]->quantizable()) {
      const quant::LayerPlan lp = plan.for_layer(n.name, static_cast<int>(index++), quantizable);
      scheme = lp.to_string();
      if (lp.quantized()) bytes = (c.params * lp.weight_bits + 7) / 8;
    }
    macs += c.macs;
    params += c.params;
    bytes_plan += bytes;
    layers.push_back({{"name", n.name}, {"op", n.op}, {"output", shape_str(model->tensor_shape(n.outputs[0]))},
                      {"params", c.params}, {"macs", c.macs}, {"plan", scheme}, {"bytes", bytes}});
  }
  if (args.count("json")) {
    nlohmann::json j = {{"model", model->origin()}, {"name", model->name()}, {"layers", layers},
                        {"params", params}, {"macs", macs}, {"bytes_fp32", params * 4},
                        {"bytes_int8", params}, {"bytes_plan", bytes_plan}, {"plan", plan.to_json()}};
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
  std::printf("\n| layer | op | output (batch 1) | params | MACs | plan | weight bytes |\n|---|---|---|---:|---:|---|---:|\n");
  for (const auto& l : layers)
    std::printf("| %s | %s | %s | %lld | %.0f | %s | %lld |\n", l["name"].get<std::string>().c_str(),
                l["op"].get<std::string>().c_str(), l["output"].get<std::string>().c_str(),
                static_cast<long long>(l["params"].get<int64_t>()), l["macs"].get<double>(),
                l["plan"].get<std::string>().c_str(), static_cast<long long>(l["bytes"].get<int64_t>()));
  std::printf("\nparameters: %lld\nMACs per item: %.0f\nweight bytes: fp32 %lld, int8 %lld, this plan %lld\n",
              static_cast<long long>(params), macs, static_cast<long long>(params * 4),
              static_cast<long long>(params), static_cast<long long>(bytes_plan));
  std::printf("plan: %s\n", plan.to_json().dump().c_str());
  return 0;
}

}  // namespace bitlane::cli
