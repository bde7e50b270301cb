// Evaluating a model on labelled data (shared by eval and sweep): class
// folders, a path,label CSV, a .safetensors set (U8 images + labels), or, for
// text models, a UTF-8 text file scored in bits per character.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/executor.h"
#include "runtime/engine.h"

namespace bitlane::cli {

struct EvalOptions {
  int batch = 64;
  int streams = 16;       // text: parallel streams
  int64_t limit = 0;      // at most this many samples (0 = all)
  bool count_pairs = false;  // collect per-layer MACs and term pairs
  bool report_failures = true;
};

struct LayerCount {
  int64_t macs = 0, pairs = 0, regions = 0, sensitive = 0;
};

struct EvalResult {
  bool text = false;
  int64_t samples = 0;       // images, or characters predicted
  size_t failed = 0;
  double top1 = 0, top5 = 0;  // images
  int64_t classes = 0;
  std::vector<int64_t> confusion;  // [truth][prediction]
  double bits_per_char = 0;        // text
  double seconds = 0;
  std::vector<LayerCount> layers;  // per node, with count_pairs
};

EvalResult evaluate(const std::shared_ptr<const Engine>& engine, const std::string& data,
                    const EvalOptions& options, const Executor& ex);

}  // namespace bitlane::cli
