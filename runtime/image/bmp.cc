// BMP (Windows bitmap): BITMAPINFOHEADER and later, bottom-up or top-down,
// 1/4/8-bit palettes, 16/24/32-bit pixels, uncompressed or BI_BITFIELDS.
// Written here (no Debian library decodes BMP alone); every offset and size
// is checked against the file before it is used.
#include <cstring>
#include <span>

#include "core/error.h"
#include "runtime/image/decoders.h"

namespace bitlane {
namespace {

uint32_t u32(std::span<const uint8_t> b, size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}
uint16_t u16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] | b[at + 1] << 8);
}

// Value of the bits under `mask` scaled to 0..255.
float channel(uint32_t px, uint32_t mask) {
  if (!mask) return 0.f;
  int shift = 0;
  while (!((mask >> shift) & 1)) ++shift;
  const uint32_t max = mask >> shift;
  return static_cast<float>((px & mask) >> shift) * 255.f / static_cast<float>(max);
}

}  // namespace

Image decode_bmp(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() < 54) fail(name, "truncated BMP: " + std::to_string(b.size()) + " bytes, headers need 54");
  const uint32_t data_offset = u32(b, 10), header_size = u32(b, 14);
  if (header_size < 40 || 14 + static_cast<uint64_t>(header_size) > b.size())
    fail(name, "unsupported or truncated BMP header (size " + std::to_string(header_size) + ")");
  const int32_t width = static_cast<int32_t>(u32(b, 18));
  int32_t height = static_cast<int32_t>(u32(b, 22));
  const uint16_t bpp = u16(b, 28);
  const uint32_t compression = u32(b, 30);
  const bool top_down = height < 0;
  if (height == INT32_MIN) fail(name, "invalid BMP height");
  if (top_down) height = -height;
  check_image_size(width, height, name);
  if (compression != 0 && compression != 3)
    fail(name, "compressed BMP (method " + std::to_string(compression) + ") is not supported");
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    fail(name, "BMP with " + std::to_string(bpp) + " bits per pixel is not supported");
  const uint64_t stride = (static_cast<uint64_t>(width) * bpp + 31) / 32 * 4;
  if (data_offset > b.size() || stride * static_cast<uint64_t>(height) > b.size() - data_offset)
    fail(name, "truncated BMP: pixel data exceeds the file");

  uint32_t masks[4] = {0x00FF0000u, 0x0000FF00u, 0x000000FFu, 0};  // r, g, b, a
  if (bpp == 16) {
    masks[0] = 0x7C00u;
    masks[1] = 0x03E0u;
    masks[2] = 0x001Fu;
  }
  if (compression == 3) {
    if (bpp != 16 && bpp != 32) fail(name, "BI_BITFIELDS needs 16 or 32 bits per pixel");
    const size_t at = header_size >= 52 ? 54 : 14 + header_size;
    if (at + 12 > b.size()) fail(name, "truncated BMP: bit field masks missing");
    for (int i = 0; i < 3; ++i) masks[i] = u32(b, at + 4 * static_cast<size_t>(i));
    if (header_size >= 56) masks[3] = u32(b, 54 + 12);
  }
  std::vector<uint8_t> palette;  // BGRA quads
  if (bpp <= 8) {
    uint32_t colors = u32(b, 46);
    if (colors == 0) colors = 1u << bpp;
    if (colors > (1u << bpp)) fail(name, "BMP palette larger than the bit depth allows");
    const uint64_t at = 14 + static_cast<uint64_t>(header_size);
    if (at + 4ull * colors > data_offset) fail(name, "truncated BMP palette");
    palette.assign(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + 4ull * colors));
  }
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.format = "bmp";
  img.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = b.data() + data_offset + stride * static_cast<uint64_t>(top_down ? y : height - 1 - y);
    float* dst = img.pixels.data() + static_cast<size_t>(y * width * 3);
    for (int64_t x = 0; x < width; ++x, dst += 3) {
      if (bpp <= 8) {
        const int64_t bit = x * bpp;
        const uint32_t index = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
        if (4 * static_cast<size_t>(index) + 2 >= palette.size()) fail(name, "BMP pixel refers past the palette");
        dst[0] = palette[4 * index + 2];
        dst[1] = palette[4 * index + 1];
        dst[2] = palette[4 * index];
        continue;
      }
      uint32_t px = 0;
      for (int i = 0; i < bpp / 8; ++i) px |= uint32_t{row[x * (bpp / 8) + i]} << (8 * i);
      for (int c = 0; c < 3; ++c) dst[c] = channel(px, masks[c]);
    }
  }
  return img;
}

}  // namespace bitlane
