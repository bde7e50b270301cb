// bitlane bench's width note (apps/width_note.h): which pairs it compares,
// that a pair the first timing nominates is timed again and the note follows
// only the second timing, and what the note says -- with timings handed in,
// so nothing here depends on the machine's speed.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "apps/width_note.h"

using bitlane::cli::WidthRun;
using bitlane::cli::width_notes;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("width note: a plan within 5% of 8 bits, fp32 and 8 bits themselves are not timed again") {
  const std::vector<WidthRun> runs = {{"fp32", 0, 1, 64, "auto", 9.0, "", "fp32"},
                                      {"8", 8, 1, 64, "auto", 1.00, "int8", "uniform"},
                                      {"4", 4, 1, 64, "auto", 1.05, "int8", "uniform"}};
  int calls = 0;
  const std::string notes = width_notes(runs, [&](size_t, size_t) {
    ++calls;
    return std::pair{2.0, 1.0};
  });
  CHECK(notes.empty());
  CHECK(calls == 0);
}

TEST_CASE("width note: the pair is timed again in turns, and a slower first timing alone prints nothing") {
  const std::vector<WidthRun> runs = {{"8", 8, 2, 64, "auto", 1.00, "int8", "uniform"},
                                      {"2", 2, 2, 64, "auto", 1.10, "int4+int8", "uniform"}};
  std::vector<std::pair<size_t, size_t>> asked;
  const std::string notes = width_notes(runs, [&](size_t narrow, size_t eight) {
    asked.emplace_back(narrow, eight);
    return std::pair{1.02, 1.00};  // level when taken in turns: noise
  });
  CHECK(notes.empty());
  REQUIRE(asked.size() == 1);
  CHECK(asked[0] == std::pair<size_t, size_t>{1, 0});
}

TEST_CASE("width note: confirmed, it gives the second timing and the kernels' reason") {
  const std::vector<WidthRun> runs = {{"8", 8, 1, 64, "auto", 1.00, "int8", "uniform"},
                                      {"4", 4, 1, 64, "auto", 1.20, "int8", "uniform"},
                                      {"2", 2, 1, 64, "auto", 1.30, "int4+int8", "uniform"}};
  const std::string notes = width_notes(runs, [&](size_t narrow, size_t) {
    return narrow == 1 ? std::pair{1.250, 1.000} : std::pair{1.400, 1.010};
  });
  CHECK(has(notes, "plan 4 is not faster than 8 bits at 1 thread(s), batch 64 (fastest of runs taken in turns: "
                   "1.250 vs 1.000 ms): both run on int8, whose cost per multiply-accumulate does not depend"));
  CHECK(has(notes, "plan 2 is not faster than 8 bits at 1 thread(s), batch 64 (fastest of runs taken in turns: "
                   "1.400 vs 1.010 ms): it runs on int4+int8, 8 bits on int8"));
}

TEST_CASE("width note: only the 8-bit run of the same threads, batch and micro-batches is the baseline") {
  const std::vector<WidthRun> runs = {{"8", 8, 1, 64, "auto", 1.00, "int8", "uniform"},
                                      {"4", 4, 2, 64, "auto", 1.50, "int8", "uniform"},    // 2 threads
                                      {"4", 4, 1, 1, "auto", 1.50, "int8", "uniform"},     // batch 1
                                      {"4", 4, 1, 64, "off", 1.50, "int8", "uniform"},     // whole batches
                                      {"w8a4", 4, 1, 64, "auto", 1.50, "int8", "uniform"}};  // this one is compared
  std::vector<std::pair<size_t, size_t>> asked;
  const std::string notes = width_notes(runs, [&](size_t narrow, size_t eight) {
    asked.emplace_back(narrow, eight);
    return std::pair{1.5, 1.0};
  });
  REQUIRE(asked.size() == 1);
  CHECK(asked[0] == std::pair<size_t, size_t>{4, 0});
  CHECK(has(notes, "plan w8a4 is not faster than 8 bits"));
}

TEST_CASE("width note: a scheme other than 8 bits' is named as the reason before the kernels") {
  const std::vector<WidthRun> runs = {{"8", 8, 1, 64, "auto", 0.33, "int8", "uniform"},
                                      {"scheme=term,w4a4", 4, 1, 64, "auto", 1.50, "int8", "term"}};
  const std::string notes = width_notes(runs, [](size_t, size_t) { return std::pair{1.535, 0.336}; });
  CHECK(has(notes, "plan scheme=term,w4a4 is not faster than 8 bits at 1 thread(s), batch 64 (fastest of runs "
                   "taken in turns: 1.535 vs 0.336 ms): its scheme (term) adds run-time work"));
  CHECK(!has(notes, "both run on"));
}
