// Shared by the libFuzzer targets: an input is only ever allowed to fail
// with bitlane::Error (a clear message) -- anything else (a crash, a
// sanitizer report, another exception type, a hang) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/limits.h"

// A target is libFuzzer's entry point, or -- with BITLANE_FUZZ_REPLAY, in
// tests/fuzz_replay -- a plain function that replays the seeds and every
// input a fuzzer once crashed on, in the ordinary test builds.
#ifdef BITLANE_FUZZ_REPLAY
#define BITLANE_FUZZ_TARGET(name) int bitlane_fuzz_##name(const uint8_t* data, size_t size)
#else
#define BITLANE_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif

namespace bitlane::fuzz {

// Limits small enough that a fuzzer explores logic instead of allocating:
// a hostile header must be refused by the checks, not by running out of RAM.
inline void small_limits() {
  Limits& l = limits();
  l.max_file_bytes = 16u << 20;
  l.max_json_bytes = 1u << 20;
  l.max_tensor_elements = 1u << 22;
  l.max_model_bytes = 64u << 20;
  l.max_nodes = 256;
  l.max_graph_depth = 256;
  l.max_image_pixels = 1u << 20;
  l.max_sequence_length = 4096;
}

// Splits an input at its first NUL byte: text before, bytes after.
struct Split {
  std::string_view text;
  std::vector<uint8_t> bytes;
};
inline Split split_at_nul(const uint8_t* data, size_t size) {
  size_t i = 0;
  while (i < size && data[i] != 0) ++i;
  Split s{std::string_view(reinterpret_cast<const char*>(data), i), {}};
  if (i < size) s.bytes.assign(data + i + 1, data + size);
  return s;
}

// A finding that is not a crash by itself (a wrong round trip, a failure
// without a message): abort loudly so libFuzzer and the replay test see it.
[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::abort();
}

// Runs fn, accepting only bitlane::Error as a way to fail.
template <class F>
void expect_clean(F&& fn) {
  try {
    fn();
  } catch (const Error&) {
  }
}

}  // namespace bitlane::fuzz
