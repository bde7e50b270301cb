#include "runtime/micro_batch.h"

#include <algorithm>

namespace bitlane {

namespace {
// Below this many bytes per sample (an MLP's rows) a micro-batch's tensors
// are small: the cache budget alone would keep a batch whole, its layers
// split over the threads, with a barrier per layer.
constexpr int64_t kImageSampleBytes = 8 << 10;
// Such rows are still shared out one micro-batch per thread when every
// thread gets at least this many and the weights stay in a shared cache:
// each thread then streams all the weights once per call instead of half of
// them per layer, and the threads meet once. The MLP at batch 64 on 2 threads
// (min ms, whole -> 2 x 32): 1 bit 0.053 -> 0.029, 4 bits 0.081 -> 0.065,
// 8 bits 0.090 -> 0.068, fp32 0.241 -> 0.220; batch 16 at 4 bits 0.029 ->
// 0.019; with 2 rows per thread (batch 4) 0.008 -> 0.009, with 4 at 1 bit
// 0.007 -> 0.008 (bench/README.md, sixteenth session).
constexpr int64_t kMinRowsPerThread = 8;
// Weights beyond this (not measured: no such bundled model) might come from
// memory, where two threads streaming all of them would double the traffic.
constexpr int64_t kSharedWeightBytes = int64_t{8} << 20;
}  // namespace

MicroBatches plan_micro_batches(int64_t batch, int threads, int64_t sample_bytes, int64_t weight_bytes,
                                int64_t cache_bytes, int64_t fixed) {
  MicroBatches m{batch, 1};
  if (batch <= 1 || sample_bytes <= 0 || fixed < 0) return m;
  int64_t count;
  if (fixed > 0) {
    count = (batch + fixed - 1) / fixed;
  } else {
    const int64_t fits = std::max<int64_t>(1, cache_bytes / 2 / sample_bytes);
    count = (batch + fits - 1) / fits;
    const int64_t t = std::max(1, threads);
    const bool share = sample_bytes >= kImageSampleBytes ||
                       (batch >= t * kMinRowsPerThread && weight_bytes <= kSharedWeightBytes);
    if (t > 1 && share) {
      count = std::max(count, std::min<int64_t>(batch, t));
      if (count > t) count = (count + t - 1) / t * t;  // every thread the same share
    }
  }
  count = std::min(count, batch);
  m.size = (batch + count - 1) / count;
  m.count = (batch + m.size - 1) / m.size;
  return m;
}

}  // namespace bitlane
