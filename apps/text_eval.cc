#include "apps/text_eval.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"

namespace bitlane::cli {

std::vector<int32_t> tokenize(const std::string& text, const std::vector<std::string>& vocabulary) {
  std::map<std::string, int32_t> index;
  for (size_t i = 1; i < vocabulary.size(); ++i) index.emplace(vocabulary[i], static_cast<int32_t>(i));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > text.size()) len = 1;  // truncated sequence: one unknown byte
    auto it = index.find(text.substr(i, len));
    ids.push_back(it == index.end() ? 0 : it->second);
    i += len;
  }
  return ids;
}

TextScore score_text(Session& session, const std::string& path, int streams, int64_t limit, const Executor& ex) {
  const std::vector<uint8_t> bytes = read_file(path);
  std::vector<int32_t> ids = tokenize(std::string(bytes.begin(), bytes.end()), session.engine().model().vocabulary());
  if (limit > 0 && static_cast<int64_t>(ids.size()) > limit) ids.resize(static_cast<size_t>(limit));
  if (streams < 1) fail("--streams", "must be at least 1");
  const int64_t len = static_cast<int64_t>(ids.size()) / streams;
  if (len < 2) fail(path, "too little text for " + std::to_string(streams) + " streams");
  session.reset();
  constexpr int64_t kChunk = 256;
  TextScore score;
  double nats = 0;
  for (int64_t t0 = 0; t0 < len - 1; t0 += kChunk) {
    const int64_t steps = std::min(kChunk, len - 1 - t0);
    Tensor x({streams, steps}, DType::kI32);
    for (int64_t s = 0; s < streams; ++s)
      for (int64_t t = 0; t < steps; ++t) x.i32()[s * steps + t] = ids[static_cast<size_t>(s * len + t0 + t)];
    const Tensor& y = *session.run({x}, ex)[0];
    const int64_t vocab = y.dim(2);
    for (int64_t s = 0; s < streams; ++s)
      for (int64_t t = 0; t < steps; ++t) {
        const float* row = y.f32() + (s * steps + t) * vocab;
        const double mx = *std::max_element(row, row + vocab);
        double sum = 0;
        for (int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - mx);
        const int32_t next = ids[static_cast<size_t>(s * len + t0 + t + 1)];
        nats += std::log(sum) + mx - row[next];
        ++score.characters;
      }
  }
  score.bits_per_char = nats / static_cast<double>(score.characters) / std::log(2.0);
  return score;
}

}  // namespace bitlane::cli
