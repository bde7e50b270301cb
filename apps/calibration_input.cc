#include "apps/calibration_input.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/image_batch.h"
#include "apps/input_files.h"
#include "core/error.h"
#include "core/limits.h"
#include "runtime/safetensors.h"

namespace bitlane::cli {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Indices of `count` items spread evenly over n (all of them when count >= n).
std::vector<int64_t> spread(int64_t n, int64_t count) {
  std::vector<int64_t> idx;
  if (count >= n) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < count; ++i) idx.push_back(i * n / count);
  }
  return idx;
}

// Rows idx of x (any dtype), as a new tensor.
Tensor rows_of(const Tensor& x, const std::vector<int64_t>& idx) {
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(idx.size());
  Tensor out(shape, x.dtype());
  const size_t row = static_cast<size_t>(x.size() / x.dim(0)) * dtype_size(x.dtype());
  for (size_t i = 0; i < idx.size(); ++i)
    std::memcpy(static_cast<uint8_t*>(out.data()) + i * row,
                static_cast<const uint8_t*>(x.data()) + static_cast<size_t>(idx[i]) * row, row);
  return out;
}

std::vector<Tensor> from_folder(const Model& model, const std::string& dir, int64_t count, const Executor& ex) {
  const InputSpec& spec = model.inputs()[0];
  if (!spec.preprocessing)
    fail(dir, "an image folder calibrates image models, but the model's input has no preprocessing");
  InputWalk walk = collect_inputs({dir});
  if (!walk.problems.empty()) fail(walk.problems[0], "while listing the calibration images");
  if (walk.files.empty()) fail(dir, "holds no image files (.png, .jpg, .bmp, .pgm, .ppm)");
  std::vector<InputFile> picked;
  for (int64_t i : spread(static_cast<int64_t>(walk.files.size()), count))
    picked.push_back(walk.files[static_cast<size_t>(i)]);
  DecodedBatch d;
  decode_batch(picked, 0, picked.size(), spec, ex, d);
  for (size_t i = 0; i < d.errors.size(); ++i)
    if (!d.errors[i].empty()) fail(picked[i].path, "cannot be used for calibration: " + d.errors[i]);
  return one_tensor(std::move(d.inputs[0]));
}

std::vector<Tensor> from_safetensors(const Model& model, const std::string& path, int64_t count) {
  const SafeTensorsFile st = SafeTensorsFile::load(path);
  std::string name;
  if (st.tensors().size() == 1) {
    name = st.tensors()[0].name;
  } else if (st.find("samples")) {
    name = "samples";
  } else if (st.find("images")) {
    name = "images";
  } else {
    std::string names;
    for (const SafeTensor& t : st.tensors()) names += (names.empty() ? "" : ", ") + t.name;
    fail(path, "holds several tensors (" + names + "); name the samples 'samples' or keep only them");
  }
  std::vector<Tensor> x = calibration_from(model, st, name);
  x[0] = rows_of(x[0], spread(x[0].dim(0), count));
  return x;
}

// NumPy .npy, version 1-3, C order, little-endian u1/i1/i4/i8/f4/f8.
std::vector<Tensor> from_npy(const Model& model, const std::string& path, int64_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() > limits().max_file_bytes) fail(path, "larger than --max-file-bytes");
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) fail(path, "not a NumPy .npy file");
  const int major = bytes[6];
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = bytes[8] | (size_t{bytes[9]} << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated .npy header");
    header_len = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) | (size_t{bytes[11]} << 24);
    start = 12;
  } else {
    fail(path, ".npy version " + std::to_string(major) + " is not supported");
  }
  if (header_len > bytes.size() - start) fail(path, "truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + start), header_len);
  auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) fail(path, ".npy header has no '" + key + "'");
    const size_t colon = header.find(':', k);
    if (colon == std::string::npos) fail(path, ".npy header: malformed '" + key + "'");
    return colon + 1;
  };
  size_t p = header.find('\'', field("descr"));
  const size_t q = p == std::string::npos ? p : header.find('\'', p + 1);
  if (q == std::string::npos) fail(path, ".npy header: malformed 'descr'");
  const std::string descr = header.substr(p + 1, q - p - 1);
  p = field("fortran_order");
  if (header.compare(header.find_first_not_of(' ', p), 4, "True") == 0)
    fail(path, "Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
  p = header.find('(', field("shape"));
  const size_t close = p == std::string::npos ? p : header.find(')', p);
  if (close == std::string::npos) fail(path, ".npy header: malformed 'shape'");
  Shape shape;
  int64_t elements = 1;
  for (size_t i = p + 1; i < close;) {
    while (i < close && (header[i] == ' ' || header[i] == ',')) ++i;
    if (i >= close) break;
    size_t used = 0;
    long long d = 0;
    try {
      d = std::stoll(header.substr(i, close - i), &used);
    } catch (...) {
      fail(path, ".npy header: malformed 'shape'");
    }
    if (d < 0 || (d > 0 && elements > static_cast<int64_t>(limits().max_tensor_elements) / d))
      fail(path, ".npy shape too large");
    shape.push_back(d);
    elements *= d;
    i += used;
  }
  if (shape.empty()) fail(path, "holds a scalar, not samples");
  struct Kind {
    const char* descr;
    size_t size;
  };
  static const Kind kinds[] = {{"|u1", 1}, {"|i1", 1}, {"<i4", 4}, {"<i8", 8}, {"<f4", 4}, {"<f8", 8}};
  const Kind* kind = nullptr;
  for (const Kind& k : kinds)
    if (descr == k.descr) kind = &k;
  if (!kind) fail(path, "dtype '" + descr + "' is not supported (uint8, int8, int32, int64, float32, float64)");
  const size_t data = start + header_len;
  if (bytes.size() - data < static_cast<size_t>(elements) * kind->size) fail(path, "truncated: fewer values than its shape");
  const bool ints = model.inputs()[0].dtype == DType::kI32;
  Tensor x(shape, ints ? DType::kI32 : DType::kF32);
  const uint8_t* src = bytes.data() + data;
  for (int64_t i = 0; i < elements; ++i) {
    double v = 0;
    const uint8_t* e = src + static_cast<size_t>(i) * kind->size;
    switch (kind->descr[2]) {
      case '1': v = kind->descr[1] == 'u' ? e[0] : static_cast<int8_t>(e[0]); break;
      case '4': {
        if (kind->descr[1] == 'f') {
          float f;
          std::memcpy(&f, e, 4);
          v = f;
        } else {
          int32_t n;
          std::memcpy(&n, e, 4);
          v = n;
        }
        break;
      }
      default: {
        if (kind->descr[1] == 'f') {
          std::memcpy(&v, e, 8);
        } else {
          int64_t n;
          std::memcpy(&n, e, 8);
          v = static_cast<double>(n);
        }
      }
    }
    if (!std::isfinite(v)) fail(path, "value " + std::to_string(i) + " is not finite");
    if (ints) x.i32()[i] = static_cast<int32_t>(v);
    else x.f32()[i] = static_cast<float>(v);
  }
  std::vector<Tensor> out = calibration_tensor(model, std::move(x), descr == "|u1", path);
  out[0] = rows_of(out[0], spread(out[0].dim(0), count));
  return out;
}

}  // namespace

