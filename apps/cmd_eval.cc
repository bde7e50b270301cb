// bitlane eval MODEL DATA: accuracy of an image classifier, or bits per
// character of a text model.
//
// DATA is a folder with one subfolder per class (named after the labels),
// a CSV of path,label lines, a .safetensors file with "images" (U8 N x C x H
// x W) and "labels", or for text models a UTF-8 text file.
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/input_files.h"
#include "apps/text_eval.h"
#include "core/error.h"
#include "runtime/image/image.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"

namespace bitlane::cli {
namespace {

// Lower-case letters and digits only: "T-shirt/top" and "t-shirt-top" match.
std::string normalize_label(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  return out;
}

int64_t label_index(const Model& m, const std::string& label, const std::string& where) {
  const auto& labels = m.labels();
  for (size_t i = 0; i < labels.size(); ++i)
    if (normalize_label(labels[i]) == normalize_label(label)) return static_cast<int64_t>(i);
  char* end = nullptr;
  const long v = std::strtol(label.c_str(), &end, 10);
  if (!label.empty() && *end == 0 && v >= 0 && (labels.empty() || v < static_cast<long>(labels.size()))) return v;
  fail(where, "label '" + label + "' is not one of the model's labels");
}

struct Labelled {
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  std::vector<std::string> problems;
};

Labelled from_folders(const Model& m, const std::string& dir) {
  Labelled out;
  const InputWalk walk = collect_inputs({dir});
  out.problems = walk.problems;
  for (const std::string& f : walk.files) {
    // The class is the first folder below DATA.
    const std::string rel = f.substr(dir.size() + (dir.back() == '/' ? 0 : 1));
    const size_t slash = rel.find('/');
    if (slash == std::string::npos) {
      out.problems.push_back(f + ": not inside a class folder");
      continue;
    }
    out.files.push_back(f);
    out.labels.push_back(label_index(m, rel.substr(0, slash), f));
  }
  return out;
}

Labelled from_csv(const Model& m, const std::string& path) {
  Labelled out;
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  const size_t slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 1 && line.rfind("path,", 0) == 0)) continue;
    const size_t comma = line.rfind(',');
    if (comma == std::string::npos) fail(path + ":" + std::to_string(n), "expected path,label");
    std::string file = line.substr(0, comma);
    if (file.size() >= 2 && file.front() == '"' && file.back() == '"') file = file.substr(1, file.size() - 2);
    out.files.push_back(file[0] == '/' ? file : base + file);
    out.labels.push_back(label_index(m, line.substr(comma + 1), path + ":" + std::to_string(n)));
  }
  return out;
}

struct Confusion {
  explicit Confusion(int64_t classes) : n(classes), counts(static_cast<size_t>(classes * classes), 0) {}
  int64_t n;
  std::vector<int64_t> counts;  // [truth][prediction]
  int64_t total = 0, top1 = 0, top5 = 0;

  void add(const float* row, int64_t truth) {
    int64_t rank = 0, best = 0;
    for (int64_t c = 0; c < n; ++c) {
      if (row[c] > row[truth] || (row[c] == row[truth] && c < truth)) ++rank;
      if (row[c] > row[best]) best = c;
    }
    ++total;
    top1 += rank == 0;
    top5 += rank < 5;
    ++counts[static_cast<size_t>(truth * n + best)];
  }
};

