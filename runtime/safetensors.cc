#include "runtime/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <type_traits>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/finite.h"
#include "core/limits.h"

namespace bitlane {
namespace {

using json = nlohmann::json;

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // little-endian hosts only (x86, AArch64)
  return v;
}

}  // namespace

int dtype_bytes(std::string_view d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

namespace {

// A regular file opened for reading, its size checked against the limit.
// POSIX calls rather than an ifstream: a folder of small images is read
// file by file, and the stream's buffer and seeks cost a fifth of the read.
struct RegularFile {
  int fd = -1;
  uint64_t size = 0;
  explicit RegularFile(const std::string& path) {
    // O_NONBLOCK: opening a FIFO (say one named like an image in a folder)
    // would otherwise wait for a writer forever; fstat then refuses it. On
    // a regular file the flag changes nothing.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(path, std::string("cannot open file (") + std::strerror(errno) + ")");
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0) problem = std::string("cannot read the file size (") + std::strerror(errno) + ")";
    else if (S_ISDIR(st.st_mode)) problem = "is a directory, not a file";
    else if (!S_ISREG(st.st_mode)) problem = "not a regular file (a device, pipe or socket)";
    else if (static_cast<uint64_t>(st.st_size) > limits().max_file_bytes)
      problem = "file of " + std::to_string(st.st_size) + " bytes exceeds the limit of " +
                std::to_string(limits().max_file_bytes);
    if (!problem.empty()) {
      ::close(fd);
      fail(path, problem);
    }
    size = static_cast<uint64_t>(st.st_size);
  }
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile() { ::close(fd); }

  // n bytes from offset into dst; a file that ends early is an error.
  void read_at(const std::string& path, uint64_t offset, void* dst, size_t n) const {
    auto* d = static_cast<uint8_t*>(dst);
    for (size_t done = 0; done < n;) {
      const ssize_t got = ::pread(fd, d + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(path, std::string("read error (") + std::strerror(errno) + ")");
      if (got == 0)
        fail(path, "file shrank while being read (" + std::to_string(offset + done) + " of " +
                       std::to_string(size) + " bytes)");
      done += static_cast<size_t>(got);
    }
  }
};

// The header length of a file of `size` bytes whose first 8 bytes are len8.
uint64_t header_length(const uint8_t* len8, uint64_t size, const std::string& where) {
  if (size < 8)
    fail(where, "truncated safetensors file: " + std::to_string(size) +
                    " bytes, the 8-byte header length is missing");
  const uint64_t header_len = read_le64(len8);
  if (header_len > size - 8)
    fail(where, "header length " + std::to_string(header_len) + " exceeds the file (" +
                    std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (header_len > limits().max_json_bytes)
    fail(where, "header of " + std::to_string(header_len) + " bytes exceeds the limit");
  return header_len;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  const RegularFile file(path);
  std::vector<uint8_t> bytes(static_cast<size_t>(file.size));
  file.read_at(path, 0, bytes.data(), bytes.size());
  return bytes;
}

void read_file_pieces(const std::string& path, size_t piece, const std::function<void(const uint8_t*, size_t)>& fn) {
  const RegularFile file(path);
  std::vector<uint8_t> buffer(static_cast<size_t>(std::min<uint64_t>(file.size, std::max<size_t>(piece, 1))));
  for (uint64_t at = 0; at < file.size; at += buffer.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), file.size - at));
    file.read_at(path, at, buffer.data(), n);
    fn(buffer.data(), n);
  }
}

struct SafeTensorsFile::OpenFile : RegularFile {
  using RegularFile::RegularFile;
};

SafeTensorsFile SafeTensorsFile::load(const std::string& path) {
  auto file = std::make_shared<const OpenFile>(path);
  uint8_t len8[8] = {};
  if (file->size >= 8) file->read_at(path, 0, len8, 8);
  const uint64_t header_len = header_length(len8, file->size, path);
  std::vector<uint8_t> header(static_cast<size_t>(header_len));
  file->read_at(path, 8, header.data(), header.size());
  SafeTensorsFile f = parse_header(header.data(), header_len, file->size, path);
  f.file_ = std::move(file);
  f.data_offset_ = 8 + header_len;
  return f;
}

SafeTensorsFile SafeTensorsFile::parse(std::vector<uint8_t> bytes, std::string origin) {
  const uint64_t header_len = header_length(bytes.data(), bytes.size(), origin);
  SafeTensorsFile f = parse_header(bytes.data() + 8, header_len, bytes.size(), std::move(origin));
  f.bytes_ = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  f.data_offset_ = 8 + header_len;
  return f;
}

