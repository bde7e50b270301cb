// bitlane bench's note where a plan narrower than 8 bits is not faster than
// 8 bits: which kernels each ran on, and so why. A note is a claim about
// the code, so it must survive the host's noise: the first comparison (the
// fastest runs of each plan's own timing, measured one plan after the other)
// only nominates a pair, and the pair is timed again in alternation (run A,
// run B, A, B, ...) so both see the same moments of a shared machine; the
// note is printed only if the narrower plan is still more than 5% slower.
// On a busy host the sequential minima alone put 2 bits 6% behind 8 on the
// MLP (0.124 vs 0.117 ms) where six interleaved rounds put them level.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bitlane::cli {

struct WidthRun {
  std::string plan;     // as given: "4", "w4a8", ...
  int bits = 0;         // the narrower of its weight and activation widths; 0: not quantized
  int threads = 0, batch = 0;
  std::string micro;    // --micro-batch's value
  double min_ms = 0;    // fastest of its own timed runs
  std::string kernels;  // "int8", "int4+int8", ...
  std::string scheme;   // "uniform", "term", ... (the plan's default layers)
};

// Times runs[narrow] and runs[eight] again, alternating, and returns their
// fastest runs in ms, in that order.
using Retime = std::function<std::pair<double, double>(size_t narrow, size_t eight)>;

// The notes (empty if none), one line each, for every plan of 1..7 bits
// against the "8" plan of the same threads, batch and micro-batches.
std::string width_notes(const std::vector<WidthRun>& runs, const Retime& retime);

}  // namespace bitlane::cli
