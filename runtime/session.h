// A session runs an engine: one inference at a time, reusing its tensors
// between calls, and carrying stateful ops' state (streaming text) until
// reset(). Give each thread its own session; they share the engine.
#pragma once

#include <memory>
#include <vector>

#include "runtime/engine.h"
#include "runtime/graph_runner.h"

namespace bitlane {

class Session {
 public:
  explicit Session(std::shared_ptr<const Engine> engine);

  // Runs the model on batch-first inputs (one per model input) and returns
  // its outputs, valid until the next call.
  const std::vector<const Tensor*>& run(const std::vector<Tensor>& inputs, const Executor& ex);
  // Forgets the state of stateful ops (LSTM h and c).
  void reset();
  // Called after every node (profiling); null to remove.
  void set_observer(GraphRunner::Observer observer) { observer_ = std::move(observer); }
  // Accumulates per-node run times (seconds), indexed like model().nodes().
  void enable_profiling() {
    node_seconds_.assign(engine_->model().nodes().size(), 0.0);
    runner_.set_timing(&node_seconds_);
  }
  const std::vector<double>& node_seconds() const { return node_seconds_; }
  // Counts MACs and term pairs per node (ops::LayerStats) from now on.
  void enable_stats() {
    stats_ = std::vector<ops::LayerStats>(engine_->model().nodes().size());
    runner_.set_stats(&stats_);
  }
  const std::vector<ops::LayerStats>& stats() const { return stats_; }
  const Engine& engine() const { return *engine_; }

 private:
  std::shared_ptr<const Engine> engine_;
  GraphRunner runner_;
  GraphRunner::Observer observer_;
  std::vector<const Tensor*> outputs_;
  std::vector<double> node_seconds_;
  std::vector<ops::LayerStats> stats_;
};

}  // namespace bitlane
