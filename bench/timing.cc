#include "timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace bitlane::bench {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Timing time_calls(const std::function<void()>& fn, double min_time) {
  // Warm-up and batch sizing: aim for batches of ~min_time / 10.
  double t0 = now_seconds();
  fn();
  long batch = 1;
  double one = std::max(1e-9, now_seconds() - t0);
  batch = std::max<long>(1, static_cast<long>(min_time / 10 / one));
  std::vector<double> per_call;
  double start = now_seconds();
  long calls = 0;
  while (per_call.size() < 5 || now_seconds() - start < min_time) {
    double b0 = now_seconds();
    for (long i = 0; i < batch; ++i) fn();
    per_call.push_back((now_seconds() - b0) / static_cast<double>(batch));
    calls += batch;
    if (per_call.size() > 1000) break;
  }
  Timing t;
  t.calls = calls;
  std::vector<double> sorted = per_call;
  std::sort(sorted.begin(), sorted.end());
  t.median_s = sorted[sorted.size() / 2];
  t.min_s = sorted.front();
  double sum = 0, sq = 0;
  for (double x : per_call) sum += x;
  t.mean_s = sum / static_cast<double>(per_call.size());
  for (double x : per_call) sq += (x - t.mean_s) * (x - t.mean_s);
  t.stdev_s = std::sqrt(sq / static_cast<double>(per_call.size()));
  return t;
}

}  // namespace bitlane::bench
