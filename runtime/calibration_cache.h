// Calibration results kept between runs. Building a quantized engine runs
// the float graph over every calibration sample to find each layer's input
// range: for ResNet at 4 bits, 84 of the 104 ms a one-image `bitlane run`
// takes. When every quantized layer is calibrated by min/max, those ranges
// are all the run yields, and they depend only on
//   - the graph and its weights (Model::content_hash),
//   - the samples (their values, or their file's bytes) and the layers measured,
//   - how the float operators compute: bitlane's version and the digest of
//     the library's sources (cmake/BitlaneSourceDigest.cmake: an edited
//     kernel under the same version is a miss), the compiler, Highway and
//     build flags, the SIMD target the kernels run on, reference kernels or not,
// so a directory keeps them in one small file per key, and a later build
// with the same key reads them instead of running the samples (the engine
// is the same, bit for bit). A file that is missing, unreadable, malformed
// or about other layers is a miss: calibration runs and writes it again.
// Writing is best effort: a directory that cannot be written costs only the
// time. Nothing here is used unless EngineOptions::calibration_cache names
// a directory (the CLI does, by default: apps/calibration_input.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bitlane {

namespace quant {
class RangeStats;
}
class Model;
class Tensor;

// The samples' identity: their shapes, types and values ...
uint64_t samples_digest(const std::vector<Tensor>& samples);
// ... or, for the samples a model names (load_calibration), the bytes of
// `file` with the tensor's name and the input's shape and preprocessing --
// all that decides them -- without decoding them. Empty when the file
// cannot be read (loading the samples then reports why).
std::optional<uint64_t> named_samples_digest(const Model& model, const std::string& file);
uint64_t calibration_key(const Model& model, uint64_t samples_digest, const std::vector<int>& nodes,
                         bool reference_kernels);

// Where a key's entry lives: dir/calibration-<16 hex digits>.json.
std::string calibration_cache_file(const std::string& dir, uint64_t key);

// A directory keeps at most this many entries (a few KB each): writing one
// removes the least recently used beyond it, a hit marks its entry used.
// Every edit of the library is a new key (cmake/BitlaneSourceDigest.cmake),
// so without a bound a developer's cache would only grow. Temporary files a
// writer left behind (killed between writing and renaming) go after an hour.
inline constexpr size_t kCalibrationCacheEntries = 256;

// stats[node] for every node of `nodes` (node indices of the model) from the
// entry of `key`; false, with stats untouched, when there is no valid entry.
bool read_calibration_cache(const std::string& dir, uint64_t key, const Model& model, const std::vector<int>& nodes,
                            std::vector<quant::RangeStats>& stats);
// Stores stats[node] for `nodes` (min/max statistics, no samples) under key.
void write_calibration_cache(const std::string& dir, uint64_t key, const Model& model, const std::vector<int>& nodes,
                             const std::vector<quant::RangeStats>& stats);

}  // namespace bitlane
