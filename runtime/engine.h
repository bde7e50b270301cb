// An engine: a model's operators built for one quantization plan, weights
// quantized and packed once, activation ranges calibrated on sample inputs.
// Immutable after build; any number of Sessions (one per thread) run it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ops/op.h"
#include "quant/plan.h"
#include "runtime/model.h"

namespace bitlane {

class Executor;

struct EngineOptions {
  // The plan to apply; unset means the model's own plan (fp32 if it has none).
  std::optional<quant::QuantPlan> plan;
  // Calibration inputs (one tensor per model input, batch first); empty means
  // the samples the model names in "calibration".
  std::vector<Tensor> calibration;
  // Integer layers use the scalar reference GEMM and pass floats between
  // layers (tests: the fast, fused path must be bit-exact with it).
  bool reference_kernels = false;
  // Layers pass floats between them even where they could pass integers
  // (tests: the hand-over must not change a bit).
  bool float_handover = false;
  // Samples per micro-batch in Session::run (runtime/micro_batch.h): 0
  // chooses from the cache size and the threads, < 0 runs every batch whole.
  int64_t micro_batch = 0;
  // A directory that keeps min/max calibration results between builds
  // (runtime/calibration_cache.h); empty: calibrate every time.
  std::string calibration_cache;
};

class Engine {
 public:
  static std::shared_ptr<const Engine> build(std::shared_ptr<const Model> model,
                                             const EngineOptions& options, const Executor& ex);

  const Model& model() const { return *model_; }
  const quant::QuantPlan& plan() const { return plan_; }
  bool reference_kernels() const { return reference_; }
  const std::vector<std::unique_ptr<ops::Op>>& ops() const { return ops_; }
  // Bytes of the largest tensor of one sample; 0 when a batch cannot be
  // split into micro-batches (a stateful op carries state across calls).
  int64_t sample_bytes() const { return sample_bytes_; }
  // Bytes of all layers' weights at the plan (Op::weight_bytes).
  int64_t weight_bytes() const;
  int64_t micro_batch() const { return micro_batch_; }

 private:
  std::shared_ptr<const Model> model_;
  std::vector<std::unique_ptr<ops::Op>> ops_;
  quant::QuantPlan plan_;
  bool reference_ = false;
  int64_t sample_bytes_ = 0, micro_batch_ = 0;
};

// The calibration samples a model names, preprocessed like its inputs
// (bytes of images are scaled and normalised), one tensor per input.
std::vector<Tensor> load_calibration(const Model& model);
// The file whose samples those are: "calibration"."file" resolved against
// the model's folder; empty when the model names none.
std::string calibration_file(const Model& model);
// The same from a tensor of a .safetensors file already loaded or parsed.
class SafeTensorsFile;
std::vector<Tensor> calibration_from(const Model& model, const SafeTensorsFile& file, const std::string& tensor);
// Samples from a tensor read elsewhere (origin names it in errors): U8 pixels
// are preprocessed like images (scale, mean, std); images reshape to a flat
// input of as many values; the shape must fit [N] + the input's shape.
std::vector<Tensor> calibration_tensor(const Model& model, Tensor x, bool u8_pixels, const std::string& origin);

}  // namespace bitlane
