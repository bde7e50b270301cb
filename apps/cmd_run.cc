// bitlane run MODEL INPUT...: classify image files and folders.
//
// Files are decoded in parallel, run through the model in batches, and
// written in input order (CSV or JSON lines). A bad file is reported on
// stderr with its reason and processing continues; the exit status is 1 if
// any input failed (0 with --allow-failures).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/input_files.h"
#include "core/error.h"
#include "runtime/session.h"

namespace bitlane::cli {
namespace {

struct Shard {
  size_t index = 0, count = 1;
};

Shard parse_shard(const std::string& s) {
  Shard sh;
  unsigned long i = 0, n = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%lu/%lu%c", &i, &n, &tail) != 2 || n == 0 || i >= n)
    throw UsageError("--shard must be i/n with 0 <= i < n, got '" + s + "'");
  sh.index = i;
  sh.count = n;
  return sh;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  cxxopts::Options opts("bitlane run", "Classify images: files and folders (walked recursively).");
  opts.positional_help("MODEL INPUT...");
  opts.add_options()
      ("model", "model.json or a folder holding it", cxxopts::value<std::string>())
      ("inputs", "image files and folders", cxxopts::value<std::vector<std::string>>())
      ("k,top-k", "labels per image", cxxopts::value<int>()->default_value("5"))
      ("format", "csv or jsonl", cxxopts::value<std::string>()->default_value("csv"))
      ("o,output", "write results to FILE (appears only when complete)", cxxopts::value<std::string>()->default_value("-"))
      ("batch", "images per inference batch (default 32 per thread)", cxxopts::value<int>())
      ("shard", "process shard i of n (0 <= i < n) of the sorted inputs; shard outputs concatenate "
                "to the output of one run", cxxopts::value<std::string>())
      ("allow-failures", "exit with status 0 even if some inputs failed")
      ("h,help", "show help");
  add_model_options(opts);
  opts.parse_positional({"model", "inputs"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "model"})
              << "\nExamples:\n"
                 "  bitlane run build/release/models/lenet models/data/images\n"
                 "  bitlane run model.json photos/ --bits 4 --top-k 3 --format jsonl -o out.jsonl\n"
                 "  bitlane run model.json huge_folder/ --shard 3/8 > part3.csv   # one of 8 machines\n";
    return 0;
  }
  if (!args.count("model") || !args.count("inputs")) throw UsageError("expects MODEL and at least one INPUT (see --help)");
  const int top = args["top-k"].as<int>();
  const std::string format = args["format"].as<std::string>();
  if (top < 1) throw UsageError("--top-k must be at least 1");
  if (args.count("batch") && (args["batch"].as<int>() < 1 || args["batch"].as<int>() > 4096))
    throw UsageError("--batch must be 1..4096");
  if (format != "csv" && format != "jsonl") throw UsageError("--format must be csv or jsonl");
  const Shard shard = args.count("shard") ? parse_shard(args["shard"].as<std::string>()) : Shard{};

  Executor ex(args["threads"].as<int>());
  // Decoding a batch and inferring it are phases one after the other: 32
  // images per thread keep both parallel phases busy (LeNet at 4 bits on 2
  // threads: 57.5k images/s with batches of 32, 65.0k with 64).
  const int batch = args.count("batch") ? args["batch"].as<int>() : std::min(4096, 32 * ex.threads());
  apply_limit_options(args);
  const auto engine = load_engine(args, args["model"].as<std::string>(), plan_from_options(args), ex);
  const Model& model = engine->model();
  if (model.inputs().size() != 1 || !model.inputs()[0].preprocessing)
    fail(model.origin(), "run classifies images, but the model's input has no image preprocessing "
                         "(for text models use: bitlane eval)");
  const InputSpec& spec = model.inputs()[0];
  const std::string last_op = output_op(model);

