#include "apps/cli_common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "apps/calibration_input.h"
#include "core/error.h"
#include "core/limits.h"

namespace bitlane::cli {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

cxxopts::ParseResult parse_strict(cxxopts::Options& opts, int argc, char** argv) {
  auto result = opts.parse(argc, argv);
  if (!result.unmatched().empty())
    throw UsageError("unexpected argument '" + result.unmatched()[0] + "' (quote plans that contain braces)");
  return result;
}

std::string resolve_model_path(const std::string& arg) {
  struct stat st {};
  if (stat(arg.c_str(), &st) != 0) fail(arg, "no such model file or folder");
  if (S_ISDIR(st.st_mode)) {
    const std::string json = arg + (arg.back() == '/' ? "" : "/") + "model.json";
    if (stat(json.c_str(), &st) != 0) fail(arg, "folder has no model.json");
    return json;
  }
  return arg;
}

void add_model_options(cxxopts::Options& opts) {
  opts.add_options("model")
      ("quant", "quantization plan: fp32, N, wNaM, wNaM,first=fp32,last=fp32,calib=mse,wclip=mse, "
                "or JSON (default: the model's own plan)", cxxopts::value<std::string>())
      ("bits", "shorthand for --quant N: N-bit weights and activations", cxxopts::value<int>())
      ("threads", "worker threads (0 = all cores)", cxxopts::value<int>()->default_value("0"));
  add_calibration_options(opts);
  // Limits on hostile files (core/limits.h): raise them for unusually large inputs.
  const Limits d;
  opts.add_options("limits")
      ("max-image-pixels", "refuse images with more pixels (width x height)",
       cxxopts::value<uint64_t>()->default_value(std::to_string(d.max_image_pixels)))
      ("max-file-bytes", "refuse larger model, weights and input files",
       cxxopts::value<uint64_t>()->default_value(std::to_string(d.max_file_bytes)))
      ("max-tensor-elements", "refuse tensors with more elements",
       cxxopts::value<uint64_t>()->default_value(std::to_string(d.max_tensor_elements)))
      ("max-sequence-length", "refuse longer token sequences",
       cxxopts::value<uint64_t>()->default_value(std::to_string(d.max_sequence_length)));
}

void apply_limit_options(const cxxopts::ParseResult& args) {
  Limits& l = limits();
  l.max_image_pixels = args["max-image-pixels"].as<uint64_t>();
  l.max_file_bytes = args["max-file-bytes"].as<uint64_t>();
  l.max_tensor_elements = args["max-tensor-elements"].as<uint64_t>();
  l.max_sequence_length = args["max-sequence-length"].as<uint64_t>();
}

std::optional<quant::QuantPlan> plan_from_options(const cxxopts::ParseResult& args,
                                                  const std::string& spec_override) {
  std::string spec = spec_override;
  if (spec.empty() && args.count("quant")) spec = args["quant"].as<std::string>();
  if (spec.empty() && args.count("bits")) {
    const int bits = args["bits"].as<int>();
    if (bits < 1 || bits > 16) throw UsageError("--bits must be 1..16, got " + std::to_string(bits));
    spec = std::to_string(bits);
  }
  if (spec.empty()) return std::nullopt;
  return parse_plan(spec, args.count("quant") || !spec_override.empty() ? "--quant" : "--bits");
}

quant::QuantPlan parse_plan(const std::string& spec, const char* flag) {
  try {
    return quant::QuantPlan::from_text(spec, {});
  } catch (const Error& e) {
    throw UsageError(std::string(flag) + ": " + e.what());
  }
}

std::shared_ptr<const Engine> load_engine(const cxxopts::ParseResult& args, const std::string& model_arg,
                                          const std::optional<quant::QuantPlan>& plan, const Executor& ex) {
  const auto model = Model::load(resolve_model_path(model_arg));
  return Engine::build(model, engine_options(args, *model, plan, ex), ex);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<int> int_list(const std::string& s, const char* option) {
  std::vector<int> out;
  for (const std::string& item : split_list(s)) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size()) throw UsageError(std::string(option) + ": '" + item + "' is not an integer");
    out.push_back(v);
  }
  if (out.empty()) throw UsageError(std::string(option) + ": empty list");
  return out;
}

Output::Output(const std::string& path) : path_(path == "-" ? "" : path) {
  if (path_.empty()) {
    f_ = stdout;
    return;
  }
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  f_ = std::fopen(tmp_.c_str(), "w");
  if (!f_) fail(path_, "cannot create the output file");
}

Output::~Output() {
  if (f_ && f_ != stdout) {  // not committed: leave no partial file behind
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void Output::commit() {
  if (f_ == stdout) {
    if (std::fflush(stdout) != 0) fail("standard output", "write error");
    return;
  }
  const bool ok = std::fflush(f_) == 0 && !std::ferror(f_);
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed) {
    std::remove(tmp_.c_str());
    fail(path_, "write error (disk full?); no output written");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    fail(path_, "cannot move the finished output into place");
  }
}

Progress::Progress(size_t total) : total_(total), tty_(isatty(STDERR_FILENO)), start_(now_seconds()) {}

void Progress::update(size_t done, size_t failed) {
  if (!tty_) return;
  const double t = now_seconds();
  if (t - last_ < 0.1 && done < total_) return;
  last_ = t;
  const int width = 30;
  const int filled = total_ ? static_cast<int>(width * done / total_) : width;
  std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu images, %zu failed, %.0f images/s ", filled,
               "==============================", width - filled, "", done, total_, failed,
               done / std::max(1e-9, t - start_));
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r%*s\r", 90, "");
}

std::string output_op(const Model& model) {
  const int out = model.output_ids()[0];
  for (const Node& n : model.nodes())
    for (int o : n.outputs)
      if (o == out) return n.op;
  return "";
}

std::vector<Scored> top_k(const float* row, int64_t classes, int k, const std::string& last_op) {
  std::vector<double> p(static_cast<size_t>(classes));
  if (last_op == "softmax") {
    for (int64_t c = 0; c < classes; ++c) p[static_cast<size_t>(c)] = row[c];
  } else if (last_op == "log_softmax") {
    for (int64_t c = 0; c < classes; ++c) p[static_cast<size_t>(c)] = std::exp(static_cast<double>(row[c]));
  } else {
    const double mx = *std::max_element(row, row + classes);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += p[static_cast<size_t>(c)] = std::exp(row[c] - mx);
    for (double& v : p) v /= sum;
  }
  std::vector<Scored> all;
  for (int64_t c = 0; c < classes; ++c) all.push_back({c, p[static_cast<size_t>(c)]});
  k = std::min<int>(k, static_cast<int>(classes));
  // Ties keep the lower class index first, so output is deterministic.
  std::partial_sort(all.begin(), all.begin() + k, all.end(), [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : a.index < b.index;
  });
  all.resize(static_cast<size_t>(k));
  return all;
}

void append_csv_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

std::string csv_field(std::string_view s) {
  std::string out;
  append_csv_field(out, s);
  return out;
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace bitlane::cli