void report_images(const Model& m, const Confusion& cm, size_t failed, double seconds, bool json) {
  auto label = [&](int64_t c) {
    return c < static_cast<int64_t>(m.labels().size()) ? m.labels()[static_cast<size_t>(c)] : std::to_string(c);
  };
  const double top1 = cm.total ? static_cast<double>(cm.top1) / cm.total : 0;
  const double top5 = cm.total ? static_cast<double>(cm.top5) / cm.total : 0;
  if (json) {
    nlohmann::json j = {{"model", m.origin()}, {"images", cm.total}, {"failed", failed},
                        {"top1", top1}, {"top5", top5}, {"seconds", seconds}};
    for (int64_t t = 0; t < cm.n; ++t) {
      int64_t row = 0;
      for (int64_t p = 0; p < cm.n; ++p) row += cm.counts[static_cast<size_t>(t * cm.n + p)];
      j["per_class"][label(t)] = row ? static_cast<double>(cm.counts[static_cast<size_t>(t * cm.n + t)]) / row : 0.0;
      j["confusion"].push_back(std::vector<int64_t>(cm.counts.begin() + t * cm.n, cm.counts.begin() + (t + 1) * cm.n));
    }
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::printf("model: %s\nimages: %lld (%zu failed)\ntop-1: %.2f%%\ntop-5: %.2f%%\n\n", m.origin().c_str(),
              static_cast<long long>(cm.total), failed, 100 * top1, 100 * top5);
  std::printf("| class | images | accuracy |\n|---|---:|---:|\n");
  for (int64_t t = 0; t < cm.n; ++t) {
    int64_t row = 0;
    for (int64_t p = 0; p < cm.n; ++p) row += cm.counts[static_cast<size_t>(t * cm.n + p)];
    std::printf("| %s | %lld | %.1f%% |\n", label(t).c_str(), static_cast<long long>(row),
                row ? 100.0 * cm.counts[static_cast<size_t>(t * cm.n + t)] / row : 0.0);
  }
  std::printf("\nconfusion matrix (rows: truth, columns: prediction)\n");
  for (int64_t t = 0; t < cm.n; ++t) {
    for (int64_t p = 0; p < cm.n; ++p) std::printf("%6lld", static_cast<long long>(cm.counts[static_cast<size_t>(t * cm.n + p)]));
    std::printf("   %s\n", label(t).c_str());
  }
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
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
  const auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::cout << opts.help({"", "model"})
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
  const auto engine = load_engine(args["model"].as<std::string>(), plan_from_options(args), ex);
  const Model& model = engine->model();
  const double t0 = now_seconds();

  if (!model.vocabulary().empty()) {  // a text model
    const TextScore s = score_text(engine, data, args["streams"].as<int>(), limit, ex);
    const double seconds = now_seconds() - t0;
    if (json)
      std::cout << nlohmann::json{{"model", model.origin()}, {"characters", s.characters},
                                  {"bits_per_character", s.bits_per_char},
                                  {"perplexity", std::exp2(s.bits_per_char)}, {"seconds", seconds}}.dump(1) << "\n";
    else
      std::printf("model: %s\ncharacters: %lld\nbits per character: %.4f\nperplexity (per character): %.4f\n",
                  model.origin().c_str(), static_cast<long long>(s.characters), s.bits_per_char,
                  std::exp2(s.bits_per_char));
    return 0;
  }

  if (model.inputs().size() != 1 || !model.inputs()[0].preprocessing)
    fail(model.origin(), "eval needs an image model (preprocessing) or a text model (vocabulary)");
  const Preprocessing& pre = *model.inputs()[0].preprocessing;
  Session session(engine);
  const int64_t classes = model.labels().empty() ? model.tensor_shape(model.output_ids()[0]).back()
                                                 : static_cast<int64_t>(model.labels().size());
  Confusion cm(classes);
  size_t failed = 0;

  if (ends_with(data, ".safetensors")) {
    const SafeTensorsFile st = SafeTensorsFile::load(data);
    const SafeTensor* im = st.find("images");
    const SafeTensor* lb = st.find("labels");
    if (!im || !lb) fail(data, "needs tensors 'images' (U8 N x C x H x W) and 'labels'");
    if (im->dtype != "U8" || im->shape.size() != 4) fail(data, "'images' must be U8 [N, C, H, W]");
    const Tensor labels = st.read_i32(*lb);
    const int64_t n = limit ? std::min(limit, im->shape[0]) : im->shape[0];
    if (labels.size() < n) fail(data, "fewer labels than images");
    const int64_t c = im->shape[1], h = im->shape[2], w = im->shape[3];
    const uint8_t* raw = st.raw(*im);
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      const int64_t b1 = std::min(n, b0 + batch);
      Tensor x({b1 - b0, pre.color == "gray" ? 1 : 3, pre.height, pre.width});
      const int64_t per = x.size() / (b1 - b0);
      for (int64_t i = b0; i < b1; ++i) {
        Image img;
        img.width = w;
        img.height = h;
        img.channels = static_cast<int>(c);
        img.pixels.resize(static_cast<size_t>(w * h * c));
        for (int64_t ch = 0; ch < c; ++ch)  // CHW -> interleaved
          for (int64_t p = 0; p < w * h; ++p)
            img.pixels[static_cast<size_t>(p * c + ch)] = raw[(i * c + ch) * w * h + p];
        preprocess(img, pre, x.f32() + (i - b0) * per);
      }
      const Tensor& y = *session.run({x}, ex)[0];
      for (int64_t i = b0; i < b1; ++i) cm.add(y.f32() + (i - b0) * classes, labels.i32()[i]);
    }
  } else {
    struct stat s {};
    if (stat(data.c_str(), &s) != 0) fail(data, "no such file or folder");
    Labelled set = S_ISDIR(s.st_mode) ? from_folders(model, data) : from_csv(model, data);
    for (const std::string& p : set.problems) std::fprintf(stderr, "bitlane eval: %s\n", p.c_str());
    failed += set.problems.size();
    if (limit && static_cast<int64_t>(set.files.size()) > limit) set.files.resize(static_cast<size_t>(limit));
    DecodedBatch decoded;
    for (size_t b0 = 0; b0 < set.files.size(); b0 += static_cast<size_t>(batch)) {
      const size_t b1 = std::min(set.files.size(), b0 + static_cast<size_t>(batch));
      decode_batch(set.files, b0, b1, pre, ex, decoded);
      for (const std::string& e : decoded.errors)
        if (!e.empty()) {
          std::fprintf(stderr, "bitlane eval: %s\n", e.c_str());
          ++failed;
        }
      if (decoded.ok.empty()) continue;
      const Tensor& y = *session.run({decoded.input}, ex)[0];
      for (size_t j = 0; j < decoded.ok.size(); ++j)
        cm.add(y.f32() + static_cast<int64_t>(j) * classes, set.labels[b0 + decoded.ok[j]]);
    }
  }
  report_images(model, cm, failed, now_seconds() - t0, json);
  return failed ? 1 : 0;
}

}  // namespace bitlane::cli
