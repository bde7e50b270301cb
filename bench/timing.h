// Timing for benchmarks: repeat a call until a time budget is spent and
// report the median of several batches, which shrugs off the noise of a
// shared machine better than the mean.
#pragma once

#include <functional>

namespace bitlane::bench {

struct Timing {
  double median_s = 0;  // per call
  double min_s = 0;
  double mean_s = 0;
  double stdev_s = 0;
  long calls = 0;
};

// Warms up, then times batches of calls for about min_time seconds in total.
Timing time_calls(const std::function<void()>& fn, double min_time = 0.5);

double now_seconds();

}  // namespace bitlane::bench