std::vector<Tensor> calibration_samples(const Model& model, const std::string& source, int64_t count,
                                        const Executor& ex) {
  if (count < 1) throw UsageError("--calibration-samples must be at least 1");
  if (model.inputs().size() != 1) fail(source, "calibration samples serve single-input models only");
  struct stat st {};
  if (stat(source.c_str(), &st) != 0) fail(source, "no such calibration folder or file");
  if (S_ISDIR(st.st_mode)) return from_folder(model, source, count, ex);
  if (ends_with(source, ".safetensors")) return from_safetensors(model, source, count);
  if (ends_with(source, ".npy")) return from_npy(model, source, count);
  fail(source, "calibration samples come from an image folder, a .safetensors or a .npy file");
}

void write_samples(const Tensor& samples, const std::string& path) {
  if (samples.dtype() != DType::kF32 && samples.dtype() != DType::kI32)
    fail(path, "only float32 or int32 samples are stored");
  const size_t bytes = static_cast<size_t>(samples.size()) * 4;
  nlohmann::json header;
  header["samples"] = {{"dtype", samples.dtype() == DType::kF32 ? "F32" : "I32"},
                       {"shape", samples.shape()},
                       {"data_offsets", {0, bytes}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, std::string("cannot write (") + std::strerror(errno) + ")");
  const uint64_t n = text.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  const bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                  std::fwrite(samples.data(), 1, bytes, f) == bytes;
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, "cannot write the calibration samples");
  }
}

void add_calibration_options(cxxopts::Options& opts) {
  opts.add_options("calibration")
      ("calibration", "calibration samples for quantized plans: an image folder, a .safetensors or a .npy file "
                      "(default: the samples the model names)", cxxopts::value<std::string>())
      ("calibration-samples", "how many samples to take, spread evenly over the source",
       cxxopts::value<int64_t>()->default_value(std::to_string(kDefaultCalibrationSamples)))
      ("calibration-cache", "folder keeping min/max calibration results between runs: the samples run "
                            "through the float model once per model and samples; 'off': every time "
                            "(default: $BITLANE_CACHE_DIR, else $XDG_CACHE_HOME/bitlane, else ~/.cache/bitlane)",
       cxxopts::value<std::string>());
}

std::string calibration_cache_dir(const cxxopts::ParseResult& args) {
  std::string dir;
  if (args.count("calibration-cache")) {
    dir = args["calibration-cache"].as<std::string>();
  } else if (const char* env = std::getenv("BITLANE_CACHE_DIR"); env && *env) {
    dir = env;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') {  // the spec: absolute only
    dir = std::string(xdg) + "/bitlane";
  } else if (const char* home = std::getenv("HOME"); home && *home == '/') {
    dir = std::string(home) + "/.cache/bitlane";
  }
  return dir == "off" ? std::string() : dir;
}

EngineOptions engine_options(const cxxopts::ParseResult& args, const Model& model,
                             const std::optional<quant::QuantPlan>& plan, const Executor& ex) {
  EngineOptions o;
  o.plan = plan;
  o.calibration_cache = calibration_cache_dir(args);
  if (args.count("calibration")) {
    o.calibration = calibration_samples(model, args["calibration"].as<std::string>(),
                                        args["calibration-samples"].as<int64_t>(), ex);
  } else if ((plan ? *plan : model.plan()).needs_samples() && model.calibration().is_null()) {
    missing_calibration(model, "the quantization plan needs");
  }
  return o;
}

void missing_calibration(const Model& model, const std::string& what) {
  throw UsageError(what + " calibration samples and " + model.origin() +
                   " names none: add --calibration with an image folder, a .safetensors or a .npy file "
                   "(or store samples with the model: bitlane import ... --calibration DIR)");
}

}  // namespace bitlane::cli
