#include "runtime/micro_batch.h"

#include <algorithm>

namespace bitlane {

namespace {
// Below this many bytes per sample (an MLP's rows), a micro-batch per
// thread would make every thread stream all the weights for a few rows;
// such batches stay whole and their layers split over the threads.
constexpr int64_t kImageSampleBytes = 8 << 10;
}  // namespace

MicroBatches plan_micro_batches(int64_t batch, int threads, int64_t sample_bytes, int64_t cache_bytes,
                                int64_t fixed) {
  MicroBatches m{batch, 1};
  if (batch <= 1 || sample_bytes <= 0 || fixed < 0) return m;
  int64_t count;
  if (fixed > 0) {
    count = (batch + fixed - 1) / fixed;
  } else {
    const int64_t fits = std::max<int64_t>(1, cache_bytes / 2 / sample_bytes);
    count = (batch + fits - 1) / fits;
    const int64_t t = std::max(1, threads);
    if (t > 1 && sample_bytes >= kImageSampleBytes) {
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
