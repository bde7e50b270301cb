// PGM / PPM (netpbm): P2/P5 gray, P3/P6 colour, maxval up to 65535, ASCII or
// binary, with # comments in the header.
#include <cctype>

#include "core/error.h"
#include "runtime/image/decoders.h"

namespace bitlane {
namespace {

struct Cursor {
  std::span<const uint8_t> b;
  size_t pos;
  const std::string& name;

  void skip_space() {
    while (pos < b.size()) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n') ++pos;
      } else if (std::isspace(b[pos])) {
        ++pos;
      } else {
        break;
      }
    }
  }
  uint64_t number(const char* what) {
    skip_space();
    if (pos >= b.size() || !std::isdigit(b[pos])) fail(name, std::string("invalid PNM: expected ") + what);
    uint64_t v = 0;
    while (pos < b.size() && std::isdigit(b[pos])) {
      v = v * 10 + (b[pos++] - '0');
      if (v > (uint64_t{1} << 32)) fail(name, std::string("invalid PNM: ") + what + " is too large");
    }
    return v;
  }
};

}  // namespace

Image decode_pnm(std::span<const uint8_t> b, const std::string& name) {
  const char kind = static_cast<char>(b[1]);
  const bool color = kind == '3' || kind == '6', binary = kind == '5' || kind == '6';
  Cursor c{b, 2, name};
  const uint64_t width = c.number("width"), height = c.number("height"), maxval = c.number("maxval");
  check_image_size(static_cast<int64_t>(width), static_cast<int64_t>(height), name);
  if (maxval < 1 || maxval > 65535) fail(name, "invalid PNM maxval " + std::to_string(maxval));
  Image img;
  img.width = static_cast<int64_t>(width);
  img.height = static_cast<int64_t>(height);
  img.channels = color ? 3 : 1;
  img.format = "pnm";
  const uint64_t samples = width * height * static_cast<uint64_t>(img.channels);
  const float scale = 255.f / static_cast<float>(maxval);
  if (binary) {
    ++c.pos;  // the single whitespace after maxval
    const uint64_t bytes = samples * (maxval > 255 ? 2 : 1);
    if (c.pos > b.size() || bytes > b.size() - c.pos)
      fail(name, "truncated PNM: " + std::to_string(b.size() - std::min(c.pos, b.size())) +
                     " bytes of pixels, " + std::to_string(bytes) + " expected");
    img.pixels.resize(samples);
    for (uint64_t i = 0; i < samples; ++i) {
      const uint32_t v = maxval > 255 ? (uint32_t{b[c.pos + 2 * i]} << 8 | b[c.pos + 2 * i + 1]) : b[c.pos + i];
      if (v > maxval) fail(name, "PNM sample exceeds maxval");
      img.pixels[i] = static_cast<float>(v) * scale;
    }
  } else {
    // ASCII: at least two bytes per sample, so the file bounds the count.
    if (samples > b.size()) fail(name, "truncated PNM: too few samples");
    img.pixels.resize(samples);
    for (uint64_t i = 0; i < samples; ++i) {
      const uint64_t v = c.number("sample");
      if (v > maxval) fail(name, "PNM sample exceeds maxval");
      img.pixels[i] = static_cast<float>(v) * scale;
    }
  }
  return img;
}

}  // namespace bitlane
