// Helpers shared by the bitlane subcommands: loading a model with a
// quantization plan, comma lists, output files that appear only when
// complete, a terminal progress line, and top-k formatting.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <cxxopts.hpp>

#include "core/executor.h"
#include "runtime/engine.h"

namespace bitlane::cli {

// Usage mistakes (bad option values): main prints them with exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses argv; arguments beyond the positional ones are a usage error
// (cxxopts would silently ignore them, e.g. a plan the shell split at a
// brace).
cxxopts::ParseResult parse_strict(cxxopts::Options& opts, int argc, char** argv);

// MODEL may name a .json file or a folder holding model.json.
std::string resolve_model_path(const std::string& arg);

// Options every model-running command takes (plan, threads, input limits).
void add_model_options(cxxopts::Options& opts);

// Sets bitlane::limits() from the --max-* options of add_model_options.
void apply_limit_options(const cxxopts::ParseResult& args);

// The plan from --quant / --bits (empty optional: the model's own plan).
std::optional<quant::QuantPlan> plan_from_options(const cxxopts::ParseResult& args,
                                                  const std::string& spec_override = "");
// A plan in the text form given to `flag`; a bad one is a usage error
// naming the flag.
quant::QuantPlan parse_plan(const std::string& spec, const char* flag);

// Loads the model and builds an engine for the plan the options ask for,
// calibrated on --calibration when given (apps/calibration_input.h).
std::shared_ptr<const Engine> load_engine(const cxxopts::ParseResult& args, const std::string& model_arg,
                                          const std::optional<quant::QuantPlan>& plan, const Executor& ex);

std::vector<std::string> split_list(const std::string& s);
std::vector<int> int_list(const std::string& s, const char* option);

// Writes to `path` through a temporary file renamed on commit(), so readers
// never see a partial file; "-" or empty means standard output.
class Output {
 public:
  explicit Output(const std::string& path);
  ~Output();
  std::FILE* file() { return f_; }
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};

// A progress line on stderr, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(size_t total);
  void update(size_t done, size_t failed);
  void finish();

 private:
  size_t total_;
  bool tty_;
  double start_, last_ = 0;
};

double now_seconds();

struct Scored {
  int64_t index;
  double score;
};
// The k best classes of one output row as probabilities: softmax of the row,
// unless the model already ends in softmax (or log_softmax).
std::vector<Scored> top_k(const float* row, int64_t classes, int k, const std::string& last_op);

// The op that produces the model's first output ("softmax", "dense", ...).
std::string output_op(const Model& model);

// s as one CSV field (quoted when it holds a comma, quote or line break)
// and as a JSON string literal: appended to out, or returned.
void append_csv_field(std::string& out, std::string_view s);
void append_json_string(std::string& out, std::string_view s);
std::string csv_field(std::string_view s);
std::string json_string(std::string_view s);

}  // namespace bitlane::cli
