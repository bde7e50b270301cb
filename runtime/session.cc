#include "runtime/session.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/cpu_info.h"
#include "core/error.h"
#include "core/executor.h"

namespace bitlane {

struct Session::Worker {
  Worker(const Engine& e) : runner(e.model(), e.ops()) {}
  GraphRunner runner;
  std::vector<double> seconds;  // this worker's node times, when profiling
  std::thread::id last_thread;  // the thread that ran it last
};

Session::Session(std::shared_ptr<const Engine> engine)
    : engine_(std::move(engine)), runner_(engine_->model(), engine_->ops()), weight_bytes_(engine_->weight_bytes()) {}

Session::~Session() = default;

void Session::enable_profiling() {
  profiling_ = true;
  node_seconds_.assign(engine_->model().nodes().size(), 0.0);
  runner_.set_timing(&node_seconds_);
}

void Session::enable_stats() {
  counting_ = true;
  stats_ = std::vector<ops::LayerStats>(engine_->model().nodes().size());
  runner_.set_stats(&stats_);
  for (auto& w : idle_) w->runner.set_stats(&stats_);  // the counters are atomic
}

const std::vector<const Tensor*>& Session::run(const std::vector<Tensor>& inputs, const Executor& ex) {
  static const int64_t cache = l2_cache_bytes();
  const int64_t batch = runner_.check_inputs(inputs);
  last_split_ = observer_ ? MicroBatches{batch, 1}
                          : plan_micro_batches(batch, ex.threads(), engine_->sample_bytes(), weight_bytes_,
                                               cache, engine_->micro_batch());
  outputs_.clear();
  if (last_split_.count > 1) {
    run_micro_batches(inputs, batch, ex);
    for (const Tensor& t : joined_) outputs_.push_back(&t);
  } else {
    runner_.run_samples(inputs, 0, batch, ex, engine_->reference_kernels(), observer_);
    for (int id : engine_->model().output_ids()) outputs_.push_back(&runner_.tensor(id));
  }
  return outputs_;
}

// A thread takes back the worker it ran last when that one is idle: its
// tensors are still in this core's caches. Handed to the other thread, the
// first micro-batch of a call on each side fetched them from the other core
// -- ResNet at 2 threads took 1.29 instead of 1.15 ms per call in about half
// of the calls (whenever the order in which the threads finished flipped).
std::unique_ptr<Session::Worker> Session::take_worker() {
  const std::thread::id me = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(workers_mutex_);
    if (!idle_.empty()) {
      auto it = std::find_if(idle_.begin(), idle_.end(), [&](const auto& w) { return w->last_thread == me; });
      if (it == idle_.end()) it = idle_.end() - 1;
      auto w = std::move(*it);
      idle_.erase(it);
      w->last_thread = me;
      return w;
    }
  }
  auto w = std::make_unique<Worker>(*engine_);
  if (counting_) w->runner.set_stats(&stats_);
  w->last_thread = me;
  return w;
}

void Session::give_back(std::unique_ptr<Worker> w) {
  std::lock_guard<std::mutex> lock(workers_mutex_);
  idle_.push_back(std::move(w));
}

// Micro-batches go to the executor's threads; each runs the whole graph on
// one thread (an inline executor inside), and its outputs are copied out
// before the worker takes the next one.
void Session::run_micro_batches(const std::vector<Tensor>& inputs, int64_t batch, const Executor& ex) {
  const MicroBatches m = last_split_;
  const auto& ids = engine_->model().output_ids();
  parts_.resize(static_cast<size_t>(m.count));
  ex.parallel_for(static_cast<size_t>(m.count), 1, [&](size_t b, size_t e) {
    struct Lease {  // returns the worker also when a node throws
      Session& s;
      std::unique_ptr<Worker> w;
      ~Lease() { s.give_back(std::move(w)); }
    } lease{*this, take_worker()};
    Worker& w = *lease.w;
    if (profiling_) {
      w.seconds.assign(node_seconds_.size(), 0.0);
      w.runner.set_timing(&w.seconds);
    } else {
      w.runner.set_timing(nullptr);
    }
    for (size_t c = b; c < e; ++c) {
      const int64_t first = static_cast<int64_t>(c) * m.size, count = std::min(m.size, batch - first);
      w.runner.run_samples(inputs, first, count, Executor::inline_executor(), engine_->reference_kernels());
      auto& part = parts_[c];
      part.resize(ids.size());
      for (size_t o = 0; o < ids.size(); ++o) {
        const Tensor& y = w.runner.tensor(ids[o]);
        part[o].resize(y.shape(), y.dtype());
        std::memcpy(part[o].data(), y.data(), static_cast<size_t>(y.size()) * dtype_size(y.dtype()));
      }
    }
    if (profiling_) {
      const double side_by_side = static_cast<double>(std::min<int64_t>(ex.threads(), m.count));
      std::lock_guard<std::mutex> lock(workers_mutex_);
      for (size_t i = 0; i < w.seconds.size(); ++i) node_seconds_[i] += w.seconds[i] / side_by_side;
    }
  });
  joined_.resize(ids.size());
  for (size_t o = 0; o < ids.size(); ++o) {
    Shape s = parts_[0][o].shape();
    s[0] = batch;
    joined_[o].resize(s, parts_[0][o].dtype());
    size_t at = 0;
    for (size_t c = 0; c < parts_.size(); ++c) {
      const Tensor& p = parts_[c][o];
      const int64_t samples = std::min(m.size, batch - static_cast<int64_t>(c) * m.size);
      if (p.rank() != static_cast<int>(s.size()) || p.dim(0) != samples ||
          !std::equal(s.begin() + 1, s.end(), p.shape().begin() + 1))
        fail(engine_->model().origin(), "micro-batches gave outputs of shapes " + shape_str(parts_[0][o].shape()) +
                                            " and " + shape_str(p.shape()) + " (an op mixes samples?)");
      const size_t bytes = static_cast<size_t>(p.size()) * dtype_size(p.dtype());
      std::memcpy(static_cast<uint8_t*>(joined_[o].data()) + at, p.data(), bytes);
      at += bytes;
    }
  }
}

void Session::reset() { runner_.reset_state(); }

}  // namespace bitlane
