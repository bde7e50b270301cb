// Executor: the one place where bitlane starts threads. Operators and kernels
// split their work with parallel_for; the executor decides how it runs
// (oneTBB task arena, or a small built-in pool when built without TBB).
//
// Determinism contract: parallel_for only decides *who* computes each index,
// never how a result is reduced, so callers that write each output from one
// index get identical results for every thread count.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace bitlane {

class Executor {
 public:
  // threads <= 0 means "all hardware threads". threads == 1 runs everything
  // inline on the calling thread and never starts a worker thread.
  explicit Executor(int threads = 1);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  int threads() const { return threads_; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n); chunks hold at
  // least `grain` indices (except the last). Returns when all are done.
  // Exceptions thrown by fn are rethrown here (the first one wins).
  template <class F>
  void parallel_for(size_t n, size_t grain, F&& fn) const {
    if (n == 0) return;
    if (threads_ == 1 || n <= grain) {
      fn(size_t{0}, n);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run(n, grain == 0 ? 1 : grain,
        [](void* ctx, size_t b, size_t e) { (*static_cast<Fn*>(ctx))(b, e); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // One shared executor that runs everything on the calling thread (work
  // too small to share, or already one of several side by side).
  static const Executor& inline_executor();

  // Number of hardware threads the process may use.
  static int hardware_threads();

  // "oneTBB" or "built-in pool".
  static const char* backend_name();

 private:
  using Body = void (*)(void*, size_t, size_t);
  void run(size_t n, size_t grain, Body body, void* ctx) const;

  struct Backend;
  int threads_;
  std::unique_ptr<Backend> backend_;
};

}  // namespace bitlane
