#include "runtime/calibration_cache.h"

#include <unistd.h>

#include <bit>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "bitlane_version.h"  // generated from core/version.h.in
#include "core/error.h"
#include "core/hash.h"
#include "core/tensor.h"
#include "quant/calibration.h"
#include "runtime/model.h"
#include "runtime/safetensors.h"
#include "swar/targets.h"

namespace bitlane {

namespace {

constexpr int kFormat = 1;
// Entries are a few hundred bytes per layer; anything much larger is not one.
constexpr std::uintmax_t kMaxEntryBytes = 16u << 20;

// How this build computes floats: the same source built another way (another
// compiler, other flags) may contract or order float operations differently.
std::string build_identity() {
  std::string s = std::string("bitlane ") + BITLANE_VERSION_STRING + "; " + __VERSION__;
#ifdef NDEBUG
  s += "; NDEBUG";
#endif
#ifdef __OPTIMIZE__
  s += "; optimized";
#endif
#ifdef __FMA__
  s += "; fma";
#endif
#ifdef __FAST_MATH__
  s += "; fast-math";
#endif
  return s;
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

uint64_t samples_digest(const std::vector<Tensor>& samples) {
  Hash64 h;
  h.text("samples").word(samples.size());
  for (const Tensor& t : samples) {
    h.word(static_cast<uint64_t>(t.dtype())).word(t.shape().size());
    for (int64_t d : t.shape()) h.word(static_cast<uint64_t>(d));
    h.bytes(t.data(), static_cast<size_t>(t.size()) * dtype_size(t.dtype()));
  }
  return h.digest();
}

std::optional<uint64_t> named_samples_digest(const Model& model, const std::string& file) {
  if (file.empty() || model.calibration().is_null() || model.inputs().size() != 1) return std::nullopt;
  Hash64 h;
  try {
    const std::vector<uint8_t> bytes = read_file(file);
    h.text("file").bytes(bytes.data(), bytes.size()).text(model.calibration().at("tensor").get<std::string>());
  } catch (const std::exception&) {  // bitlane::Error, or no memory for it: loading will say
    return std::nullopt;
  }
  const InputSpec& in = model.inputs()[0];
  h.word(static_cast<uint64_t>(in.dtype)).word(in.shape.size());
  for (int64_t d : in.shape) h.word(static_cast<uint64_t>(d));
  h.word(in.preprocessing ? 1 : 0);
  if (in.preprocessing) {
    const Preprocessing& p = *in.preprocessing;
    h.bytes(&p.scale, sizeof p.scale).word(p.mean.size()).word(p.std.size());
    h.bytes(p.mean.data(), p.mean.size() * sizeof(float)).bytes(p.std.data(), p.std.size() * sizeof(float));
  }
  return h.digest();
}

uint64_t calibration_key(const Model& model, uint64_t samples_digest, const std::vector<int>& nodes,
                         bool reference_kernels) {
  Hash64 h;
  h.word(kFormat).text(build_identity()).text(swar::current_target());
  h.word(reference_kernels ? 1 : 0).word(model.content_hash()).word(samples_digest);
  h.word(nodes.size());
  for (int n : nodes) h.word(static_cast<uint64_t>(n));
  return h.digest();
}

std::string calibration_cache_file(const std::string& dir, uint64_t key) {
  return (std::filesystem::path(dir) / ("calibration-" + hex16(key) + ".json")).string();
}

namespace {

// The entry's statistics of `nodes`, or false; throws nlohmann's type errors
// on fields of the wrong type, bitlane::Error when the file cannot be read
// (read_calibration_cache takes both as misses).
bool parse_entry(const std::string& path, uint64_t key, const Model& model, const std::vector<int>& nodes,
                 std::vector<quant::RangeStats>& read) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxEntryBytes) return false;
  const std::vector<uint8_t> text = read_file(path);  // regular files only
  const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  // Every field checked before anything is taken: a partial entry is a miss.
  if (!j.is_object() || j.value("bitlane_calibration_cache", 0) != kFormat || j.value("key", "") != hex16(key))
    return false;
  const auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array() || layers->size() != nodes.size()) return false;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const nlohmann::json& l = (*layers)[i];
    const size_t node = static_cast<size_t>(nodes[i]);
    if (!l.is_object() || node >= model.nodes().size() || l.value("node", "") != model.nodes()[node].name)
      return false;
    const auto min_bits = l.find("min_bits"), max_bits = l.find("max_bits"), count = l.find("count");
    if (min_bits == l.end() || max_bits == l.end() || count == l.end() || !min_bits->is_number_unsigned() ||
        !max_bits->is_number_unsigned() || !count->is_number_unsigned() ||
        min_bits->get<uint64_t>() > UINT32_MAX || max_bits->get<uint64_t>() > UINT32_MAX ||
        count->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return false;
    read.push_back(quant::RangeStats::restored(std::bit_cast<float>(min_bits->get<uint32_t>()),
                                              std::bit_cast<float>(max_bits->get<uint32_t>()),
                                              static_cast<int64_t>(count->get<uint64_t>())));
  }
  return true;
}

}  // namespace

bool read_calibration_cache(const std::string& dir, uint64_t key, const Model& model, const std::vector<int>& nodes,
                            std::vector<quant::RangeStats>& stats) {
  std::vector<quant::RangeStats> read;
  try {
    if (!parse_entry(calibration_cache_file(dir, key), key, model, nodes, read)) return false;
  } catch (const nlohmann::json::exception&) {  // a field of another type: {"key": 5}
    return false;
  } catch (const Error&) {  // gone or unreadable since its size was taken
    return false;
  }
  for (size_t i = 0; i < nodes.size(); ++i) stats[static_cast<size_t>(nodes[i])] = read[i];
  return true;
}

namespace {

void write_entry(const std::string& dir, uint64_t key, const Model& model, const std::vector<int>& nodes,
                 const std::vector<quant::RangeStats>& stats) {
  nlohmann::json layers = nlohmann::json::array();
  for (int n : nodes) {
    const quant::RangeStats& s = stats[static_cast<size_t>(n)];
    layers.push_back({{"node", model.nodes()[static_cast<size_t>(n)].name},
                      {"min", s.min()},  // for people; the bits are what is read back
                      {"max", s.max()},
                      {"min_bits", std::bit_cast<uint32_t>(s.min())},
                      {"max_bits", std::bit_cast<uint32_t>(s.max())},
                      {"count", static_cast<uint64_t>(s.count())}});
  }
  const nlohmann::json j = {{"bitlane_calibration_cache", kFormat},
                            {"key", hex16(key)},
                            {"model", model.origin()},
                            {"built_by", build_identity()},
                            {"layers", std::move(layers)}};
  // Written under a name of its own, then renamed over the entry: readers
  // see a whole file or none, also with several processes at once.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = calibration_cache_file(dir, key);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + "-" + hex16(std::random_device{}());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;
    out << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!out.flush()) {
      out.close();
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

void write_calibration_cache(const std::string& dir, uint64_t key, const Model& model, const std::vector<int>& nodes,
                             const std::vector<quant::RangeStats>& stats) {
  try {
    write_entry(dir, key, model, nodes, stats);
  } catch (const std::exception&) {  // best effort (no entropy for the name, no memory): the engine stands
  }
}

}  // namespace bitlane
