// The direct PNG reader (runtime/image/png_direct.cc) against libpng on PNGs
// written here: every colour type it takes, every filter type, IDAT split in
// pieces, ancillary chunks, and damaged copies of them. Whatever the direct
// reader accepts, libpng must decode to the same pixels; whatever it refuses
// goes to libpng, so decode_png must always agree with libpng.
#include <doctest/doctest.h>
#include <zlib.h>

#include <array>
#include <cstdlib>
#include <functional>
#include <random>

#include "core/error.h"
#include "runtime/image/decoders.h"

using namespace bitlane;

namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

void chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& body) {
  put32(out, static_cast<uint32_t>(body.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), body.begin(), body.end());
  put32(out, static_cast<uint32_t>(crc32(0, out.data() + start, static_cast<uInt>(body.size() + 4))));
}

// PNG filter of one row (the encoder's side, written from the specification).
std::vector<uint8_t> filter_row(int type, const uint8_t* row, const uint8_t* prev, size_t n, size_t bpp) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    int predictor = 0;
    if (type == 1) predictor = a;
    if (type == 2) predictor = b;
    if (type == 3) predictor = (a + b) / 2;
    if (type == 4) {
      const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i] = static_cast<uint8_t>(row[i] - predictor);
  }
  return out;
}

struct Written {
  std::vector<uint8_t> file;
  std::vector<uint8_t> pixels;
  int channels;
};

// A random 8-bit image of colour type `color`, rows filtered with random
// filter types, the zlib stream cut into `pieces` IDAT chunks. `edit_raw`
// may change the filtered rows before they are compressed.
Written write_png(std::mt19937& rng, uint32_t width, uint32_t height, uint8_t color, int pieces, bool ancillary,
                  const std::function<void(std::vector<uint8_t>&)>& edit_raw = {}) {
  const int channels = color == 0 ? 1 : color == 4 ? 2 : color == 2 ? 3 : 4;
  const size_t stride = width * static_cast<size_t>(channels);
  Written w{{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, std::vector<uint8_t>(stride * height), channels};
  // Smooth-ish pixels so every filter meets carries and borrows.
  for (size_t i = 0; i < w.pixels.size(); ++i)
    w.pixels[i] = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : (i ? w.pixels[i - 1] + rng() % 7 : 0));
  std::vector<uint8_t> raw;
  const std::vector<uint8_t> zeros(stride, 0);
  for (uint32_t y = 0; y < height; ++y) {
    const int type = static_cast<int>(rng() % 5);
    const uint8_t* prev = y ? &w.pixels[(y - 1) * stride] : zeros.data();
    raw.push_back(static_cast<uint8_t>(type));
    const auto f = filter_row(type, &w.pixels[y * stride], prev, stride, static_cast<size_t>(channels));
    raw.insert(raw.end(), f.begin(), f.end());
  }
  if (edit_raw) edit_raw(raw);
  std::vector<uint8_t> z(compressBound(static_cast<uLong>(raw.size())));
  uLongf zsize = z.size();
  REQUIRE(compress2(z.data(), &zsize, raw.data(), static_cast<uLong>(raw.size()), 6) == Z_OK);
  z.resize(zsize);
  std::vector<uint8_t> ihdr;
  put32(ihdr, width);
  put32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, color, 0, 0, 0});
  chunk(w.file, "IHDR", ihdr);
  if (ancillary) chunk(w.file, "tEXt", {'k', 0, 'v'});
  for (int p = 0; p < pieces; ++p) {
    const size_t from = z.size() * static_cast<size_t>(p) / static_cast<size_t>(pieces);
    const size_t to = z.size() * static_cast<size_t>(p + 1) / static_cast<size_t>(pieces);
    chunk(w.file, "IDAT", std::vector<uint8_t>(z.begin() + static_cast<long>(from), z.begin() + static_cast<long>(to)));
  }
  if (ancillary) chunk(w.file, "zzZz", {1, 2, 3});
  chunk(w.file, "IEND", {});
  return w;
}

// Rewrites every chunk's CRC, as a tool that writes wrong contents would.
void fix_crcs(std::vector<uint8_t>& f) {
  for (size_t pos = 8; f.size() >= 12 && pos <= f.size() - 12;) {
    const uint32_t length = uint32_t{f[pos]} << 24 | uint32_t{f[pos + 1]} << 16 | uint32_t{f[pos + 2]} << 8 | f[pos + 3];
    if (length > f.size() - pos - 12) return;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, f.data() + pos + 4, length + 4));
    for (size_t i = 0; i < 4; ++i) f[pos + 8 + length + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    pos += 12 + size_t{length};
  }
}

bool same_image(const Image& a, const Image& b) {
  return a.width == b.width && a.height == b.height && a.channels == b.channels && a.pixels == b.pixels;
}

}  // namespace

TEST_CASE("direct PNG reader: every colour type, filter and IDAT split against libpng and the written pixels") {
  std::mt19937 rng(7);
  int cases = 0;
  for (uint8_t color : {0, 2, 4, 6})
    for (uint32_t width : {1u, 2u, 3u, 5u, 28u, 33u})
      for (uint32_t height : {1u, 2u, 7u})
        for (int pieces : {1, 3}) {
          const Written w = write_png(rng, width, height, color, pieces, (width + height) % 2 == 0);
          CAPTURE(int{color});
          CAPTURE(width);
          CAPTURE(height);
          CAPTURE(pieces);
          const std::optional<Image> direct = decode_png_direct(w.file.data(), w.file.size());
          REQUIRE(direct.has_value());
          const Image libpng = decode_png_libpng(w.file, "written.png");
          CHECK(same_image(*direct, libpng));
          CHECK(direct->channels == w.channels);
          CHECK(direct->pixels == std::vector<float>(w.pixels.begin(), w.pixels.end()));
          ++cases;
        }
  CHECK(cases == 4 * 6 * 3 * 2);
}

