// Image decoding against files written by another tool (PIL, see
// models/scripts/make_images.py) with known pixels, the broken files of
// models/data/bad, and preprocessing on hand-worked cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/image/image.h"
#include "tests/test_paths.h"

using namespace bitlane;

namespace {

nlohmann::json expected() {
  std::ifstream in(test::source_path("models/data/formats/formats.json"));
  return nlohmann::json::parse(in);
}

// Max |decoded - expected| over all pixels and channels.
double max_diff(const Image& img, const nlohmann::json& want, int want_channels) {
  REQUIRE(img.height == static_cast<int64_t>(want.size()));
  REQUIRE(img.width == static_cast<int64_t>(want[0].size()));
  double worst = 0;
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x)
      for (int c = 0; c < want_channels; ++c) {
        const double w = want_channels == 1 ? want[y][x].get<double>() : want[y][x][c].get<double>();
        worst = std::max(worst, std::abs(img.pixels[static_cast<size_t>((y * img.width + x) * img.channels + c)] - w));
      }
  return worst;
}

std::string error_of(const std::string& file) {
  try {
    load_image(test::source_path("models/data/bad/" + file));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("decoders reproduce the pixels another tool wrote") {
  const auto want = expected();
  auto load = [](const char* f) { return load_image(test::source_path(std::string("models/data/formats/") + f)); };
  CHECK(max_diff(load("rgb.png"), want["rgb"], 3) == 0);
  CHECK(max_diff(load("gray.png"), want["gray"], 1) == 0);
  CHECK(max_diff(load("gray16.png"), want["gray16"], 1) == 0);  // 16 -> 8 bits, rounded
  CHECK(max_diff(load("rgba.png"), want["rgb"], 3) == 0);
  CHECK(load("rgba.png").channels == 4);
  CHECK(max_diff(load("palette.png"), want["palette"], 3) == 0);
  CHECK(max_diff(load("rgb.bmp"), want["rgb"], 3) == 0);
  CHECK(max_diff(load("gray8.bmp"), want["gray"], 1) == 0);
  CHECK(max_diff(load("rgb.ppm"), want["rgb"], 3) == 0);
  CHECK(max_diff(load("gray.pgm"), want["gray"], 1) == 0);
  CHECK(max_diff(load("gray-ascii.pgm"), want["gray"], 1) == 0);
  CHECK(max_diff(load("rgb.jpg"), want["rgb"], 3) <= 8);  // lossy, quality 100
}

TEST_CASE("broken files give a clear error naming the file") {
  CHECK(error_of("empty.png").find("empty.png: empty file") != std::string::npos);
  CHECK(error_of("truncated.png").find("truncated.png: invalid PNG") != std::string::npos);
  CHECK(error_of("text-named.png").find("text-named.png: not a PNG, JPEG, BMP or PGM/PPM image") !=
        std::string::npos);
  CHECK(error_of("huge-header.png").find("image of 100000x100000 pixels exceeds the limit") != std::string::npos);
  CHECK(error_of("bad-crc.png").find("invalid PNG") != std::string::npos);
  CHECK(error_of("truncated.jpg").find("invalid JPEG") != std::string::npos);
  CHECK(error_of("truncated.bmp").find("truncated BMP") != std::string::npos);
  CHECK(error_of("bad-maxval.pgm").find("invalid PNM maxval 70000") != std::string::npos);
  CHECK(error_of("zero-size.ppm").find("image has no pixels") != std::string::npos);
}

TEST_CASE("a PNG claiming 100000 x 100000 pixels is refused without allocating") {
  // Under a 256 MB address-space cap the decoder must refuse from the header.
  rlimit old{};
  getrlimit(RLIMIT_AS, &old);
  // Sanitizer builds reserve huge shadow regions: only cap plain builds.
  if (!test::under_sanitizer()) {
    rlimit cap{old.rlim_cur, old.rlim_max};
    cap.rlim_cur = std::min<rlim_t>(old.rlim_max, rlim_t{1} << 33);
    setrlimit(RLIMIT_AS, &cap);
  }
  CHECK_THROWS_WITH_AS(load_image(test::source_path("models/data/bad/huge-header.png")),
                       doctest::Contains("exceeds the limit"), Error);
  setrlimit(RLIMIT_AS, &old);
}

TEST_CASE("preprocessing: colour conversion, resize and normalisation") {
  Image img;
  img.width = 2;
  img.height = 1;
  img.channels = 3;
  img.pixels = {255, 0, 0, 0, 0, 255};  // red, blue
  Preprocessing p;
  p.color = "gray";
  p.height = 1;
  p.width = 2;
  p.scale = 1.f;
  p.mean = {0};
  p.std = {1};
  float out[6];
  preprocess(img, p, out);
  CHECK(out[0] == doctest::Approx(0.299 * 255));
  CHECK(out[1] == doctest::Approx(0.114 * 255));
  p.color = "bgr";
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  preprocess(img, p, out);  // channel 0 is blue
  CHECK(out[0] == 0);
  CHECK(out[1] == 255);
  // Upscaling 2x1 -> 4x1 bilinear, half-pixel centres: 0, 0.25, 0.75, 1 of the way.
  img.channels = 1;
  img.pixels = {0, 100};
  p.color = "gray";
  p.mean = {10};
  p.std = {2};
  p.width = 4;
  preprocess(img, p, out);
  CHECK(out[0] == doctest::Approx((0 - 10) / 2.0));
  CHECK(out[1] == doctest::Approx((25 - 10) / 2.0));
  CHECK(out[2] == doctest::Approx((75 - 10) / 2.0));
  CHECK(out[3] == doctest::Approx((100 - 10) / 2.0));
}

namespace {

// preprocess as first written, one output value at a time: the reference for
// the version that works out the sampling positions once per image.
void preprocess_per_value(const Image& img, const Preprocessing& p, float* dst) {
  auto source = [&](int64_t x, int64_t y, int c) -> float {
    const float* px = img.pixels.data() + (y * img.width + x) * img.channels;
    const bool gray_in = img.channels <= 2;
    if (p.color == "gray") return gray_in ? px[0] : 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
    if (gray_in) return px[0];
    return p.color == "bgr" ? px[2 - c] : px[c];
  };
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
          v = source(ix, iy, c);
        } else {
          const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(img.width - 1));
          const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(img.height - 1));
          const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
          const int64_t x1 = std::min(x0 + 1, img.width - 1), y1 = std::min(y0 + 1, img.height - 1);
          const double ax = fx - static_cast<double>(x0), ay = fy - static_cast<double>(y0);
          v = static_cast<float>((1 - ay) * ((1 - ax) * source(x0, y0, c) + ax * source(x1, y0, c)) +
                                 ay * ((1 - ax) * source(x0, y1, c) + ax * source(x1, y1, c)));
        }
        dst[(c * p.height + y) * p.width + x] = (v * p.scale - p.mean[static_cast<size_t>(c)]) / p.std[static_cast<size_t>(c)];
      }
}

}  // namespace

