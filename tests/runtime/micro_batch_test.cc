// How a batch is split into micro-batches (runtime/micro_batch.h), worked
// out by hand for the bundled models' sizes on a 1 MiB L2 (budget 512 KiB).
#include <doctest/doctest.h>

#include "runtime/micro_batch.h"

using namespace bitlane;

namespace {
constexpr int64_t kL2 = 1 << 20;
constexpr int64_t kResNet = 16 * 28 * 28 * 4;  // its largest tensor per image: 50176 bytes
constexpr int64_t kMlp = 28 * 28 * 4;          // 3136 bytes
constexpr int64_t kMlpWeights = 270 << 10;     // its 4-bit weights, ~270 KiB
constexpr int64_t kLargeWeights = (8 << 20) + 1;

struct SplitCase {
  const char* why;
  int64_t batch;
  int threads;
  int64_t sample_bytes, fixed;
  int64_t count, size;  // expected
  int64_t weight_bytes = kMlpWeights;
};

void check(const SplitCase& c) {
  INFO(c.why);
  const MicroBatches m = plan_micro_batches(c.batch, c.threads, c.sample_bytes, c.weight_bytes, kL2, c.fixed);
  CHECK(m.count == c.count);
  CHECK(m.size == c.size);
}
}  // namespace

TEST_CASE("micro-batches: how batches are split, by cache, threads, option and model") {
  const SplitCase cases[] = {
      // Images (ResNet): as many as half the L2 holds, then whole shares per thread.
      {"524288 / 50176 = 10 images fit: 7 micro-batches of 10 (the last 4)", 64, 1, kResNet, 0, 7, 10},
      {"two threads: 7 rounded up to 8, each thread runs 4 of 8", 64, 2, kResNet, 0, 8, 8},
      {"a batch that fits stays whole on one thread", 8, 1, kResNet, 0, 1, 8},
      {"and is shared on two: 3 + 2", 5, 2, kResNet, 0, 2, 3},
      {"more threads than images: one image each", 3, 4, kResNet, 0, 3, 1},
      {"a sample larger than the budget: one per micro-batch", 4, 1, kL2, 0, 4, 1},
      // Rows of an MLP: whole batches on one thread until they outgrow the
      // cache; on several threads one micro-batch each once each gets 8 rows.
      {"524288 / 3136 = 167 rows fit: one thread runs them whole", 64, 1, kMlp, 0, 1, 64},
      {"167 rows still fit", 167, 1, kMlp, 0, 1, 167},
      {"two threads, 32 rows each", 64, 2, kMlp, 0, 2, 32},
      {"three threads: 22 + 22 + 20", 64, 3, kMlp, 0, 3, 22},
      {"8 rows per thread", 16, 2, kMlp, 0, 2, 8},
      {"7.5 rows per thread: whole, the layers split over the threads", 15, 2, kMlp, 0, 1, 15},
      {"weights over 8 MiB: whole", 64, 2, kMlp, 0, 1, 64, kLargeWeights},
      {"ceil(1000 / 167) = 6 micro-batches, a multiple of 2", 1000, 2, kMlp, 0, 6, 167},
      {"and of 4: 8 of 125", 1000, 4, kMlp, 0, 8, 125},
      {"images do not look at the weights", 64, 2, kResNet, 0, 8, 8, kLargeWeights},
      // Forced sizes, off, and what cannot be split.
      {"forced 3: 3 + 3 + 3 + 2", 11, 2, kResNet, 3, 4, 3},
      {"forced 1: one sample each, even MLP rows", 11, 1, kMlp, 1, 11, 1},
      {"forced larger than the batch: whole", 2, 1, kMlp, 5, 1, 2},
      {"off", 64, 2, kResNet, -1, 1, 64},
      {"a stateful model (no sample size)", 64, 2, 0, 0, 1, 64},
      {"not even when forced", 64, 2, 0, 4, 1, 64},
      {"one sample", 1, 2, kResNet, 0, 1, 1},
  };
  for (const SplitCase& c : cases) check(c);
}
