// How a batch is split into micro-batches (runtime/micro_batch.h), worked
// out by hand for the bundled models' sizes on a 1 MiB L2 (budget 512 KiB).
#include <doctest/doctest.h>

#include "runtime/micro_batch.h"

using namespace bitlane;

namespace {
constexpr int64_t kL2 = 1 << 20;
constexpr int64_t kResNet = 16 * 28 * 28 * 4;  // its largest tensor per image: 50176 bytes
constexpr int64_t kMlp = 28 * 28 * 4;          // 3136 bytes
}  // namespace

TEST_CASE("micro-batches: as many images as half the L2 holds, then whole shares per thread") {
  // 524288 / 50176 = 10 images fit: 64 = 7 micro-batches of 10 (the last 4).
  MicroBatches m = plan_micro_batches(64, 1, kResNet, kL2);
  CHECK(m.count == 7);
  CHECK(m.size == 10);
  // Two threads: 7 rounded up to 8, so each runs 4 micro-batches of 8.
  m = plan_micro_batches(64, 2, kResNet, kL2);
  CHECK(m.count == 8);
  CHECK(m.size == 8);
  // A batch that fits stays whole on one thread, and is shared on two.
  m = plan_micro_batches(8, 1, kResNet, kL2);
  CHECK(m.count == 1);
  CHECK(m.size == 8);
  m = plan_micro_batches(5, 2, kResNet, kL2);
  CHECK(m.count == 2);
  CHECK(m.size == 3);
  // More threads than images: one image each.
  m = plan_micro_batches(3, 4, kResNet, kL2);
  CHECK(m.count == 3);
  CHECK(m.size == 1);
}

TEST_CASE("micro-batches: rows of an MLP stay whole batches until they outgrow the cache") {
  // 524288 / 3136 = 167 rows fit; below that the layers split over threads.
  CHECK(plan_micro_batches(64, 2, kMlp, kL2).count == 1);
  CHECK(plan_micro_batches(167, 1, kMlp, kL2).count == 1);
  const MicroBatches m = plan_micro_batches(1000, 2, kMlp, kL2);  // ceil(1000 / 167) = 6, a multiple of 2
  CHECK(m.count == 6);
  CHECK(m.size == 167);
}

TEST_CASE("micro-batches: forced sizes, off, and what cannot be split") {
  MicroBatches m = plan_micro_batches(11, 2, kResNet, kL2, 3);  // 3 + 3 + 3 + 2
  CHECK(m.count == 4);
  CHECK(m.size == 3);
  m = plan_micro_batches(11, 1, kMlp, kL2, 1);
  CHECK(m.count == 11);
  CHECK(m.size == 1);
  m = plan_micro_batches(2, 1, kMlp, kL2, 5);  // larger than the batch: whole
  CHECK(m.count == 1);
  CHECK(m.size == 2);
  CHECK(plan_micro_batches(64, 2, kResNet, kL2, -1).count == 1);  // off
  CHECK(plan_micro_batches(64, 2, 0, kL2).count == 1);            // stateful model
  CHECK(plan_micro_batches(64, 2, 0, kL2, 4).count == 1);         // not even when forced
  CHECK(plan_micro_batches(1, 2, kResNet, kL2).count == 1);       // one sample
  // A sample larger than the cache budget: one per micro-batch.
  m = plan_micro_batches(4, 1, kL2, kL2);
  CHECK(m.count == 4);
  CHECK(m.size == 1);
}
