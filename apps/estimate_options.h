// The systolic-array options shared by `bitlane estimate` and `sweep`.
#pragma once

#include <cxxopts.hpp>

#include "runtime/estimate/estimate.h"

namespace bitlane::cli {

// `batch_option` names the items-per-fold option ("batch" for estimate,
// "array-batch" for sweep, whose --batch is the evaluation's).
void add_estimate_options(cxxopts::Options& opts, const std::string& batch_option = "batch");
// Reads --array, --dataflow, --clock, --pe, --energy and the batch option
// (usage errors for bad values).
estimate::EstimateOptions estimate_options(const cxxopts::ParseResult& args,
                                           const std::string& batch_option = "batch");

// "200MHz", "1.5GHz", "800kHz", "5e8" (Hz).
double parse_frequency(const std::string& s);

}  // namespace bitlane::cli
