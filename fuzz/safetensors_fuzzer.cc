// The .safetensors parser and its readers: header length, JSON header,
// dtypes, shapes, offsets (outside the file, overlapping), values.
#include "fuzz/fuzz_common.h"
#include "runtime/safetensors.h"
#include "core/tensor.h"

BITLANE_FUZZ_TARGET(safetensors) {
  bitlane::fuzz::small_limits();
  bitlane::fuzz::expect_clean([&] {
    const auto file = bitlane::SafeTensorsFile::parse(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
    for (const auto& t : file.tensors()) {
      bitlane::fuzz::expect_clean([&] { (void)file.read_f32(t); });
      bitlane::fuzz::expect_clean([&] { (void)file.read_i32(t); });
    }
  });
  return 0;
}
