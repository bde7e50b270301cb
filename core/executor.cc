#include "core/executor.h"

#include <sched.h>

#include <thread>

namespace bitlane {

const Executor& Executor::inline_executor() {
  static const Executor one(1);
  return one;
}

int Executor::hardware_threads() {
  // Respect CPU affinity (taskset, containers) rather than the machine size.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace bitlane
