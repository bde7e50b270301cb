// Replays every fuzz target on its seed corpus (fuzz/seeds/) and on each input
// a fuzzer once found a bug with (tests/data/fuzz/<target>/), in the ordinary
// test builds -- release, sanitizers, ARM under qemu -- without libFuzzer.
// A target fails by aborting (a crash, a sanitizer report, an exception other
// than bitlane::Error, a fuzz::finding), which fails this test binary.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/test_paths.h"

int bitlane_fuzz_safetensors(const uint8_t* data, size_t size);
int bitlane_fuzz_model(const uint8_t* data, size_t size);
int bitlane_fuzz_image(const uint8_t* data, size_t size);
int bitlane_fuzz_plan(const uint8_t* data, size_t size);
int bitlane_fuzz_capi(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using Target = int (*)(const uint8_t*, size_t);

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* root : {"fuzz/seeds/", "tests/data/fuzz/"}) {
    const fs::path dir = bitlane::test::source_path(root + target);
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Returns how many inputs ran; each must return 0 (libFuzzer's contract).
size_t replay(const std::string& target, Target fn) {
  size_t n = 0;
  for (const fs::path& file : inputs_of(target)) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("input: " << file.string());
    CHECK(fn(bytes.data(), bytes.size()) == 0);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz replay: safetensors parser") { CHECK(replay("safetensors", bitlane_fuzz_safetensors) >= 5); }
TEST_CASE("fuzz replay: model loader, validation and an fp32 run") { CHECK(replay("model", bitlane_fuzz_model) >= 4); }
TEST_CASE("fuzz replay: image decoders and preprocessing") { CHECK(replay("image", bitlane_fuzz_image) >= 10); }
TEST_CASE("fuzz replay: quantization-plan parser") { CHECK(replay("plan", bitlane_fuzz_plan) >= 9); }
TEST_CASE("fuzz replay: C API load from memory and run") { CHECK(replay("capi", bitlane_fuzz_capi) >= 4); }
