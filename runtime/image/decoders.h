// Per-format decoders behind decode_image (image.h). Internal.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/image/image.h"

namespace bitlane {

// decode_png takes the common case to decode_png_direct (png_direct.cc) and
// everything else, errors included, to libpng (decode_png_libpng).
Image decode_png(std::span<const uint8_t> bytes, const std::string& name);
Image decode_png_libpng(std::span<const uint8_t> bytes, const std::string& name);
// 8-bit gray / gray+alpha / RGB / RGBA, not interlaced, no PLTE or tRNS, every
// chunk and the zlib stream intact; std::nullopt for anything else.
std::optional<Image> decode_png_direct(const uint8_t* data, size_t size);
Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name);
Image decode_bmp(std::span<const uint8_t> bytes, const std::string& name);
Image decode_pnm(std::span<const uint8_t> bytes, const std::string& name);

// The big-endian 32-bit integer at p (PNG's lengths and sizes).
inline uint32_t read_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// Throws unless 1 <= width, height and width * height <= the pixel limit.
void check_image_size(int64_t width, int64_t height, const std::string& name);

}  // namespace bitlane
