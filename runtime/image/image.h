// Decoded images and their conversion into a model's input tensor.
//
// Decoding goes by the file's first bytes, not its name: PNG (1-16 bit gray,
// gray+alpha, RGB, RGBA, palette; 8-bit non-interlaced files inflated in one
// libdeflate call, the rest and every damaged file through libpng), JPEG (libjpeg-turbo; gray, RGB,
// YCbCr), BMP (1/4/8-bit palette, 16/24/32-bit, uncompressed or bit fields)
// and PGM/PPM (P2, P3, P5, P6, up to 16 bits). Dimensions are checked against
// limits().max_image_pixels from the header, before any pixel is allocated.
// Errors name the file and the reason.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace bitlane {

struct Image {
  int64_t width = 0, height = 0;
  int channels = 0;            // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  std::vector<float> pixels;   // interleaved, 0..255 whatever the bit depth
  std::string format;          // "png", "jpeg", "bmp", "pnm"
};

Image decode_image(std::span<const uint8_t> bytes, const std::string& name);
Image load_image(const std::string& path);

// Colour conversion (alpha dropped, RGB->gray by BT.601 luma), resize
// (bilinear with half-pixel centres, or nearest) and normalisation
// ((pixel * scale - mean) / std) into CHW floats at `dst`.
void preprocess(const Image& img, const Preprocessing& p, float* dst);

}  // namespace bitlane
