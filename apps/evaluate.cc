#include "apps/evaluate.h"

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "apps/cli_common.h"
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
  std::vector<InputFile> files;
  std::vector<int64_t> labels;
  std::vector<std::string> problems;
};

Labelled from_folders(const Model& m, const std::string& dir) {
  Labelled out;
  const InputWalk walk = collect_inputs({dir});
  out.problems = walk.problems;
  for (const InputFile& file : walk.files) {
    const std::string& f = file.path;
    // The class is the first folder below DATA.
    const std::string rel = f.substr(dir.size() + (dir.back() == '/' ? 0 : 1));
    const size_t slash = rel.find('/');
    if (slash == std::string::npos) {
      out.problems.push_back(f + ": not inside a class folder");
      continue;
    }
    out.files.push_back(file);
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
    out.files.push_back(listed_file(file[0] == '/' ? file : base + file));
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

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

EvalResult evaluate(const std::shared_ptr<const Engine>& engine, const std::string& data,
                    const EvalOptions& options, const Executor& ex) {
  const Model& model = engine->model();
  const double t0 = now_seconds();
  const int batch = options.batch;
  const int64_t limit = options.limit;
  Session session(engine);
  if (options.count_pairs) session.enable_stats();
  EvalResult result;
  auto finish = [&] {
    result.seconds = now_seconds() - t0;
    if (options.count_pairs)
      for (const ops::LayerStats& s : session.stats())
        result.layers.push_back({s.macs.load(), s.pairs.load(), s.regions.load(), s.sensitive.load()});
    return result;
  };
  if (!model.vocabulary().empty()) {  // a text model
    const TextScore s = score_text(session, data, options.streams, limit, ex);
    result.text = true;
    result.samples = s.characters;
    result.bits_per_char = s.bits_per_char;
    return finish();
  }
  if (model.inputs().size() != 1 || !model.inputs()[0].preprocessing)
    fail(model.origin(), "evaluation needs an image model (preprocessing) or a text model (vocabulary)");
  const Preprocessing& pre = *model.inputs()[0].preprocessing;
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
    const std::vector<uint8_t> raw = st.read_bytes(*im);
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      const int64_t b1 = std::min(n, b0 + batch);
      Shape shape{b1 - b0};  // [C, H, W] or flat [C*H*W], as the input says
      shape.insert(shape.end(), model.inputs()[0].shape.begin(), model.inputs()[0].shape.end());
      Tensor x(shape);
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
      decode_batch(set.files, b0, b1, model.inputs()[0], ex, decoded);
      for (const std::string& e : decoded.errors)
        if (!e.empty()) {
          std::fprintf(stderr, "bitlane eval: %s\n", e.c_str());
          ++failed;
        }
      if (decoded.ok.empty()) continue;
      const Tensor& y = *session.run(decoded.inputs, ex)[0];
      for (size_t j = 0; j < decoded.ok.size(); ++j)
        cm.add(y.f32() + static_cast<int64_t>(j) * classes, set.labels[b0 + decoded.ok[j]]);
    }
  }
  result.samples = cm.total;
  result.failed = failed;
  result.top1 = cm.total ? static_cast<double>(cm.top1) / static_cast<double>(cm.total) : 0;
  result.top5 = cm.total ? static_cast<double>(cm.top5) / static_cast<double>(cm.total) : 0;
  result.classes = classes;
  result.confusion = cm.counts;
  return finish();
}

}  // namespace bitlane::cli
