// The common PNG (8-bit gray, gray+alpha, RGB or RGBA, not interlaced, no
// palette or tRNS) inflated in one call over the whole image, by libdeflate.
//
// Why not libpng for these too: libpng inflates one row at a time, and with
// row-sized output zlib never takes its fast path; with libpng's per-file
// set-up that made a 28x28 gray PNG cost ~10 us (bench/bitlane_decode: 4.6
// us here), half of `bitlane run`'s time per image at 4 bits. libdeflate
// rather than zlib's one-shot inflate: on streams this small zlib spends
// most of its time building Huffman tables and leaving its fast path near
// the end of the output (7.3 us). Anything outside the common case, or
// anything this reader finds wrong (a CRC, a chunk out of place, a zlib
// stream that is short, long or corrupt, an unknown filter), is left to
// libpng, so errors and unusual files behave exactly as before.
#include <libdeflate.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "core/limits.h"
#include "runtime/image/decoders.h"

namespace bitlane {
namespace {

// Row buffers up to this size stay with the thread for the next image.
constexpr size_t kKeptBytes = size_t{1} << 20;

// Room past the image's bytes for libdeflate's fast loop, which writes whole
// words and so stops a longest match (258) and a few words short of the end
// of the buffer it is given: without the room, the last ~300 of a 28x28
// image's 812 bytes went through the slow loop (10% of libdeflate's
// instructions here). Only a stream that ends exactly at the image's size
// is taken.
constexpr size_t kSlack = 320;

bool is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// One libdeflate decompressor per thread (allocating one costs ~30 KB).
struct Inflater {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() { libdeflate_free_decompressor(d); }
  // Inflates the zlib stream `in` (adler32 checked) into exactly `size`
  // bytes at `out` (which has kSlack more); the stream must end there and
  // fill all of `in`.
  bool run(const uint8_t* in, size_t in_size, uint8_t* out, size_t size) {
    size_t in_used = 0, out_used = 0;
    return d &&
           libdeflate_zlib_decompress_ex(d, in, in_size, out, size + kSlack, &in_used, &out_used) ==
               LIBDEFLATE_SUCCESS &&
           in_used == in_size && out_used == size;
  }
};

// The predictor closest to a + b - c (ties: a, then b), as selects rather
// than the specification's if-chain: the branches mispredicted on image
// data, and Paeth rows of one byte per pixel are one long dependency chain.
uint8_t paeth(uint8_t a, uint8_t b, uint8_t c) {
  const int pa = std::abs(int{b} - c), pb = std::abs(int{a} - c), pc = std::abs(int{a} + b - 2 * c);
  const int ab = pb < pa ? b : a, nearest = pb < pa ? pb : pa;
  return static_cast<uint8_t>(pc < nearest ? c : ab);
}

// Undoes one row's filter in place, BPP bytes per pixel; `prev` is the row
// above, unfiltered (zeros for the first row). False for an unknown filter
// type. The left pixel (and, for Paeth, the one above it) stays in
// registers: read back from the row, each byte waited for the store of the
// byte before it (perf annotate: that load was the decoder's hottest
// instruction).
template <size_t BPP>
bool unfilter_row(uint8_t type, uint8_t* row, const uint8_t* prev, size_t n) {
  uint8_t left[BPP] = {}, up_left[BPP] = {};  // the first pixel has neither (0)
  switch (type) {
    case 0:
      return true;
    case 1:
      for (size_t i = 0; i < n; i += BPP)
        for (size_t k = 0; k < BPP; ++k) row[i + k] = left[k] = static_cast<uint8_t>(row[i + k] + left[k]);
      return true;
    case 2:
      for (size_t i = 0; i < n; ++i) row[i] = static_cast<uint8_t>(row[i] + prev[i]);
      return true;
    case 3:
      for (size_t i = 0; i < n; i += BPP)
        for (size_t k = 0; k < BPP; ++k)
          row[i + k] = left[k] = static_cast<uint8_t>(row[i + k] + ((left[k] + prev[i + k]) >> 1));
      return true;
    case 4:
      for (size_t i = 0; i < n; i += BPP)
        for (size_t k = 0; k < BPP; ++k) {
          const uint8_t up = prev[i + k];
          row[i + k] = left[k] = static_cast<uint8_t>(row[i + k] + paeth(left[k], up, up_left[k]));
          up_left[k] = up;
        }
      return true;
    default:
      return false;
  }
}

bool unfilter(uint8_t type, uint8_t* row, const uint8_t* prev, size_t n, size_t bpp) {
  switch (bpp) {
    case 1: return unfilter_row<1>(type, row, prev, n);
    case 2: return unfilter_row<2>(type, row, prev, n);
    case 3: return unfilter_row<3>(type, row, prev, n);
    default: return unfilter_row<4>(type, row, prev, n);
  }
}

}  // namespace

std::optional<Image> decode_png_direct(const uint8_t* data, size_t size) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return std::nullopt;
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> joined;  // the IDAT payloads when there are several
  const uint8_t* idat = nullptr;
  size_t idat_size = 0, idat_count = 0;
  bool idat_closed = false, ended = false;
  for (size_t pos = 8; !ended;) {
    if (size - pos < 12) return std::nullopt;
    const uint32_t length = read_be32(data + pos);
    const uint8_t* type = data + pos + 4;
    const uint8_t* body = type + 4;
    if (length > 0x7fffffffu || length > size - pos - 12) return std::nullopt;
    if (!is_letter(type[0]) || !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3])) return std::nullopt;
    if (libdeflate_crc32(0, type, length + 4) != read_be32(body + length)) return std::nullopt;
    const bool first = pos == 8;
    pos += 12 + size_t{length};
    auto is = [&](const char* name) { return std::memcmp(type, name, 4) == 0; };
    if (first != is("IHDR")) return std::nullopt;  // IHDR first, and only there
    if (is("IHDR")) {
      if (length != 13) return std::nullopt;
      width = read_be32(body);
      height = read_be32(body + 4);
      const uint8_t depth = body[8], color = body[9];
      channels = color == 0 ? 1 : color == 4 ? 2 : color == 2 ? 3 : color == 6 ? 4 : 0;
      // Compression, filter method and interlace all 0; 8 bits per sample.
      if (depth != 8 || channels == 0 || body[10] || body[11] || body[12]) return std::nullopt;
      if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu ||
          uint64_t{width} * height > limits().max_image_pixels)
        return std::nullopt;
    } else if (is("IDAT")) {
      if (idat_closed) return std::nullopt;  // IDATs must be consecutive
      if (idat_count++ == 0) {
        idat = body;
        idat_size = length;
      } else {
        if (idat_count == 2) joined.assign(idat, idat + idat_size);
        joined.insert(joined.end(), body, body + length);
      }
    } else if (is("IEND")) {
      ended = true;
    } else if ((type[0] >= 'A' && type[0] <= 'Z') || is("tRNS")) {
      return std::nullopt;  // PLTE, unknown critical chunks, transparency: libpng's
    }
    if (idat_count && !is("IDAT")) idat_closed = true;
  }
  if (idat_count == 0) return std::nullopt;
  if (idat_count > 1) {
    idat = joined.data();
    idat_size = joined.size();
  }

  const size_t stride = size_t{width} * static_cast<size_t>(channels);
  // Deflate expands at most 1032:1; a header promising more than the data
  // can hold is damaged (libpng says how), so nothing is allocated for it.
  const size_t raw_size = (stride + 1) * height;
  if (raw_size / 1032 > idat_size + 1) return std::nullopt;
  // Per row: the filter byte, then the filtered samples. Each thread keeps
  // a buffer for small images; a large one is freed when done.
  thread_local std::vector<uint8_t> kept;
  std::vector<uint8_t> large;
  std::vector<uint8_t>& raw = raw_size <= kKeptBytes ? kept : large;
  raw.resize(raw_size + kSlack);
  thread_local Inflater inflater;
  if (!inflater.run(idat, idat_size, raw.data(), raw_size)) return std::nullopt;

  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.format = "png";
  img.pixels.resize(stride * height);
  // The row above the first: zeros, kept by the thread like `kept` (nothing
  // writes them), not allocated per image.
  thread_local std::vector<uint8_t> zeros;
  if (zeros.size() < stride) zeros.resize(stride);
  const uint8_t* prev = zeros.data();
  for (size_t y = 0; y < height; ++y) {
    uint8_t* row = raw.data() + y * (stride + 1);
    if (!unfilter(row[0], row + 1, prev, stride, static_cast<size_t>(channels))) return std::nullopt;
    float* out = img.pixels.data() + y * stride;
    for (size_t i = 0; i < stride; ++i) out[i] = row[1 + i];
    prev = row + 1;
  }
  return img;
}

}  // namespace bitlane
