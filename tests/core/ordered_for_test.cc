// ordered_for's contract (core/ordered_for.h), checked by recording what
// every call saw: each item worked and finished once, finishes in order and
// one at a time, never more than `window` items between work and finish,
// a worker index never used by two calls at once, exceptions from either
// side reaching the caller without a hang. TSan runs this suite in CI.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/ordered_for.h"

using bitlane::Executor;
using bitlane::ordered_for;

namespace {

struct Record {
  std::vector<std::atomic<int>> worked, finished_when_work_began;
  std::vector<size_t> finish_order;
  std::atomic<size_t> finished{0};  // finishes so far (finish runs one at a time)
  std::vector<std::atomic<int>> worker_busy;
  std::atomic<bool> bad_worker{false}, overlap{false}, finish_before_work{false}, finishes_overlap{false};
  std::atomic<int> finishing{0};
  Record(size_t n, size_t workers) : worked(n), finished_when_work_began(n), worker_busy(workers) {}
};

void run_recorded(const Executor& ex, size_t n, size_t window, Record& r) {
  ordered_for(
      ex, n, window,
      [&](size_t i, size_t w) {
        if (w >= r.worker_busy.size()) {
          r.bad_worker = true;
          return;
        }
        if (r.worker_busy[w].exchange(1)) r.overlap = true;
        r.finished_when_work_began[i] = static_cast<int>(r.finished.load());
        // Uneven work, so items complete out of order.
        if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        r.worked[i].fetch_add(1);
        r.worker_busy[w] = 0;
      },
      [&](size_t i) {
        if (r.finishing.fetch_add(1) != 0) r.finishes_overlap = true;
        if (r.worked[i].load() != 1) r.finish_before_work = true;
        r.finish_order.push_back(i);
        r.finished.fetch_add(1);
        r.finishing.fetch_sub(1);
      });
}

}  // namespace

TEST_CASE("ordered_for: each item worked once, finished once and in order, within the window") {
  for (int threads : {1, 2, 4}) {
    const Executor ex(threads);
    for (size_t n : {0, 1, 2, 5, 64}) {
      for (size_t window : {0, 1, 2, 3, 8}) {
        INFO("threads " << threads << ", n " << n << ", window " << window);
        Record r(n, static_cast<size_t>(threads));
        run_recorded(ex, n, window, r);
        CHECK(!r.bad_worker);
        CHECK(!r.overlap);
        CHECK(!r.finish_before_work);
        CHECK(!r.finishes_overlap);
        std::vector<size_t> in_order(n);
        for (size_t i = 0; i < n; ++i) in_order[i] = i;
        CHECK(r.finish_order == in_order);
        const size_t w = std::max<size_t>(window, 1);
        for (size_t i = 0; i < n; ++i) {
          CHECK(r.worked[i].load() == 1);
          // work(i) began after finish(i - window) returned: slot i % window was free.
          if (i >= w) CHECK(static_cast<size_t>(r.finished_when_work_began[i].load()) >= i - w + 1);
        }
      }
    }
  }
}

TEST_CASE("ordered_for: an exception from work or finish reaches the caller, nothing hangs") {
  for (int threads : {1, 2, 4}) {
    const Executor ex(threads);
    for (size_t bad : {0, 3, 40}) {
      INFO("threads " << threads << ", failing item " << bad);
      std::atomic<size_t> works{0}, finishes{0};
      CHECK_THROWS_WITH_AS(ordered_for(
                               ex, 64, 4,
                               [&](size_t i, size_t) {
                                 works.fetch_add(1);
                                 std::this_thread::sleep_for(std::chrono::microseconds(20));  // all threads join in
                                 if (i == bad) throw std::runtime_error("work " + std::to_string(i));
                               },
                               [&](size_t) { finishes.fetch_add(1); }),
                           ("work " + std::to_string(bad)).c_str(), std::runtime_error);
      CHECK(finishes.load() <= bad);  // items from the failing one on are never finished
      CHECK(works.load() <= bad + 4);  // nothing claimed past the window after the failure
      CHECK_THROWS_WITH_AS(ordered_for(
                               ex, 64, 4, [](size_t, size_t) {},
                               [&](size_t i) {
                                 if (i == bad) throw std::runtime_error("finish " + std::to_string(i));
                               }),
                           ("finish " + std::to_string(bad)).c_str(), std::runtime_error);
      // The executor still runs the next job.
      Record r(10, static_cast<size_t>(threads));
      run_recorded(ex, 10, 2, r);
      CHECK(r.finish_order.size() == 10);
    }
  }
}
