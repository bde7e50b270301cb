#include <algorithm>
#include <cmath>

#include "runtime/image/image.h"

namespace bitlane {
namespace {

// Channel value of pixel (x, y) in the model's colour order.
float source(const Image& img, int64_t x, int64_t y, int c, const std::string& color) {
  const float* p = img.pixels.data() + (y * img.width + x) * img.channels;
  const bool gray_in = img.channels <= 2;
  if (color == "gray") return gray_in ? p[0] : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
  if (gray_in) return p[0];
  return color == "bgr" ? p[2 - c] : p[c];
}

}  // namespace

void preprocess(const Image& img, const Preprocessing& p, float* dst) {
  const int channels = p.color == "gray" ? 1 : 3;
  const double sy = static_cast<double>(img.height) / static_cast<double>(p.height);
  const double sx = static_cast<double>(img.width) / static_cast<double>(p.width);
  for (int c = 0; c < channels; ++c)
    for (int64_t y = 0; y < p.height; ++y)
      for (int64_t x = 0; x < p.width; ++x) {
        float v;
        if (p.resize == "nearest" || (img.width == p.width && img.height == p.height)) {
          const int64_t ix = std::min<int64_t>(img.width - 1, static_cast<int64_t>((x + 0.5) * sx));
          const int64_t iy = std::min<int64_t>(img.height - 1, static_cast<int64_t>((y + 0.5) * sy));
          v = source(img, ix, iy, c, p.color);
        } else {  // bilinear, half-pixel centres, edges clamped
          const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(img.width - 1));
          const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(img.height - 1));
          const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
          const int64_t x1 = std::min(x0 + 1, img.width - 1), y1 = std::min(y0 + 1, img.height - 1);
          const double ax = fx - static_cast<double>(x0), ay = fy - static_cast<double>(y0);
          v = static_cast<float>((1 - ay) * ((1 - ax) * source(img, x0, y0, c, p.color) + ax * source(img, x1, y0, c, p.color)) +
                                 ay * ((1 - ax) * source(img, x0, y1, c, p.color) + ax * source(img, x1, y1, c, p.color)));
        }
        dst[(c * p.height + y) * p.width + x] = (v * p.scale - p.mean[static_cast<size_t>(c)]) / p.std[static_cast<size_t>(c)];
      }
}

}  // namespace bitlane
