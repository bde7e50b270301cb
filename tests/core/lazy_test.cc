// core/lazy.h: the value is made once, on first use, whichever thread asks
// first; every caller sees that one value; a make() that throws leaves it
// unmade for the next caller. TSan runs this suite in CI.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/lazy.h"

using bitlane::Lazy;

TEST_CASE("Lazy: nothing is made until asked, then once") {
  Lazy<std::vector<int>> lazy;
  int made = 0;
  auto make = [&] {
    ++made;
    return std::vector<int>{1, 2, 3};
  };
  CHECK(made == 0);
  const std::vector<int>& a = lazy.get(make);
  const std::vector<int>& b = lazy.get(make);
  CHECK(made == 1);
  CHECK(&a == &b);
  CHECK(a == std::vector<int>{1, 2, 3});
}

TEST_CASE("Lazy: threads asking together get one value, made once") {
  for (int round = 0; round < 20; ++round) {
    Lazy<std::vector<int>> lazy;
    std::atomic<int> made{0}, waiting{0};
    constexpr int kThreads = 4;
    std::vector<const std::vector<int>*> seen(kThreads, nullptr);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        waiting.fetch_add(1);
        while (waiting.load() < kThreads) std::this_thread::yield();  // start together
        seen[static_cast<size_t>(t)] = &lazy.get([&] {
          made.fetch_add(1);
          return std::vector<int>(1000, round);
        });
      });
    for (auto& th : threads) th.join();
    CHECK(made.load() == 1);
    for (const auto* s : seen) {
      CHECK(s == seen[0]);
      CHECK(*s == std::vector<int>(1000, round));
    }
  }
}

TEST_CASE("Lazy: a make() that throws leaves the value for the next caller to make") {
  Lazy<int> lazy;
  CHECK_THROWS_AS(lazy.get([]() -> int { throw std::runtime_error("out of memory"); }), std::runtime_error);
  CHECK(lazy.get([] { return 7; }) == 7);
  CHECK(lazy.get([] { return 8; }) == 7);
}

TEST_CASE("Lazy: reset frees the value, and the next get makes it again") {
  Lazy<std::vector<int>> lazy;
  int made = 0;
  auto make = [&] {
    ++made;
    return std::vector<int>(100, made);
  };
  CHECK(lazy.get(make) == std::vector<int>(100, 1));
  lazy.reset();
  CHECK(made == 1);
  CHECK(lazy.get(make) == std::vector<int>(100, 2));
  CHECK(lazy.get(make) == std::vector<int>(100, 2));
  CHECK(made == 2);
}
