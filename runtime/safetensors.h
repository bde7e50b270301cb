// The .safetensors weight format: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, optional
// "__metadata__": {string: string}}, then the raw little-endian data. Readable
// and writable from PyTorch and numpy, so it is bitlane's weight file.
//
// Loading validates everything before anything is allocated from the file's
// claims: header length against the file, offsets inside the data and not
// overlapping, shape x dtype size equal to the byte range, duplicate names,
// unknown dtypes, and the limits of core/limits.h. Errors name the file and
// the tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace bitlane {

struct SafeTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "F64", "I8".."I64", "U8".."U64", "BOOL"
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range within the data section
};

class SafeTensorsFile {
 public:
  // Reads and validates a file's header; each tensor's bytes are read from
  // the file when read_f32 / read_i32 asks for them (float32 data straight
  // into its tensor), so loading never holds the file and the tensors at
  // once. The file stays open while this object (or a copy) lives.
  static SafeTensorsFile load(const std::string& path);
  // Parses bytes already in memory (firmware images, the C API); `origin`
  // names them in errors.
  static SafeTensorsFile parse(std::vector<uint8_t> bytes, std::string origin);

  const std::string& origin() const { return origin_; }
  const std::vector<SafeTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafeTensor* find(std::string_view name) const;

  // The tensor's values as float32 (from any float or integer dtype); NaN or
  // infinite values are an error naming the tensor.
  Tensor read_f32(const SafeTensor& t) const;
  // Integer dtypes as int32 (values outside int32 are an error).
  Tensor read_i32(const SafeTensor& t) const;
  // The tensor's bytes as stored (little-endian), e.g. U8 images.
  std::vector<uint8_t> read_bytes(const SafeTensor& t) const;

 private:
  struct OpenFile;
  // The header (the bytes after the length) against a file of file_size bytes.
  static SafeTensorsFile parse_header(const uint8_t* header, uint64_t header_len, uint64_t file_size,
                                      std::string origin);
  // t's bytes: in place when the file is in memory, else read into scratch.
  const uint8_t* bytes_of(const SafeTensor& t, std::vector<uint8_t>& scratch) const;
  // Reads t's bytes from the file into dst.
  void read_from_file(const SafeTensor& t, void* dst) const;

  std::string origin_;
  std::shared_ptr<std::vector<uint8_t>> bytes_;  // parse(): the whole file
  std::shared_ptr<const OpenFile> file_;        // load(): read tensor by tensor
  uint64_t data_offset_ = 0;                    // where the data section starts
  std::vector<SafeTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Bytes per element of a safetensors dtype, or 0 if unknown.
int dtype_bytes(std::string_view dtype);

// Encodes tensors (F32 or I32) in the safetensors format, sorted by name.
std::vector<uint8_t> encode_safetensors(
    const std::vector<std::pair<std::string, const Tensor*>>& tensors,
    const std::map<std::string, std::string>& metadata = {});
// The same written to a file (via a temporary name and a rename).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a whole file, refusing files above limits().max_file_bytes.
std::vector<uint8_t> read_file(const std::string& path);
// The same file, checked the same way, handed to fn(bytes, n) in pieces of
// up to `piece` bytes through one buffer: for readers that only pass over it
// (a hash), which then touch a piece's worth of fresh memory, not the file's.
void read_file_pieces(const std::string& path, size_t piece, const std::function<void(const uint8_t*, size_t)>& fn);

}  // namespace bitlane
