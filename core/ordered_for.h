// ordered_for: a pipeline over items [0, n) -- each item worked on by any of
// an executor's threads, then finished on one thread at a time, in index
// order (`bitlane run`: decode, infer and format a batch of images anywhere,
// write its lines in file order).
//
// Why not rounds of parallel_for with the writing in between: every round
// ends in a barrier, so the faster thread waits for the slower batch (file
// reads vary) and for the serial writing; perf showed ~20% of a 2-thread run
// spinning in the scheduler. LeNet at 4 bits, 30,000 images, 2 threads:
// 108-116k images/s in rounds, 116-125k through this pipeline (interleaved
// runs, bench/README.md, sixteenth session).
//
// Contract:
// - work(i, worker) runs once per item; `worker` is in [0, ex.threads()) and
//   no two calls with the same worker overlap (per-worker state: sessions,
//   decode buffers).
// - finish(i) runs once per item, in order of i, never two at once, after
//   work(i) returned. It runs on whichever thread completed the run of items.
// - At most `window` items are between the start of their work and the end
//   of their finish: work(i) starts only after finish(i - window) returned,
//   so per-item state can live in slot i % window.
// - The first exception from work or finish stops the claiming of new items
//   and is rethrown to the caller once the items in progress are done; items
//   after it may then not be finished.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "core/executor.h"

namespace bitlane {

template <class Work, class Finish>
void ordered_for(const Executor& ex, size_t n, size_t window, Work&& work, Finish&& finish) {
  if (n == 0) return;
  window = std::max<size_t>(window, 1);
  std::mutex mu;
  std::condition_variable claimable;
  size_t next = 0;                   // the next item to claim
  size_t finished = 0;               // items [0, finished) are finished
  bool failed = false;               // stop claiming
  std::vector<char> worked(window);  // per slot: work done, finish pending

  auto worker_loop = [&](size_t worker) {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mu);
        claimable.wait(lock, [&] { return failed || next >= n || next < finished + window; });
        if (failed || next >= n) return;
        i = next++;
      }
      try {
        work(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        failed = true;
        claimable.notify_all();
        throw;
      }
      // Finish what is ready. Item `finished` is taken (its flag cleared)
      // under the lock and `finished` moves on only after its finish
      // returned, so no other thread can start a finish meanwhile: a thread
      // that completes a later item finds the flag of `finished` clear and
      // goes back to claiming, and the finishing thread reaches its item.
      std::unique_lock<std::mutex> lock(mu);
      worked[i % window] = 1;
      while (!failed && finished < n && worked[finished % window]) {
        const size_t f = finished;
        worked[f % window] = 0;
        lock.unlock();
        try {
          finish(f);
        } catch (...) {
          lock.lock();
          failed = true;
          claimable.notify_all();
          throw;
        }
        lock.lock();
        ++finished;
        claimable.notify_all();
      }
    }
  };
  const size_t workers = static_cast<size_t>(ex.threads());
  ex.parallel_for(workers, 1, [&](size_t w0, size_t w1) {
    for (size_t w = w0; w < w1; ++w) worker_loop(w);
  });
}

}  // namespace bitlane
