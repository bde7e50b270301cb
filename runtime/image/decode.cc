#include <cstring>
#include <span>

#include "core/error.h"
#include "core/limits.h"
#include "runtime/image/decoders.h"
#include "runtime/image/image.h"
#include "runtime/safetensors.h"

namespace bitlane {

void check_image_size(int64_t width, int64_t height, const std::string& name) {
  if (width < 1 || height < 1)
    fail(name, "image has no pixels (" + std::to_string(width) + "x" + std::to_string(height) + ")");
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (width > (int64_t{1} << 30) || height > (int64_t{1} << 30) || pixels > limits().max_image_pixels)
    fail(name, "image of " + std::to_string(width) + "x" + std::to_string(height) +
                   " pixels exceeds the limit of " + std::to_string(limits().max_image_pixels) + " pixels");
}

Image decode_image(std::span<const uint8_t> b, const std::string& name) {
  if (b.empty()) fail(name, "empty file");
  auto starts = [&](const char* magic, size_t n) { return b.size() >= n && std::memcmp(b.data(), magic, n) == 0; };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return decode_png(b, name);
  if (starts("\xFF\xD8\xFF", 3)) return decode_jpeg(b, name);
  if (starts("BM", 2)) return decode_bmp(b, name);
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '2' && b[1] <= '6' && b[1] != '4') return decode_pnm(b, name);
  if (b.size() >= 2 && b[0] == 'P' && (b[1] == '1' || b[1] == '4'))
    fail(name, "PBM (1-bit) images are not supported; convert to PGM");
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i)
    head += (b[i] >= 32 && b[i] < 127) ? static_cast<char>(b[i]) : '.';
  fail(name, "not a PNG, JPEG, BMP or PGM/PPM image (file starts with \"" + head + "\")");
}

Image load_image(const std::string& path) { return decode_image(read_file(path), path); }

}  // namespace bitlane
