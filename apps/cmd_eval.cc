// bitlane eval MODEL DATA: accuracy of an image classifier, or bits per
// character of a text model (the evaluation itself is in evaluate.cc).
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/evaluate.h"
#include "core/error.h"

namespace bitlane::cli {
namespace {

void report_images(const Model& m, const EvalResult& r, bool json) {
  auto label = [&](int64_t c) {
    return c < static_cast<int64_t>(m.labels().size()) ? m.labels()[static_cast<size_t>(c)] : std::to_string(c);
  };
  const int64_t n = r.classes;
  auto count = [&](int64_t t, int64_t p) { return r.confusion[static_cast<size_t>(t * n + p)]; };
  auto row_total = [&](int64_t t) {
    int64_t row = 0;
    for (int64_t p = 0; p < n; ++p) row += count(t, p);
    return row;
  };
  if (json) {
    nlohmann::json j = {{"model", m.origin()}, {"images", r.samples}, {"failed", r.failed},
                        {"top1", r.top1}, {"top5", r.top5}, {"seconds", r.seconds}};
    for (int64_t t = 0; t < n; ++t) {
      const int64_t row = row_total(t);
      j["per_class"][label(t)] = row ? static_cast<double>(count(t, t)) / static_cast<double>(row) : 0.0;
      j["confusion"].push_back(std::vector<int64_t>(r.confusion.begin() + t * n, r.confusion.begin() + (t + 1) * n));
    }
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::printf("model: %s\nimages: %lld (%zu failed)\ntop-1: %.2f%%\ntop-5: %.2f%%\n\n", m.origin().c_str(),
              static_cast<long long>(r.samples), r.failed, 100 * r.top1, 100 * r.top5);
  std::printf("| class | images | accuracy |\n|---|---:|---:|\n");
  for (int64_t t = 0; t < n; ++t) {
    const int64_t row = row_total(t);
    std::printf("| %s | %lld | %.1f%% |\n", label(t).c_str(), static_cast<long long>(row),
                row ? 100.0 * static_cast<double>(count(t, t)) / static_cast<double>(row) : 0.0);
  }
  std::printf("\nconfusion matrix (rows: truth, columns: prediction)\n");
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t p = 0; p < n; ++p) std::printf("%6lld", static_cast<long long>(count(t, p)));
    std::printf("   %s\n", label(t).c_str());
  }
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  cxxopts::Options opts("bitlane eval", "Accuracy of an image model, or bits per character of a text model.");
  opts.positional_help("MODEL DATA");
  opts.add_options()
      ("model", "model.json or a folder holding it", cxxopts::value<std::string>())
      ("data", "class folders, a path,label CSV, a .safetensors set, or a text file",
       cxxopts::value<std::string>())
      ("batch", "images per batch", cxxopts::value<int>()->default_value("64"))
      ("streams", "text: parallel streams the text is cut into", cxxopts::value<int>()->default_value("16"))
      ("limit", "evaluate at most N samples (0 = all)", cxxopts::value<int64_t>()->default_value("0"))
      ("json", "print the report as JSON")
      ("h,help", "show help");
  add_model_options(opts);
  opts.parse_positional({"model", "data"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "model", "calibration"})
              << "\nExamples:\n"
                 "  bitlane eval build/release/models/lenet models/data/images\n"
                 "  bitlane eval models/lenet labels.csv --bits 4 --json\n"
                 "  bitlane eval build/release/models/char_lstm models/data/wikitext-test.txt\n";
    return 0;
  }
  if (!args.count("model") || !args.count("data")) throw UsageError("expects MODEL and DATA (see --help)");
  const int batch = args["batch"].as<int>();
  if (batch < 1 || batch > 4096) throw UsageError("--batch must be 1..4096");
  const int64_t limit = args["limit"].as<int64_t>();
  const bool json = args.count("json") > 0;
  const std::string data = args["data"].as<std::string>();

  Executor ex(args["threads"].as<int>());
  apply_limit_options(args);
  const auto engine = load_engine(args, args["model"].as<std::string>(), plan_from_options(args), ex);
  EvalOptions o;
  o.batch = batch;
  o.streams = args["streams"].as<int>();
  o.limit = limit;
  const EvalResult r = evaluate(engine, data, o, ex);
  const Model& model = engine->model();
  if (r.text) {
    if (json)
      std::cout << nlohmann::json{{"model", model.origin()}, {"characters", r.samples},
                                  {"bits_per_character", r.bits_per_char},
                                  {"perplexity", std::exp2(r.bits_per_char)}, {"seconds", r.seconds}}.dump(1) << "\n";
    else
      std::printf("model: %s\ncharacters: %lld\nbits per character: %.4f\nperplexity (per character): %.4f\n",
                  model.origin().c_str(), static_cast<long long>(r.samples), r.bits_per_char,
                  std::exp2(r.bits_per_char));
    return 0;
  }
  report_images(model, r, json);
  return r.failed ? 1 : 0;
}

}  // namespace bitlane::cli