  InputWalk walk = collect_inputs(args["inputs"].as<std::vector<std::string>>());
  const size_t n_all = walk.files.size();
  const size_t begin = n_all * shard.index / shard.count, end = n_all * (shard.index + 1) / shard.count;
  std::vector<std::string> files(walk.files.begin() + static_cast<long>(begin), walk.files.begin() + static_cast<long>(end));
  for (const std::string& p : walk.problems) std::fprintf(stderr, "bitlane run: %s\n", p.c_str());

  Output out(args["output"].as<std::string>());
  if (format == "csv" && shard.index == 0) {
    std::fprintf(out.file(), "path");
    for (int i = 1; i <= top; ++i) std::fprintf(out.file(), ",label%d,score%d", i, i);
    std::fprintf(out.file(), "\n");
  }
  Session session(engine);
  Progress progress(files.size());
  size_t done = 0, failed = walk.problems.size();
  const double t0 = now_seconds();
  DecodedBatch decoded;
  for (size_t b0 = 0; b0 < files.size(); b0 += static_cast<size_t>(batch)) {
    const size_t b1 = std::min(files.size(), b0 + static_cast<size_t>(batch));
    decode_batch(files, b0, b1, spec, ex, decoded);
    const std::vector<std::string>& errors = decoded.errors;
    const float* logits = nullptr;
    int64_t classes = 0;
    if (!decoded.ok.empty()) {
      const Tensor& y = *session.run({decoded.input}, ex)[0];
      logits = y.f32();
      classes = y.size() / y.dim(0);
    }
    size_t j = 0;
    for (size_t i = 0; i < b1 - b0; ++i) {
      const std::string& path = files[b0 + i];
      if (!errors[i].empty()) {
        std::fprintf(stderr, "bitlane run: %s\n", errors[i].c_str());
        ++failed;
        continue;
      }
      const auto best = top_k(logits + static_cast<int64_t>(j++) * classes, classes, top, last_op);
      auto label = [&](int64_t c) {
        return c < static_cast<int64_t>(model.labels().size()) ? model.labels()[static_cast<size_t>(c)] : std::to_string(c);
      };
      if (format == "csv") {
        std::fprintf(out.file(), "%s", csv_field(path).c_str());
        for (const Scored& s : best) std::fprintf(out.file(), ",%s,%.6f", csv_field(label(s.index)).c_str(), s.score);
        std::fprintf(out.file(), "\n");
      } else {
        std::fprintf(out.file(), "{\"path\": %s, \"top\": [", json_string(path).c_str());
        for (size_t k = 0; k < best.size(); ++k)
          std::fprintf(out.file(), "%s{\"label\": %s, \"index\": %lld, \"score\": %.6f}", k ? ", " : "",
                       json_string(label(best[k].index)).c_str(), static_cast<long long>(best[k].index), best[k].score);
        std::fprintf(out.file(), "]}\n");
      }
    }
    done = b1;
    progress.update(done, failed);
  }
  progress.finish();
  out.commit();
  const double seconds = now_seconds() - t0;
  const size_t failed_images = failed - walk.problems.size();
  const size_t good = files.size() - failed_images;
  std::fprintf(stderr, "bitlane run: %zu images, %zu failed, %.1f images/s, %.3f ms/image (%d threads, batch %d, %s%s)\n",
               files.size(), failed_images, good / std::max(seconds, 1e-9), good ? seconds * 1000 / good : 0.0,
               ex.threads(), batch, engine->plan().any_quantized() ? "quantized " : "",
               engine->plan().defaults.to_string().c_str());
  if (!walk.problems.empty())
    std::fprintf(stderr, "bitlane run: %zu inputs could not be walked (reported above)\n", walk.problems.size());
  if (walk.skipped) std::fprintf(stderr, "bitlane run: skipped %zu files without an image extension\n", walk.skipped);
  return failed && !args.count("allow-failures") ? 1 : 0;
}

}  // namespace bitlane::cli
