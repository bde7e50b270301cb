// Per-format decoders behind decode_image (image.h). Internal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/image/image.h"

namespace bitlane {

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& name);
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name);
Image decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name);
Image decode_pnm(const std::vector<uint8_t>& bytes, const std::string& name);

// Throws unless 1 <= width, height and width * height <= the pixel limit.
void check_image_size(int64_t width, int64_t height, const std::string& name);

}  // namespace bitlane