TEST_CASE("direct PNG reader leaves palette, 16-bit, interlaced and transparent PNGs to libpng") {
  std::mt19937 rng(3);
  Written w = write_png(rng, 4, 4, 0, 1, false);
  auto with_ihdr_byte = [&](size_t at, uint8_t v) {
    std::vector<uint8_t> f = w.file;
    f[16 + at] = v;  // IHDR body starts at byte 16; fix its CRC
    const uint32_t crc = static_cast<uint32_t>(crc32(0, f.data() + 12, 17));
    for (int i = 0; i < 4; ++i) f[29 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    return f;
  };
  CHECK(decode_png_direct(w.file.data(), w.file.size()).has_value());
  for (auto [at, v] : {std::pair{8, 16}, std::pair{9, 3}, std::pair{12, 1}, std::pair{10, 1}}) {
    const auto f = with_ihdr_byte(static_cast<size_t>(at), static_cast<uint8_t>(v));
    CHECK_FALSE(decode_png_direct(f.data(), f.size()).has_value());
  }
  // A tRNS chunk turns gray into gray+alpha under libpng's expansion.
  std::vector<uint8_t> f(w.file.begin(), w.file.begin() + 33);
  chunk(f, "tRNS", {0, 0});
  f.insert(f.end(), w.file.begin() + 33, w.file.end());
  CHECK_FALSE(decode_png_direct(f.data(), f.size()).has_value());
  CHECK(decode_png(f, "trns.png").channels == 2);
}

TEST_CASE("direct PNG reader on damaged files: accepted only where libpng decodes the same pixels") {
  std::mt19937 rng(11);
  int accepted = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const uint8_t color = std::array<uint8_t, 4>{0, 2, 4, 6}[static_cast<size_t>(trial % 4)];
    const uint32_t width = 1 + rng() % 12, height = 1 + rng() % 6;
    const int pieces = 1 + static_cast<int>(rng() % 3);
    // Damage the filtered rows before compression (a byte, maybe a filter
    // type; a byte too many or too few), so zlib and the CRCs are intact.
    auto edit = [&](std::vector<uint8_t>& raw) {
      const unsigned what = rng() % 3;
      if (what == 0) raw[rng() % raw.size()] = static_cast<uint8_t>(rng());
      if (what == 1) raw.push_back(0);
      if (what == 2) raw.pop_back();
    };
    Written w = trial % 4 == 2 ? write_png(rng, width, height, color, pieces, trial % 3 == 0, edit)
                               : write_png(rng, width, height, color, pieces, trial % 3 == 0);
    if (trial % 4 == 3) {
      w.file.resize(rng() % w.file.size());  // cut short
    } else if (trial % 4 != 2) {
      for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k)
        w.file[rng() % w.file.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      if (trial % 4 == 1) fix_crcs(w.file);
    }
    CAPTURE(trial);
    const std::optional<Image> direct = decode_png_direct(w.file.data(), w.file.size());
    if (direct) {
      ++accepted;
      CHECK(same_image(*direct, decode_png_libpng(w.file, "damaged.png")));  // throws if libpng refuses
    } else {
      ++refused;
    }
    // decode_png gives the direct reader's pixels or, from libpng, pixels or
    // an error naming the file. (libpng itself is not run on every damaged
    // file here: one claiming 10^8 pixels makes it clear that much memory.)
    try {
      const Image img = decode_png(w.file, "damaged.png");
      CHECK((!direct || same_image(img, *direct)));
    } catch (const Error& e) {
      CHECK_FALSE(direct.has_value());
      CHECK(std::string(e.what()).find("damaged.png") != std::string::npos);
    }
  }

  // Damaged samples decode (both readers agree); the rest is refused.
  CHECK(accepted > 100);
  CHECK(refused > 1000);
}

TEST_CASE("PNGs whose header or a chunk claims more than the file holds are refused before allocating") {
  std::mt19937 rng(5);
  const Written w = write_png(rng, 8, 8, 0, 1, false);
  // IHDR says 4000 x 4000 (16 M pixels need > 1.9 KB of deflate data).
  std::vector<uint8_t> big = w.file;
  for (size_t at : {16u, 20u}) {
    big[at + 2] = 0x0f;
    big[at + 3] = 0xa0;
  }
  fix_crcs(big);
  CHECK_THROWS_WITH_AS(decode_png(big, "big.png"), doctest::Contains("big.png: invalid PNG: "), Error);
  CHECK_THROWS_WITH_AS(decode_png(big, "big.png"), doctest::Contains("cannot hold 4000x4000 pixels"), Error);
  // A tEXt chunk claiming 50 MB in a file of a few hundred bytes.
  std::vector<uint8_t> cut(w.file.begin(), w.file.begin() + 33);
  put32(cut, 50u << 20);
  cut.insert(cut.end(), {'t', 'E', 'X', 't', 'k', 0, 'v'});
  CHECK_THROWS_WITH_AS(decode_png(cut, "cut.png"), doctest::Contains("cut.png: invalid PNG: the chunk at byte 33 claims 52428800 bytes, 11 remain (truncated or corrupt file)"), Error);
}
