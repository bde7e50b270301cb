// Scoring a character-level language model on a text file: bits per
// character, as the training script computes them (the text cut into
// parallel streams, state carried from chunk to chunk).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/executor.h"
#include "runtime/session.h"

namespace bitlane::cli {

struct TextScore {
  int64_t characters = 0;  // predictions scored
  double bits_per_char = 0;
};

// The ids of the text's characters in the model's vocabulary (UTF-8; any
// character outside it becomes id 0).
std::vector<int32_t> tokenize(const std::string& text, const std::vector<std::string>& vocabulary);

// Runs on the caller's session (so it can collect stats); resets its state first.
TextScore score_text(Session& session, const std::string& path, int streams, int64_t limit, const Executor& ex);

}  // namespace bitlane::cli
