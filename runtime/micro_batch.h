// How Session::run splits a batch into micro-batches that each run the whole
// graph: a conv net's activations per image are tens of KB, so a batch of 64
// passes MBs between layers -- every layer streams them through memory, and
// every layer ends in a barrier of all threads. Run in micro-batches of a
// few images, a layer's input and output stay in the core's L2, and threads
// take whole micro-batches (no barrier per layer, every layer on all cores
// even where a layer splits poorly). Results do not change: no op mixes
// samples (ops never reduce over the batch axis), and every integer path
// and float summation order is fixed per sample.
#pragma once

#include <cstdint>

namespace bitlane {

struct MicroBatches {
  int64_t size = 0;   // samples per micro-batch (the last may hold fewer)
  int64_t count = 1;  // 1: the batch runs whole, layer by layer
};

// `sample_bytes`: the largest tensor of one sample, in bytes (0: the model
// cannot be split, e.g. stateful); `weight_bytes`: the model's weights at
// its plan; `fixed` > 0 forces micro-batches of that many samples, < 0 never
// splits, 0 chooses: micro-batches whose largest tensor fills at most half
// of `cache_bytes`, and at least one per thread, their count a multiple of
// the threads -- for small samples (an MLP's rows) only when every thread
// gets a few and the weights are not too large to stream on every thread.
MicroBatches plan_micro_batches(int64_t batch, int threads, int64_t sample_bytes, int64_t weight_bytes,
                                int64_t cache_bytes, int64_t fixed = 0);

}  // namespace bitlane
