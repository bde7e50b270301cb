#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/image/image.h"

namespace bitlane {
namespace {

enum class Order { kGray, kRgb, kBgr };

// Channel c of the pixel at p in the model's colour order.
float channel_value(const float* p, int img_channels, int c, Order order) {
  const bool gray_in = img_channels <= 2;
  if (order == Order::kGray) return gray_in ? p[0] : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
  if (gray_in) return p[0];
  return order == Order::kBgr ? p[2 - c] : p[c];
}

// Bilinear sampling along one axis (half-pixel centres, edges clamped): for
// each output coordinate the two source coordinates and the weight of the
// second.
struct Taps {
  std::vector<int64_t> lo, hi;
  std::vector<double> weight;
};

Taps bilinear_taps(int64_t out, int64_t in) {
  const double s = static_cast<double>(in) / static_cast<double>(out);
  Taps t{std::vector<int64_t>(static_cast<size_t>(out)), std::vector<int64_t>(static_cast<size_t>(out)),
         std::vector<double>(static_cast<size_t>(out))};
  for (int64_t i = 0; i < out; ++i) {
    const double f = std::clamp((i + 0.5) * s - 0.5, 0.0, static_cast<double>(in - 1));
    const auto k = static_cast<size_t>(i);
    t.lo[k] = static_cast<int64_t>(f);
    t.hi[k] = std::min(t.lo[k] + 1, in - 1);
    t.weight[k] = f - static_cast<double>(t.lo[k]);
  }
  return t;
}

std::vector<int64_t> nearest_taps(int64_t out, int64_t in) {
  const double s = static_cast<double>(in) / static_cast<double>(out);
  std::vector<int64_t> t(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) t[static_cast<size_t>(i)] = std::min<int64_t>(in - 1, static_cast<int64_t>((i + 0.5) * s));
  return t;
}

// The image already has the model's size: no sampling, one pass per channel
// over the pixels in order -- for one-channel images a loop the compiler
// vectorizes (a division per value was most of this function's time on
// 28x28 images). The same operations as the sampling paths, so the same bits.
void same_size(const Image& img, const Preprocessing& p, Order order, int channels, float* dst) {
  const size_t n = static_cast<size_t>(p.width * p.height);
  const int ic = img.channels;
  const float* px = img.pixels.data();
  const float scale = p.scale;
  for (int c = 0; c < channels; ++c) {
    const float mean = p.mean[static_cast<size_t>(c)], sd = p.std[static_cast<size_t>(c)];
    float* out = dst + static_cast<size_t>(c) * n;
    if (ic == 1) {
      for (size_t i = 0; i < n; ++i) out[i] = (px[i] * scale - mean) / sd;
    } else {
      for (size_t i = 0; i < n; ++i) out[i] = (channel_value(px + i * static_cast<size_t>(ic), ic, c, order) * scale - mean) / sd;
    }
  }
}

}  // namespace

// The colour order, resize mode and per-axis sampling positions are worked
// out once per image, not per output value (folders of small images spent
// a tenth of `bitlane run` comparing the option strings per pixel).
void preprocess(const Image& img, const Preprocessing& p, float* dst) {
  const Order order = p.color == "gray" ? Order::kGray : p.color == "bgr" ? Order::kBgr : Order::kRgb;
  const int channels = order == Order::kGray ? 1 : 3;
  const int ic = img.channels;
  auto at = [&](int64_t x, int64_t y) { return img.pixels.data() + (y * img.width + x) * ic; };
  auto store = [&](int c, int64_t y, int64_t x, float v) {
    dst[(c * p.height + y) * p.width + x] = (v * p.scale - p.mean[static_cast<size_t>(c)]) / p.std[static_cast<size_t>(c)];
  };
  if (img.width == p.width && img.height == p.height) return same_size(img, p, order, channels, dst);
  if (p.resize == "nearest") {
    const std::vector<int64_t> xs = nearest_taps(p.width, img.width), ys = nearest_taps(p.height, img.height);
    for (int c = 0; c < channels; ++c)
      for (int64_t y = 0; y < p.height; ++y)
        for (int64_t x = 0; x < p.width; ++x)
          store(c, y, x, channel_value(at(xs[static_cast<size_t>(x)], ys[static_cast<size_t>(y)]), ic, c, order));
    return;
  }
  const Taps tx = bilinear_taps(p.width, img.width), ty = bilinear_taps(p.height, img.height);
  for (int c = 0; c < channels; ++c)
    for (int64_t y = 0; y < p.height; ++y) {
      const auto j = static_cast<size_t>(y);
      const double ay = ty.weight[j];
      for (int64_t x = 0; x < p.width; ++x) {
        const auto i = static_cast<size_t>(x);
        const double ax = tx.weight[i];
        auto v = [&](int64_t sx, int64_t sy) { return channel_value(at(sx, sy), ic, c, order); };
        store(c, y, x,
              static_cast<float>((1 - ay) * ((1 - ax) * v(tx.lo[i], ty.lo[j]) + ax * v(tx.hi[i], ty.lo[j])) +
                                 ay * ((1 - ax) * v(tx.lo[i], ty.hi[j]) + ax * v(tx.hi[i], ty.hi[j]))));
      }
    }
}

}  // namespace bitlane
