// PNG through libpng's classic API, from memory (the common case goes
// to png_direct.cc first). libpng reports errors by
// longjmp, so the decoding runs in a C-style function that owns no C++
// objects across setjmp; the outcome is turned into an exception outside.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <span>

#include "core/error.h"
#include "core/limits.h"
#include "runtime/image/decoders.h"

namespace bitlane {
namespace {

struct Reader {
  const uint8_t* data;
  size_t size, pos;
};

struct Outcome {
  char error[256];
  png_uint_32 width, height;
  int channels;
  bool too_large;
};

void read_fn(png_structp png, png_bytep out, png_size_t n) {
  Reader* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "truncated file (unexpected end of data)");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

void error_fn(png_structp png, png_const_charp msg) {
  Outcome* o = static_cast<Outcome*>(png_get_error_ptr(png));
  std::snprintf(o->error, sizeof(o->error), "%s", msg);
  png_longjmp(png, 1);
}
void warning_fn(png_structp, png_const_charp) {}

// Returns 8-bit pixels into *pixels (malloc'ed) or sets o->error.
unsigned char* decode(const uint8_t* data, size_t size, uint64_t max_pixels, Outcome* o) {
  Reader reader{data, size, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, o, error_fn, warning_fn);
  if (!png) {
    std::snprintf(o->error, sizeof(o->error), "out of memory");
    return nullptr;
  }
  png_infop info = png_create_info_struct(png);
  unsigned char* volatile pixels = nullptr;
  png_bytep* volatile rows = nullptr;
  if (setjmp(png_jmpbuf(png))) {
    std::free(pixels);
    std::free(rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return nullptr;
  }
  png_set_read_fn(png, &reader, read_fn);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_read_info(png, info);
  int depth, color;
  png_get_IHDR(png, info, &o->width, &o->height, &depth, &color, nullptr, nullptr, nullptr);
  if (static_cast<uint64_t>(o->width) * o->height > max_pixels) {
    o->too_large = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return nullptr;
  }
  png_set_expand(png);    // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
  png_set_scale_16(png);  // 16 -> 8 bits, rounded
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  o->channels = png_get_channels(png, info);
  const size_t stride = png_get_rowbytes(png, info);
  pixels = static_cast<unsigned char*>(std::malloc(stride * o->height));
  rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * o->height));
  if (!pixels || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < o->height; ++y) rows[y] = pixels + y * stride;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  std::free(rows);
  png_destroy_read_struct(&png, &info, nullptr);
  return pixels;
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const std::string& name) {
  // IHDR is the first chunk: check the dimensions before anything reads on.
  if (bytes.size() >= 24 && std::memcmp(bytes.data() + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) { return read_be32(bytes.data() + at); };
    check_image_size(be32(16), be32(20), name);
    // Deflate expands at most 1032:1 and a pixel takes at least one bit: a
    // header promising more pixels than the file's image data can hold is
    // refused before libpng allocates the rows (a 600-byte file could
    // otherwise claim, and cost, hundreds of MB).
    // Likewise a chunk running past the end of the file (libpng would
    // allocate and clear up to 64 MB for it first).
    uint64_t idat_bytes = 0;
    for (size_t pos = 8; pos + 8 <= bytes.size();) {
      const uint64_t length = be32(pos);
      const std::string type(reinterpret_cast<const char*>(bytes.data() + pos + 4), 4);
      if (length + 12 > bytes.size() - pos)
        fail(name, "invalid PNG: the chunk at byte " + std::to_string(pos) + " claims " + std::to_string(length) +
                       " bytes, " + std::to_string(bytes.size() - pos) + " remain (truncated or corrupt file)");
      if (type == "IDAT") idat_bytes += length;
      if (type == "IEND") break;
      pos += 12 + length;
    }
    const uint64_t pixels = uint64_t{be32(16)} * be32(20);
    if (pixels / 8 > (idat_bytes + 1) * 1032)
      fail(name, "invalid PNG: " + std::to_string(idat_bytes) + " bytes of image data cannot hold " +
                     std::to_string(be32(16)) + "x" + std::to_string(be32(20)) + " pixels");
  }
  if (std::optional<Image> img = decode_png_direct(bytes.data(), bytes.size())) return std::move(*img);
  return decode_png_libpng(bytes, name);
}

Image decode_png_libpng(std::span<const uint8_t> bytes, const std::string& name) {
  Outcome o{};
  unsigned char* pixels = decode(bytes.data(), bytes.size(), limits().max_image_pixels, &o);
  if (o.too_large) check_image_size(o.width, o.height, name);
  if (!pixels) fail(name, std::string("invalid PNG: ") + o.error);
  Image img;
  img.width = o.width;
  img.height = o.height;
  img.channels = o.channels;
  img.format = "png";
  img.pixels.assign(pixels, pixels + static_cast<size_t>(img.width * img.height * img.channels));
  std::free(pixels);
  check_image_size(img.width, img.height, name);
  return img;
}

}  // namespace bitlane