SafeTensorsFile SafeTensorsFile::parse_header(const uint8_t* header_bytes, uint64_t header_len, uint64_t file_size,
                                              std::string origin) {
  SafeTensorsFile f;
  f.origin_ = std::move(origin);
  const std::string& where = f.origin_;

  // Parse the header, refusing duplicate tensor names (JSON would keep the last).
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  const char* hb = reinterpret_cast<const char*>(header_bytes);
  json header;
  try {
    header = json::parse(hb, hb + header_len, on_event);
  } catch (const json::exception& e) {
    fail(where, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(where, "tensor '" + duplicate + "' appears twice in the header");
  if (!header.is_object()) fail(where, "header is not a JSON object");

  const uint64_t data_size = file_size - 8 - header_len;
  uint64_t total = 0;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail(where, "__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string()) fail(where, "__metadata__ value '" + m.key() + "' is not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string at = where + ": tensor '" + name + "'";
    if (!e.is_object()) fail(at, "entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!e.contains(field)) fail(at, std::string("missing field '") + field + "'");
    SafeTensor t;
    t.name = name;
    if (!e["dtype"].is_string()) fail(at, "dtype is not a string");
    t.dtype = e["dtype"].get<std::string>();
    const int esize = dtype_bytes(t.dtype);
    if (!esize) fail(at, "unknown dtype '" + t.dtype + "'");
    const json& shape = e["shape"];
    if (!shape.is_array()) fail(at, "shape is not an array");
    if (shape.size() > static_cast<size_t>(limits().max_rank))
      fail(at, "rank " + std::to_string(shape.size()) + " exceeds the limit");
    uint64_t elements = 1;
    for (const json& d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        fail(at, "shape must hold non-negative integers, got " + shape.dump());
      t.shape.push_back(d.get<int64_t>());
      elements = checked_mul(elements, static_cast<uint64_t>(d.get<int64_t>()),
                             limits().max_tensor_elements, at.c_str());
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail(at, "data_offsets must be [begin, end] with non-negative integers");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.begin > t.end) fail(at, "data_offsets begin > end");
    if (t.end > data_size)
      fail(at, "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                   "] lie outside the data section of " + std::to_string(data_size) +
                   " bytes (truncated file?)");
    const uint64_t want = elements * static_cast<uint64_t>(esize);
    if (t.end - t.begin != want)
      fail(at, "shape " + shape_str(t.shape) + " of " + t.dtype + " needs " +
                   std::to_string(want) + " bytes but data_offsets span " +
                   std::to_string(t.end - t.begin));
    total += want;
    if (total > limits().max_model_bytes) fail(where, "weights exceed the model size limit");
    f.tensors_.push_back(std::move(t));
  }
  // No two tensors may share bytes.
  std::vector<const SafeTensor*> by_start;
  for (const SafeTensor& t : f.tensors_) by_start.push_back(&t);
  std::sort(by_start.begin(), by_start.end(),
            [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_start.size(); ++i)
    if (by_start[i]->begin < by_start[i - 1]->end && by_start[i]->begin != by_start[i]->end)
      fail(where, "tensors '" + by_start[i - 1]->name + "' and '" + by_start[i]->name +
                      "' overlap in the data section");
  std::sort(f.tensors_.begin(), f.tensors_.end(),
            [](const SafeTensor& a, const SafeTensor& b) { return a.name < b.name; });
  return f;
}

void SafeTensorsFile::read_from_file(const SafeTensor& t, void* dst) const {
  file_->read_at(origin_, data_offset_ + t.begin, dst, static_cast<size_t>(t.end - t.begin));
}

std::vector<uint8_t> SafeTensorsFile::read_bytes(const SafeTensor& t) const {
  std::vector<uint8_t> bytes;
  const uint8_t* p = bytes_of(t, bytes);
  if (p != bytes.data()) bytes.assign(p, p + (t.end - t.begin));
  return bytes;
}

const uint8_t* SafeTensorsFile::bytes_of(const SafeTensor& t, std::vector<uint8_t>& scratch) const {
  if (bytes_) return bytes_->data() + data_offset_ + t.begin;
  scratch.resize(static_cast<size_t>(t.end - t.begin));
  read_from_file(t, scratch.data());
  return scratch.data();
}

const SafeTensor* SafeTensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafeTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

namespace {

// out[i] = convert(load_le<S>(p + i * sizeof(S))) for every element: the
// dtype is decided once per tensor, not per element (comparing dtype strings
// per element was a fifth of loading the MLP).
template <typename S, typename D, class Convert>
void convert_elements(const uint8_t* p, int64_t n, D* out, Convert&& convert) {
  for (int64_t i = 0; i < n; ++i) out[i] = convert(load_le<S>(p + i * static_cast<int64_t>(sizeof(S))));
}

}  // namespace

Tensor SafeTensorsFile::read_f32(const SafeTensor& t) const {
  Tensor out(t.shape, DType::kF32);
  float* dst = out.f32();
  const int64_t n = out.size();
  const std::string& d = t.dtype;
  auto as_float = [](auto v) { return static_cast<float>(v); };
  std::vector<uint8_t> scratch;
  if (d == "F32" && file_) {
    read_from_file(t, dst);  // little-endian hosts: the file's bytes are the floats
  } else {
    const uint8_t* p = bytes_of(t, scratch);
    if (d == "F32") convert_elements<float>(p, n, dst, as_float);
    else if (d == "F64") convert_elements<double>(p, n, dst, as_float);
    else if (d == "F16") convert_elements<uint16_t>(p, n, dst, half_to_float);
    else if (d == "BF16")
      convert_elements<uint16_t>(p, n, dst, [](uint16_t h) {
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float v;
        std::memcpy(&v, &bits, 4);
        return v;
      });
    else if (d == "I8") convert_elements<int8_t>(p, n, dst, as_float);
    else if (d == "U8" || d == "BOOL") convert_elements<uint8_t>(p, n, dst, as_float);
    else if (d == "I16") convert_elements<int16_t>(p, n, dst, as_float);
    else if (d == "U16") convert_elements<uint16_t>(p, n, dst, as_float);
    else if (d == "I32") convert_elements<int32_t>(p, n, dst, as_float);
    else if (d == "U32") convert_elements<uint32_t>(p, n, dst, as_float);
    else if (d == "I64") convert_elements<int64_t>(p, n, dst, as_float);
    else convert_elements<uint64_t>(p, n, dst, as_float);
  }
  require_finite(dst, n, origin_ + ": tensor '" + t.name + "'");
  return out;
}

Tensor SafeTensorsFile::read_i32(const SafeTensor& t) const {
  const std::string at = origin_ + ": tensor '" + t.name + "'";
  const std::string& d = t.dtype;
  if (d[0] == 'F' || d == "BF16") fail(at, "expected an integer dtype, got " + d);
  Tensor out(t.shape, DType::kI32);
  std::vector<uint8_t> scratch;
  const uint8_t* p = bytes_of(t, scratch);
  const int64_t n = out.size();
  int32_t* dst = out.i32();
  auto as_int = [](auto v) { return static_cast<int32_t>(v); };
  // Wider integers: each value checked against int32's range, the first
  // outside it named.
  auto checked = [&](auto tag) {
    using S = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      const S v = load_le<S>(p + i * static_cast<int64_t>(sizeof(S)));
      bool in_range;
      if constexpr (std::is_signed_v<S>)
        in_range = v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
      else
        in_range = v <= static_cast<S>(std::numeric_limits<int32_t>::max());
      if (!in_range) fail(at, "value out of int32 range at element " + std::to_string(i));
      dst[i] = static_cast<int32_t>(v);
    }
  };
  if (d == "I8") convert_elements<int8_t>(p, n, dst, as_int);
  else if (d == "U8" || d == "BOOL") convert_elements<uint8_t>(p, n, dst, as_int);
  else if (d == "I16") convert_elements<int16_t>(p, n, dst, as_int);
  else if (d == "U16") convert_elements<uint16_t>(p, n, dst, as_int);
  else if (d == "I32") convert_elements<int32_t>(p, n, dst, as_int);
  else if (d == "U32") checked(uint32_t{});
  else if (d == "I64") checked(int64_t{});
  else checked(uint64_t{});
  return out;
}

std::vector<uint8_t> encode_safetensors(
    const std::vector<std::pair<std::string, const Tensor*>>& tensors,
    const std::map<std::string, std::string>& metadata) {
  auto sorted = tensors;
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.first < b.first; });
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(t->size()) * 4;
    header[name] = {{"dtype", t->dtype() == DType::kF32 ? "F32" : "I32"},
                    {"shape", t->shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(text.size() >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const auto& [name, t] : sorted) {
    std::memcpy(p, t->i32(), static_cast<size_t>(t->size()) * 4);
    p += t->size() * 4;
  }
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::vector<uint8_t> bytes = encode_safetensors(tensors, metadata);
  // Write to a temporary name and rename, so a failed write never leaves a
  // file that looks complete.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot create file");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      out.close();
      std::remove(tmp.c_str());
      fail(path, "write error (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "cannot rename the temporary file");
}

}  // namespace bitlane
