// Every image decoder (chosen by the first bytes: PNG, JPEG, BMP, PGM/PPM)
// and then colour conversion, resize and normalisation into a tensor of a
// size and colour order taken from the input's first byte.
#include "fuzz/fuzz_common.h"
#include "runtime/image/image.h"

BITLANE_FUZZ_TARGET(image) {
  using namespace bitlane;
  fuzz::small_limits();
  if (size < 1) return 0;
  const uint8_t knob = data[0];
  fuzz::expect_clean([&] {
    const Image img = decode_image(std::vector<uint8_t>(data + 1, data + size), "fuzz-image");
    Preprocessing p;
    static const char* const colors[] = {"gray", "rgb", "bgr"};
    p.color = colors[knob % 3];
    p.height = 1 + (knob >> 2) % 33;
    p.width = 1 + (knob >> 3) % 29;
    p.resize = (knob & 0x80) ? "nearest" : "bilinear";
    const size_t channels = p.color == "gray" ? 1 : 3;
    p.mean.assign(channels, 0.5f);
    p.std.assign(channels, 0.25f);
    std::vector<float> out(channels * static_cast<size_t>(p.height * p.width));
    preprocess(img, p, out.data());
  });
  return 0;
}
