// max_pool2d, avg_pool2d (kernel, stride, padding [t, l, b, r], ceil_mode,
// count_include_pad as in PyTorch / ONNX) and global_avg_pool, on NCHW.
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/scratch.h"

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Pool2d : public Op {
 public:
  Pool2d(OpBuilder& b, bool is_max) : where_(b.where()), max_(is_max) {
    kernel_ = b.get_ints("kernel", {});
    if (kernel_.size() != 2 || kernel_[0] < 1 || kernel_[1] < 1)
      b.error("kernel", "must be two positive integers");
    stride_ = b.get_ints("stride", kernel_);
    padding_ = b.get_ints("padding", {0, 0, 0, 0});
    if (padding_.size() == 2) padding_ = {padding_[0], padding_[1], padding_[0], padding_[1]};
    if (stride_.size() != 2 || stride_[0] < 1 || stride_[1] < 1) b.error("stride", "must be two positive integers");
    if (padding_.size() != 4 || *std::min_element(padding_.begin(), padding_.end()) < 0)
      b.error("padding", "must be [top, left, bottom, right] of non-negative integers");
    if (padding_[0] * 2 > kernel_[0] || padding_[1] * 2 > kernel_[1])
      b.error("padding", "must not exceed half the kernel");
    ceil_ = b.get_bool("ceil_mode", false);
    include_pad_ = max_ ? false : b.get_bool("count_include_pad", false);
  }
  const char* type() const override { return max_ ? "max_pool2d" : "avg_pool2d"; }

  int64_t out_size(int64_t in, int axis) const {
    const int64_t span = in + padding_[axis] + padding_[axis + 2] - kernel_[axis];
    int64_t o = (ceil_ ? (span + stride_[axis] - 1) / stride_[axis] : span / stride_[axis]) + 1;
    if (ceil_ && (o - 1) * stride_[axis] >= in + padding_[axis]) --o;  // last window must start inside
    return o;
  }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    expect_rank(where_, in[0], 4, "input (N, C, H, W)");
    const int64_t oh = out_size(in[0][2], 0), ow = out_size(in[0][3], 1);
    if (oh < 1 || ow < 1 || in[0][2] + padding_[0] + padding_[2] < kernel_[0])
      fail(where_, "input shape " + shape_str(in[0]) + " is smaller than the pooling window");
    return {{in[0][0], in[0][1], oh, ow}};
  }

  DType output_dtype(const std::vector<DType>& in) const override { return in[0]; }
  bool accepts(const std::vector<DType>& in) const override { return in.size() == 1; }
  // A max pool keeps integers integers: the max of quantized values is the
  // quantized max (quantization is monotone).
  std::optional<QuantizedHandover> passes_through(const QuantizedHandover& out,
                                                  const std::vector<Shape>&) const override {
    if (!max_ || out.layout != Layout::kChannelsLast) return std::nullopt;
    return out;
  }

  ChannelsLast channels_last() const override { return ChannelsLast::kFollows; }

  // Every path runs image by image (plane by plane for NCHW floats) in
  // parallel; each output is computed by one thread in a fixed order.
  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Tensor& x = *in[0];
    Tensor& y = *out[0];
    const Shape& s = x.shape();
    const int64_t n = s[0], image_bytes = s[1] * s[2] * s[3] * static_cast<int64_t>(dtype_size(x.dtype()));
    auto images = [&](auto&& fn) {
      parallel_items(ctx, n, static_cast<size_t>(image_bytes), [&](size_t b, size_t e) {
        fn(static_cast<int64_t>(b), static_cast<int64_t>(e));
      });
    };
    if (x.layout() == Layout::kChannelsLast || x.dtype() != DType::kF32) {
      y.set_layout(Layout::kChannelsLast);
      switch (x.dtype()) {
        case DType::kF32:
          if (max_) images([&](int64_t b, int64_t e) { max_channels_last<float>(x, y, b, e); });
          else images([&](int64_t b, int64_t e) { avg_channels_last(x, y, b, e); });
          break;
        case DType::kU8: images([&](int64_t b, int64_t e) { max_channels_last<uint8_t>(x, y, b, e); }); break;
        case DType::kI8: images([&](int64_t b, int64_t e) { max_channels_last<int8_t>(x, y, b, e); }); break;
        default: images([&](int64_t b, int64_t e) { max_channels_last<int16_t>(x, y, b, e); });
      }
      return;
    }
    const int64_t h = s[2], w = s[3];
    parallel_items(ctx, n * s[1], static_cast<size_t>(h * w * 4), [&](size_t p0, size_t p1) {
      planes_nchw(x.f32(), h, w, y.shape()[2], y.shape()[3], static_cast<int64_t>(p0), static_cast<int64_t>(p1),
                  y.f32());
    });
  }

  // Planes [p0, p1) of NCHW floats.
  void planes_nchw(const float* src, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t p0, int64_t p1,
                   float* dst) const {
    const bool simple = max_ && kernel_ == std::vector<int64_t>{2, 2} && stride_ == kernel_ &&
                        padding_ == std::vector<int64_t>{0, 0, 0, 0} && 2 * oh <= h && 2 * ow <= w;
    for (int64_t p = p0; p < p1; ++p) {
      const float* x = src + p * h * w;
      float* y = dst + p * oh * ow;
      if (simple) {  // the common 2x2 max pool: no window bookkeeping
        for (int64_t oy = 0; oy < oh; ++oy) {
          const float* r0 = x + 2 * oy * w;
          const float* r1 = r0 + w;
          for (int64_t ox = 0; ox < ow; ++ox)
            y[oy * ow + ox] = std::max(std::max(r0[2 * ox], r0[2 * ox + 1]), std::max(r1[2 * ox], r1[2 * ox + 1]));
        }
        continue;
      }
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t y0 = oy * stride_[0] - padding_[0], x0 = ox * stride_[1] - padding_[1];
          const int64_t y1 = std::min(y0 + kernel_[0], h + padding_[2]);
          const int64_t x1 = std::min(x0 + kernel_[1], w + padding_[3]);
          const int64_t window = (y1 - y0) * (x1 - x0);
          float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.f;
          int64_t count = 0;
          for (int64_t yy = std::max<int64_t>(y0, 0); yy < std::min(y1, h); ++yy)
            for (int64_t xx = std::max<int64_t>(x0, 0); xx < std::min(x1, w); ++xx) {
              const float v = x[yy * w + xx];
              acc = max_ ? std::max(acc, v) : acc + v;
              ++count;
            }
          y[oy * ow + ox] = max_ ? acc : acc / static_cast<float>(include_pad_ ? window : count);
        }
    }
  }

  // Average pooling of images [b0, b1) of channels-last floats, in the
  // window order of the NCHW path (so both give the same sums).
  void avg_channels_last(const Tensor& x, Tensor& y, int64_t b0, int64_t b1) const {
    const Shape& s = x.shape();
    const int64_t c = s[1], h = s[2], w = s[3];
    const int64_t oh = y.shape()[2], ow = y.shape()[3];
    std::vector<float> acc(static_cast<size_t>(c));
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t y0 = oy * stride_[0] - padding_[0], x0 = ox * stride_[1] - padding_[1];
          const int64_t y1 = std::min(y0 + kernel_[0], h + padding_[2]);
          const int64_t x1 = std::min(x0 + kernel_[1], w + padding_[3]);
          const int64_t window = (y1 - y0) * (x1 - x0);
          std::fill(acc.begin(), acc.end(), 0.f);
          int64_t count = 0;
          for (int64_t yy = std::max<int64_t>(y0, 0); yy < std::min(y1, h); ++yy)
            for (int64_t xx = std::max<int64_t>(x0, 0); xx < std::min(x1, w); ++xx) {
              const float* v = x.f32() + ((b * h + yy) * w + xx) * c;
              for (int64_t ch = 0; ch < c; ++ch) acc[static_cast<size_t>(ch)] += v[ch];
              ++count;
            }
          float* o = y.f32() + ((b * oh + oy) * ow + ox) * c;
          const float div = static_cast<float>(include_pad_ ? window : count);
          for (int64_t ch = 0; ch < c; ++ch) o[ch] = acc[static_cast<size_t>(ch)] / div;
        }
  }

  // The 2x2 / stride 2 max pool of channels-last integers (any grouping gives
  // the same maximum), in contiguous passes the compiler vectorizes whatever
  // the channel count: the two input rows' maximum, then each pixel's with
  // its right neighbour's, then every other pixel kept. A per-pixel loop over
  // LeNet's 6 channels ran 4 loads and 3 maxima per byte.
  template <typename T>
  static void max2x2_integers(const T* src, T* dst, int64_t b0, int64_t b1, int64_t c, int64_t h, int64_t w,
                              int64_t oh, int64_t ow) {
    const size_t span = static_cast<size_t>(2 * ow * c);  // the input pixels an output row reads
    thread_local std::vector<T> rows, pairs;
    T* v = grow_scratch(rows, span);
    T* m = grow_scratch(pairs, span);
    const size_t cb = static_cast<size_t>(c) * sizeof(T);
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t oy = 0; oy < oh; ++oy) {
        const T* r0 = src + ((b * h + 2 * oy) * w) * c;
        const T* r1 = r0 + w * c;
        T* o = dst + ((b * oh + oy) * ow) * c;
        for (size_t i = 0; i < span; ++i) v[i] = std::max(r0[i], r1[i]);
        const size_t tail = span - static_cast<size_t>(c);
        for (size_t i = 0; i < tail; ++i) m[i] = std::max(v[i], v[i + static_cast<size_t>(c)]);
        // Pixel 2 ox of m is output pixel ox. A pixel of 4..8 bytes moves as
        // one 8-byte word (the next pixel's store overwrites the excess); the
        // last, and other sizes, exactly.
        int64_t ox = 0;
        if (cb >= 4 && cb <= 8)
          for (; ox + 1 < ow; ++ox) std::memcpy(o + ox * c, m + 2 * ox * c, 8);
        for (; ox < ow; ++ox) std::copy_n(m + 2 * ox * c, c, o + ox * c);
      }
  }

  // Max pooling of images [b0, b1) of channels-last integers or floats:
  // whole channel vectors at a time.
  template <typename T>
  void max_channels_last(const Tensor& x, Tensor& y, int64_t b0, int64_t b1) const {
    const Shape& s = x.shape();
    const int64_t c = s[1], h = s[2], w = s[3];
    const int64_t oh = y.shape()[2], ow = y.shape()[3];
    const T* src = x.as<T>();
    T* dst = y.as<T>();
    if (kernel_ == std::vector<int64_t>{2, 2} && stride_ == kernel_ && padding_ == std::vector<int64_t>{0, 0, 0, 0} &&
        2 * oh <= h && 2 * ow <= w) {
      if constexpr (std::is_integral_v<T>) {
        max2x2_integers(src, dst, b0, b1, c, h, w, oh, ow);
        return;
      }
      // The common 2x2 pool, grouped as the NCHW path groups it (the same
      // result for floats, signed zeros included).
      for (int64_t b = b0; b < b1; ++b)
        for (int64_t oy = 0; oy < oh; ++oy) {
          const T* r0 = src + ((b * h + 2 * oy) * w) * c;
          const T* r1 = r0 + w * c;
          T* o = dst + ((b * oh + oy) * ow) * c;
          for (int64_t ox = 0; ox < ow; ++ox) {
            const T* a0 = r0 + 2 * ox * c;
            const T* a1 = r1 + 2 * ox * c;
            for (int64_t ch = 0; ch < c; ++ch)
              o[ox * c + ch] = std::max(std::max(a0[ch], a0[c + ch]), std::max(a1[ch], a1[c + ch]));
          }
        }
      return;
    }
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          T* o = dst + ((b * oh + oy) * ow + ox) * c;
          const int64_t y0 = oy * stride_[0] - padding_[0], x0 = ox * stride_[1] - padding_[1];
          const int64_t y1 = std::min(y0 + kernel_[0], h), x1 = std::min(x0 + kernel_[1], w);
          bool first = true;
          for (int64_t yy = std::max<int64_t>(y0, 0); yy < y1; ++yy)
            for (int64_t xx = std::max<int64_t>(x0, 0); xx < x1; ++xx) {
              const T* v = src + ((b * h + yy) * w + xx) * c;
              if (first) {
                std::copy(v, v + c, o);
                first = false;
              } else {
                for (int64_t ch = 0; ch < c; ++ch) o[ch] = std::max(o[ch], v[ch]);
              }
            }
        }
  }

 private:
  std::string where_;
  bool max_, ceil_ = false, include_pad_ = false;
  std::vector<int64_t> kernel_, stride_, padding_;
};

