// The C API's load-from-memory (JSON text, NUL, weights bytes) followed by a
// run on zeros, through bitlane.h only: every failure must be a status with
// a message, never a crash or an escaped exception.
#include <vector>

#include "fuzz/fuzz_common.h"
#include "runtime/capi/bitlane.h"

BITLANE_FUZZ_TARGET(capi) {
  bitlane::fuzz::small_limits();
  const bitlane::fuzz::Split in = bitlane::fuzz::split_at_nul(data, size);
  bitlane_model* m = bitlane_model_create();
  if (!m) return 0;
  const bitlane_status s = bitlane_model_load_memory(m, in.text.data(), in.text.size(), in.bytes.data(),
                                                     in.bytes.size(), "fuzz");
  if (s != BITLANE_OK) {
    if (bitlane_model_last_error(m)[0] == '\0') bitlane::fuzz::finding("a failed call left no message");
  } else if (bitlane_model_input_count(m) == 1) {
    const int64_t* dims = nullptr;
    size_t rank = 0;
    if (bitlane_model_input_shape(m, 0, &dims, &rank) == BITLANE_OK && rank < 7) {
      std::vector<int64_t> shape{1};
      size_t n = 1;
      for (size_t i = 0; i < rank; ++i) {
        shape.push_back(dims[i] < 0 ? 4 : dims[i]);
        n *= static_cast<size_t>(shape.back());
      }
      if (n <= (1u << 16)) {
        std::vector<float> xf(n, 0.f);
        std::vector<int32_t> xi(n, 0);
        if (bitlane_run_f32(m, xf.data(), shape.data(), shape.size()) != BITLANE_OK &&
            bitlane_run_i32(m, xi.data(), shape.data(), shape.size()) != BITLANE_OK &&
            bitlane_model_last_error(m)[0] == '\0')
          bitlane::fuzz::finding("a failed run left no message");
      }
    }
  }
  bitlane_model_destroy(m);
  return 0;
}
