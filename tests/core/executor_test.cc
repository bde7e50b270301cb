// The scheduler's contract (core/executor.h), on whichever backend this build
// has (oneTBB or the built-in pool): every index exactly once, in chunks of
// at least `grain`, exceptions from workers rethrown to the caller, nesting,
// and many jobs and executors at once. TSan runs this suite in CI.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/executor.h"

using bitlane::Executor;

namespace {

// Counts how often each index of [0, n) was visited; checks chunk sizes.
std::vector<int> visits(const Executor& ex, size_t n, size_t grain) {
  std::vector<std::atomic<int>> count(n);
  std::atomic<bool> short_chunk_before_end{false};
  ex.parallel_for(n, grain, [&](size_t b, size_t e) {
    if (e - b < grain && e != n) short_chunk_before_end = true;
    for (size_t i = b; i < e; ++i) count[i].fetch_add(1);
  });
  CHECK(!short_chunk_before_end);
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = count[i].load();
  return out;
}

}  // namespace

TEST_CASE("executor: every index exactly once, for any n, grain and thread count") {
  for (int threads : {1, 2, 4}) {
    const Executor ex(threads);
    CHECK(ex.threads() == threads);
    for (size_t n : {0, 1, 2, 7, 64, 1000}) {
      for (size_t grain : {0, 1, 3, 64, 5000}) {
        INFO("threads " << threads << ", n " << n << ", grain " << grain);
        CHECK(visits(ex, n, grain) == std::vector<int>(n, 1));
      }
    }
  }
}

TEST_CASE("executor: one thread runs inline on the caller") {
  const Executor ex(1);
  std::set<std::thread::id> ids;
  ex.parallel_for(100, 1, [&](size_t, size_t) { ids.insert(std::this_thread::get_id()); });
  CHECK(ids == std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST_CASE("executor: a worker's exception reaches the caller, the executor still works") {
  const Executor ex(2);
  for (int round = 0; round < 20; ++round) {
    CHECK_THROWS_WITH_AS(ex.parallel_for(64, 1,
                                         [&](size_t b, size_t) {
                                           if (b == 37) throw std::runtime_error("chunk 37 failed");
                                         }),
                         "chunk 37 failed", std::runtime_error);
    CHECK(visits(ex, 64, 1) == std::vector<int>(64, 1));
  }
}

TEST_CASE("executor: nested parallel_for covers the inner range of every outer index") {
  const Executor ex(2);
  std::vector<std::atomic<int>> count(16 * 32);
  ex.parallel_for(16, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      ex.parallel_for(32, 4, [&](size_t ib, size_t ie) {
        for (size_t j = ib; j < ie; ++j) count[i * 32 + j].fetch_add(1);
      });
  });
  for (auto& c : count) CHECK(c.load() == 1);
}

TEST_CASE("executor: many short jobs in a row, and executors used from several threads at once") {
  // Back-to-back jobs are where a pool can hand a late worker the wrong job.
  const Executor ex(2);
  std::atomic<long> sum{0};
  for (int job = 0; job < 2000; ++job)
    ex.parallel_for(8, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) sum.fetch_add(static_cast<long>(i) + 1);
    });
  CHECK(sum.load() == 2000L * 36);

  std::vector<long> per_thread(4, 0);
  std::vector<std::thread> users;
  for (size_t t = 0; t < per_thread.size(); ++t)
    users.emplace_back([&, t] {
      const Executor own(2);
      for (int job = 0; job < 200; ++job) {
        std::vector<int> out(50, 0);  // each index written by exactly one chunk
        own.parallel_for(out.size(), 7, [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i) out[i] = static_cast<int>(i);
        });
        for (int v : out) per_thread[t] += v;
      }
    });
  for (auto& u : users) u.join();
  for (long s : per_thread) CHECK(s == 200L * (49 * 50 / 2));
}

TEST_CASE("executor: more threads than cores run side by side, as asked") {
  // oneTBB caps its workers at the cores unless told otherwise (and then
  // printed a warning and ran fewer threads than asked). Each chunk waits,
  // up to a deadline, until every thread holds one: only that many threads
  // running at once get there.
  const int threads = Executor::hardware_threads() + 2;
  const Executor ex(threads);
  std::atomic<int> active{0}, most{0};
  ex.parallel_for(static_cast<size_t>(threads), 1, [&](size_t, size_t) {
    const int now = ++active;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (most.load() < threads && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    --active;
  });
  CHECK(most.load() == threads);
}