class GlobalAvgPool : public Op {
 public:
  explicit GlobalAvgPool(OpBuilder& b) : where_(b.where()) {}
  const char* type() const override { return "global_avg_pool"; }
  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    expect_rank(where_, in[0], 4, "input (N, C, H, W)");
    if (in[0][2] < 1 || in[0][3] < 1) fail(where_, "empty spatial size in " + shape_str(in[0]));
    return {{in[0][0], in[0][1], 1, 1}};
  }
  ChannelsLast channels_last() const override { return ChannelsLast::kChooses; }
  void set_output_layout(int, Layout l) override { layout_ = l; }

  void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t planes = s[0] * s[1], area = s[2] * s[3], c = s[1];
    const bool nhwc = in[0]->layout() == Layout::kChannelsLast;
    out[0]->set_layout(layout_);  // [N, C, 1, 1]: the same bytes either way
    const float* x = in[0]->f32();
    float* y = out[0]->f32();
    // Each plane summed in pixel order, whatever the layout: channels-last
    // images add whole pixels (every channel's sum one lane of a vector the
    // compiler makes, in the same order as a plane's own loop).
    if (nhwc) {
      parallel_items(ctx, s[0], static_cast<size_t>(area * c * 4), [&](size_t b0, size_t b1) {
        thread_local std::vector<float> acc;
        float* a = grow_scratch(acc, static_cast<size_t>(c));
        for (auto b = static_cast<int64_t>(b0); b < static_cast<int64_t>(b1); ++b) {
          const float* xb = x + b * area * c;
          std::fill(a, a + c, 0.f);
          for (int64_t i = 0; i < area; ++i)
            for (int64_t ch = 0; ch < c; ++ch) a[ch] += xb[i * c + ch];
          for (int64_t ch = 0; ch < c; ++ch) y[b * c + ch] = a[ch] / static_cast<float>(area);
        }
      });
      return;
    }
    parallel_items(ctx, planes, static_cast<size_t>(area * 4), [&](size_t p0, size_t p1) {
      for (auto p = static_cast<int64_t>(p0); p < static_cast<int64_t>(p1); ++p) {
        const float* xp = x + p * area;
        float acc = 0.f;
        for (int64_t i = 0; i < area; ++i) acc += xp[i];
        y[p] = acc / static_cast<float>(area);
      }
    });
  }

 private:
  std::string where_;
  Layout layout_ = Layout::kAsShape;
};

}  // namespace

std::unique_ptr<Op> make_max_pool2d(OpBuilder& b) { return std::make_unique<Pool2d>(b, true); }
std::unique_ptr<Op> make_avg_pool2d(OpBuilder& b) { return std::make_unique<Pool2d>(b, false); }
std::unique_ptr<Op> make_global_avg_pool(OpBuilder& b) { return std::make_unique<GlobalAvgPool>(b); }

}  // namespace bitlane::ops
