// Built-in backend for builds without oneTBB (fully static binaries, small
// devices): a fixed pool of std::threads doing fork-join over chunk indices.
// The calling thread works too; nested parallel_for calls run inline.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/executor.h"

namespace bitlane {

namespace {
thread_local bool t_inside_pool = false;
}

struct Executor::Backend {
  explicit Backend(int threads) {
    for (int i = 1; i < threads; ++i) workers.emplace_back([this] { worker_loop(); });
  }
  ~Backend() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
  }

  void run(size_t n, size_t grain, Body body, void* ctx) {
    std::lock_guard<std::mutex> serial(run_mu);  // one job at a time per pool
    size_t chunks = (n + grain - 1) / grain;
    {
      // A worker may still be leaving the previous job; let it go before the
      // job description is overwritten.
      std::unique_lock<std::mutex> lock(mu);
      finished.wait(lock, [&] { return active == 0; });
      job = Job{n, grain, chunks, body, ctx};
      next.store(0);
      done.store(0);
      error = nullptr;
      ++generation;
    }
    wake.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mu);
    finished.wait(lock, [&] { return done.load() == job.chunks && active == 0; });
    if (error) std::rethrow_exception(error);
  }

 private:
  struct Job {
    size_t n = 0, grain = 1, chunks = 0;
    Body body = nullptr;
    void* ctx = nullptr;
  };

  void work() {
    bool was_inside = t_inside_pool;
    t_inside_pool = true;
    for (;;) {
      size_t c = next.fetch_add(1);
      if (c >= job.chunks) break;
      size_t b = c * job.grain, e = std::min(job.n, b + job.grain);
      try {
        job.body(job.ctx, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == job.chunks) {
        std::lock_guard<std::mutex> lock(mu);
        finished.notify_all();
      }
    }
    t_inside_pool = was_inside;
  }

  void worker_loop() {
    size_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping) return;
        seen = generation;
        ++active;
      }
      work();
      {
        std::lock_guard<std::mutex> lock(mu);
        --active;
      }
      finished.notify_all();
    }
  }

  std::vector<std::thread> workers;
  std::mutex run_mu, mu;
  std::condition_variable wake, finished;
  Job job;
  std::atomic<size_t> next{0}, done{0};
  size_t generation = 0;
  int active = 0;
  bool stopping = false;
  std::exception_ptr error;
};

Executor::Executor(int threads)
    : threads_(threads <= 0 ? hardware_threads() : threads) {
  if (threads_ > 1) backend_ = std::make_unique<Backend>(threads_);
}

Executor::~Executor() = default;

const char* Executor::backend_name() { return "built-in pool"; }

void Executor::run(size_t n, size_t grain, Body body, void* ctx) const {
  if (t_inside_pool) {  // nested: the pool is busy with our parent job
    body(ctx, 0, n);
    return;
  }
  backend_->run(n, grain, body, ctx);
}

}  // namespace bitlane
