// bitlane run MODEL INPUT...: classify image files and folders.
//
// Each thread decodes, runs and formats whole batches of files; results are
// written in input order (CSV or JSON lines). A bad file is reported on
// stderr with its reason and processing continues; the exit status is 1 if
// any input failed (0 with --allow-failures).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string_view>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/input_files.h"
#include "apps/number_format.h"
#include "core/error.h"
#include "core/ordered_for.h"
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

// One image's output line: path, then the top classes with their scores,
// appended in place into one buffer (it runs once per image; the path, each
// label and the finished line used to be copied through temporaries).
std::string result_line(const std::string& path, const std::vector<Scored>& best,
                        const std::vector<std::string>& labels, const std::string& format) {
  char number[24];
  auto label = [&](int64_t c) -> std::string_view {
    if (c < static_cast<int64_t>(labels.size())) return labels[static_cast<size_t>(c)];
    return {number, static_cast<size_t>(std::to_chars(number, number + sizeof(number), c).ptr - number)};
  };
  std::string line;
  line.reserve(path.size() + 32 * best.size() + 16);
  if (format == "csv") {
    append_csv_field(line, path);
    for (const Scored& s : best) {
      line += ',';
      append_csv_field(line, label(s.index));
      line += ',';
      append_fixed6(line, s.score);
    }
    line += '\n';
    return line;
  }
  line += "{\"path\": ";
  append_json_string(line, path);
  line += ", \"top\": [";
  for (size_t k = 0; k < best.size(); ++k) {
    line += k ? ", {\"label\": " : "{\"label\": ";
    append_json_string(line, label(best[k].index));
    line += ", \"index\": ";
    char index[24];
    line.append(index, std::to_chars(index, index + sizeof(index), best[k].index).ptr);
    line += ", \"score\": ";
    append_fixed6(line, best[k].score);
    line += '}';
  }
  line += "]}\n";
  return line;
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
      ("batch", "images per inference batch; each thread runs its own (default 32)", cxxopts::value<int>())
      ("shard", "process shard i of n (0 <= i < n) of the sorted inputs; shard outputs concatenate "
                "to the output of one run", cxxopts::value<std::string>())
      ("allow-failures", "exit with status 0 even if some inputs failed")
      ("h,help", "show help");
  add_model_options(opts);
  opts.parse_positional({"model", "inputs"});
  const auto args = parse_strict(opts, argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "model", "calibration"})
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
  // 32 images per batch: LeNet's activations for them stay in L2 (one thread
  // at 4 bits: 47k images/s with 32, 39k with 64).
  const int batch = args.count("batch") ? args["batch"].as<int>() : 32;
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
  std::vector<InputFile> files(walk.files.begin() + static_cast<long>(begin), walk.files.begin() + static_cast<long>(end));
  for (const std::string& p : walk.problems) std::fprintf(stderr, "bitlane run: %s\n", p.c_str());

  Output out(args["output"].as<std::string>());
  if (format == "csv" && shard.index == 0) {
    std::fprintf(out.file(), "path");
    for (int i = 1; i <= top; ++i) std::fprintf(out.file(), ",label%d,score%d", i, i);
    std::fprintf(out.file(), "\n");
  }
  // Batches go through a pipeline (core/ordered_for.h): any thread decodes,
  // infers (on its own session, single-threaded) and formats a batch, and
  // its lines are written in file order as soon as the batches before it
  // are. Splitting every layer of a small model over the threads instead
  // cost a barrier per layer and a working set per thread as large as the
  // whole batch (LeNet at 4 bits: 2 threads 1.5-1.7x one thread that way);
  // rounds of one batch per thread with the writing in between cost a
  // barrier per round (108-116k images/s against 116-125k this way).
  const size_t per_batch = static_cast<size_t>(batch), workers = static_cast<size_t>(ex.threads());
  const size_t batches = (files.size() + per_batch - 1) / per_batch, window = 2 * workers;
  const Executor& inline_ex = Executor::inline_executor();
  std::vector<std::unique_ptr<Session>> sessions;
  for (size_t w = 0; w < workers; ++w) sessions.push_back(std::make_unique<Session>(engine));
  std::vector<DecodedBatch> decoded(workers);
  struct Formatted {
    std::vector<std::string> lines;   // per image: its output line, or empty if it failed
    std::vector<std::string> errors;  // per image: empty, or why it failed
  };
  std::vector<Formatted> slots(window);
  Progress progress(files.size());
  size_t failed = walk.problems.size();
  const double t0 = now_seconds();
  ordered_for(
      ex, batches, window,
      [&](size_t b, size_t w) {
        const size_t b0 = b * per_batch, b1 = std::min(files.size(), b0 + per_batch);
        DecodedBatch& d = decoded[w];
        Formatted& slot = slots[b % window];
        decode_batch(files, b0, b1, spec, inline_ex, d);
        slot.errors.swap(d.errors);
        slot.lines.assign(b1 - b0, std::string());
        if (d.ok.empty()) return;
        const Tensor& y = *sessions[w]->run(d.inputs, inline_ex)[0];
        const int64_t classes = y.size() / y.dim(0);
        for (size_t j = 0; j < d.ok.size(); ++j)
          slot.lines[d.ok[j]] = result_line(files[b0 + d.ok[j]].path,
                                           top_k(y.f32() + static_cast<int64_t>(j) * classes, classes, top, last_op),
                                           model.labels(), format);
      },
      [&](size_t b) {
        const Formatted& slot = slots[b % window];
        for (size_t j = 0; j < slot.lines.size(); ++j) {
          if (!slot.errors[j].empty()) {
            std::fprintf(stderr, "bitlane run: %s\n", slot.errors[j].c_str());
            ++failed;
            continue;
          }
          std::fwrite(slot.lines[j].data(), 1, slot.lines[j].size(), out.file());
        }
        progress.update(std::min(files.size(), (b + 1) * per_batch), failed);
      });
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
