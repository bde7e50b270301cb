// Central limits on what bitlane accepts from files it did not write: every
// loader checks sizes against these *before* allocating, so a hostile file
// (a header claiming 2^40 elements, a PNG declaring 100000 x 100000 pixels)
// fails fast with a clear error instead of exhausting memory.
//
// The defaults suit the models bitlane targets on boards and servers; raise
// them with bitlane::limits() (or the CLI's --max-* options) when needed.
#pragma once

#include <cstdint>

namespace bitlane {

struct Limits {
  uint64_t max_file_bytes = uint64_t{4} << 30;          // any model, weights or input file
  uint64_t max_json_bytes = uint64_t{64} << 20;         // model graph or safetensors header
  uint64_t max_tensor_elements = uint64_t{1} << 31;     // one weight or activation tensor
  uint64_t max_model_bytes = uint64_t{4} << 30;         // all weights of a model
  int64_t max_nodes = 100000;                           // graph nodes
  int max_rank = 8;                                     // tensor dimensions
  int64_t max_graph_depth = 100000;                     // longest dependency chain
  uint64_t max_image_pixels = uint64_t{64} << 20;       // width * height of a decoded image
  uint64_t max_sequence_length = uint64_t{1} << 24;     // tokens per call
};

// Process-wide limits; adjust before loading.
Limits& limits();

// n * m, or fails with `what` when the product overflows or exceeds `cap`.
uint64_t checked_mul(uint64_t n, uint64_t m, uint64_t cap, const char* what);

}  // namespace bitlane
