// Calibration samples from what a user has, for --calibration on import, run,
// eval, bench and sweep: an image folder (decoded and preprocessed as the
// model's input says), a .safetensors file (its one tensor, or the one named
// "samples" or "images") or a NumPy .npy array. `count` samples are taken
// evenly spread over the source in its order (file names sorted), so the
// same source always gives the same samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "core/executor.h"
#include "core/tensor.h"
#include "runtime/engine.h"
#include "runtime/model.h"

namespace bitlane::cli {

inline constexpr int64_t kDefaultCalibrationSamples = 256;

std::vector<Tensor> calibration_samples(const Model& model, const std::string& source, int64_t count,
                                        const Executor& ex);

// Writes samples (float32) as a .safetensors file with the tensor "samples",
// which a model's "calibration" field can name.
void write_samples(const Tensor& samples, const std::string& path);

// --calibration / --calibration-samples / --calibration-cache, for the
// commands that build engines.
void add_calibration_options(cxxopts::Options& opts);
// The calibration cache folder of --calibration-cache and its defaults;
// empty when off (runtime/calibration_cache.h).
std::string calibration_cache_dir(const cxxopts::ParseResult& args);

// The usage error for a model without samples: "<what> calibration samples
// and MODEL names none: add --calibration ...".
[[noreturn]] void missing_calibration(const Model& model, const std::string& what);

// Engine options for `plan` (unset: the model's own): samples from
// --calibration when given; a quantized plan on a model that names no
// samples is a usage error saying which option to add.
EngineOptions engine_options(const cxxopts::ParseResult& args, const Model& model,
                             const std::optional<quant::QuantPlan>& plan, const Executor& ex);

}  // namespace bitlane::cli
