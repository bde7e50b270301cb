// oneTBB backend: one task arena per executor, so an executor's thread count
// is a hard limit even when several executors live in one process.
#include <algorithm>
#include <memory>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "core/executor.h"

namespace bitlane {

struct Executor::Backend {
  explicit Backend(int threads)
      : more_than_cores(threads > tbb::this_task_arena::max_concurrency()
                            ? std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                                    static_cast<size_t>(threads))
                            : nullptr),
        arena(threads) {}
  // More threads than the process may use (`--threads 3` on 2 cores): oneTBB
  // caps its workers at the cores and printed "TBB Warning: The number of
  // workers is currently limited to 1" on the user's terminal, running fewer
  // threads than asked. Raising the cap while this executor lives gives the
  // threads asked for (results never depend on how many run). Of several
  // such executors alive at once, oneTBB applies the smallest cap.
  std::unique_ptr<tbb::global_control> more_than_cores;  // before the arena: outlives it
  tbb::task_arena arena;
};

Executor::Executor(int threads)
    : threads_(threads <= 0 ? hardware_threads() : threads) {
  if (threads_ > 1) backend_ = std::make_unique<Backend>(threads_);
}

Executor::~Executor() = default;

const char* Executor::backend_name() { return "oneTBB"; }

void Executor::run(size_t n, size_t grain, Body body, void* ctx) const {
  backend_->arena.execute([&] {
    // Isolated: a thread waiting for this loop's chunks only runs chunks of
    // this loop, never an outer task (another graph branch) that could reuse
    // the thread_local scratch buffers the waiting caller still holds.
    tbb::this_task_arena::isolate([&] {
      // Chunks of exactly `grain` indices (the last one shorter), the same
      // boundaries as the built-in pool: they never depend on timing or on
      // the backend, which keeps per-chunk scratch use reproducible. TBB
      // only decides which thread runs which run of chunks: the auto
      // partitioner hands out a few runs per thread and splits them only
      // when a thread steals, where the simple one made a task per chunk
      // (a 3x3 conv of ResNet: 1045 chunks of 0.2 us, and their completions
      // contending on one counter were 9% of a 2-thread run).
      const size_t chunks = (n + grain - 1) / grain;
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, chunks, 1),
          [&](const tbb::blocked_range<size_t>& r) {
            for (size_t c = r.begin(); c != r.end(); ++c) body(ctx, c * grain, std::min(n, (c + 1) * grain));
          },
          tbb::auto_partitioner());
    });
  });
}

}  // namespace bitlane
