// A session runs an engine: one inference at a time, reusing its tensors
// between calls, and carrying stateful ops' state (streaming text) until
// reset(). Give each thread its own session; they share the engine.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "runtime/engine.h"
#include "runtime/graph_runner.h"
#include "runtime/micro_batch.h"

namespace bitlane {

class Session {
 public:
  explicit Session(std::shared_ptr<const Engine> engine);
  ~Session();

  // Runs the model on batch-first inputs (one per model input) and returns
  // its outputs, valid until the next call. A batch may run as micro-batches
  // (runtime/micro_batch.h), never with different results.
  const std::vector<const Tensor*>& run(const std::vector<Tensor>& inputs, const Executor& ex);
  // Forgets the state of stateful ops (LSTM h and c).
  void reset();
  // Called after every node (profiling); null to remove. While set, batches
  // run whole (the observer sees every node's whole tensors).
  void set_observer(GraphRunner::Observer observer) { observer_ = std::move(observer); }
  // Accumulates per-node run times (seconds), indexed like model().nodes().
  // Micro-batches running side by side add their times divided by how many
  // run at once, so the sum stays close to the call's time.
  void enable_profiling();
  const std::vector<double>& node_seconds() const { return node_seconds_; }
  // Counts MACs and term pairs per node (ops::LayerStats) from now on.
  void enable_stats();
  const std::vector<ops::LayerStats>& stats() const { return stats_; }
  const Engine& engine() const { return *engine_; }
  // How the last call split its batch.
  MicroBatches last_split() const { return last_split_; }

 private:
  // A graph runner for one micro-batch at a time, with its own tensors.
  struct Worker;
  void run_micro_batches(const std::vector<Tensor>& inputs, int64_t batch, const Executor& ex);
  std::unique_ptr<Worker> take_worker();
  void give_back(std::unique_ptr<Worker> w);

  std::shared_ptr<const Engine> engine_;
  GraphRunner runner_;
  GraphRunner::Observer observer_;
  std::vector<const Tensor*> outputs_;
  std::vector<double> node_seconds_;
  std::vector<ops::LayerStats> stats_;
  bool profiling_ = false, counting_ = false;
  MicroBatches last_split_;
  int64_t weight_bytes_ = 0;  // the engine's, for the micro-batch plan
  std::mutex workers_mutex_;
  std::vector<std::unique_ptr<Worker>> idle_;  // workers not running a micro-batch
  std::vector<std::vector<Tensor>> parts_;     // each micro-batch's outputs
  std::vector<Tensor> joined_;                 // the outputs of a split batch
};

}  // namespace bitlane
