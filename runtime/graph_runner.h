// Runs a model's graph with a given set of operators: sizes the tensors,
// calls the ops level by level (nodes of one level in parallel), and offers
// an observer hook (calibration, profiling). Used by Session and by the
// engine's calibration; not part of the public API.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "ops/op.h"
#include "runtime/model.h"

namespace bitlane {

class Executor;

class GraphRunner {
 public:
  using Observer = std::function<void(int node, const std::vector<const Tensor*>& in,
                                      const std::vector<Tensor*>& out)>;

  GraphRunner(const Model& model, const std::vector<std::unique_ptr<ops::Op>>& ops);

  // Checks the inputs against the model's input specs and runs every node.
  void run(const std::vector<Tensor>& inputs, const Executor& ex, bool reference,
           const Observer& observer = nullptr);
  // Checks the inputs against the model's input specs; returns their batch.
  int64_t check_inputs(const std::vector<Tensor>& inputs) const;
  // Runs every node on samples [first, first + count) of checked inputs.
  void run_samples(const std::vector<Tensor>& inputs, int64_t first, int64_t count, const Executor& ex,
                   bool reference, const Observer& observer = nullptr);
  const Tensor& tensor(int id) const { return tensors_[static_cast<size_t>(id)]; }
  void reset_state();
  // When set, each node's run time (seconds) is added to (*seconds)[node].
  void set_timing(std::vector<double>* seconds) { timing_ = seconds; }
  // When set, ops count what they compute into (*stats)[node].
  void set_stats(std::vector<ops::LayerStats>* stats) { stats_ = stats; }

 private:
  void run_node(int index, const Executor& ex, bool reference, const Observer& observer);

  const Model& model_;
  const std::vector<std::unique_ptr<ops::Op>>& ops_;
  std::vector<Tensor> tensors_;
  std::vector<std::unique_ptr<ops::OpState>> states_;
  std::vector<double>* timing_ = nullptr;
  std::vector<ops::LayerStats>* stats_ = nullptr;
};

}  // namespace bitlane