TEST_CASE("preprocessing is bit-identical to the per-value reference for every colour, resize and size") {
  uint32_t seed = 1;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  int cases = 0;
  for (int channels : {1, 2, 3, 4})
    for (const char* color : {"gray", "rgb", "bgr"})
      for (const char* resize : {"bilinear", "nearest"})
        for (auto [w, h, ow, oh] : {std::array<int64_t, 4>{28, 28, 28, 28}, {5, 3, 11, 7}, {31, 17, 8, 8},
                                    {1, 1, 3, 2}, {9, 4, 9, 5}, {40, 30, 28, 28},
                                    {1, 1, 1, 1}, {17, 3, 17, 3}}) {
          Image img;
          img.width = w;
          img.height = h;
          img.channels = channels;
          for (int64_t i = 0; i < w * h * channels; ++i) img.pixels.push_back(static_cast<float>(next() >> 24));
          Preprocessing p;
          p.color = color;
          p.resize = resize;
          p.width = ow;
          p.height = oh;
          p.scale = 1.f / 255.f;
          p.mean = {0.485f, 0.456f, 0.406f};
          p.std = {0.229f, 0.224f, 0.225f};
          const size_t n = static_cast<size_t>((std::string(color) == "gray" ? 1 : 3) * ow * oh);
          std::vector<float> got(n), want(n);
          preprocess(img, p, got.data());
          preprocess_per_value(img, p, want.data());
          CAPTURE(color);
          CAPTURE(resize);
          CAPTURE(w);
          CAPTURE(ow);
          CHECK(std::memcmp(got.data(), want.data(), n * sizeof(float)) == 0);
          ++cases;
        }
  CHECK(cases == 4 * 3 * 2 * 8);
}
