// JPEG through libjpeg-turbo, from memory. Errors longjmp out of the
// library; as for PNG, the decoding function owns no C++ objects.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <span>

#include <jpeglib.h>

#include "core/error.h"
#include "core/limits.h"
#include "runtime/image/decoders.h"

namespace bitlane {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}
void on_message(j_common_ptr, int) {}  // no warnings on stderr

struct Outcome {
  char error[JMSG_LENGTH_MAX];
  unsigned width, height;
  int channels;
  bool too_large, unsupported;
};

unsigned char* decode(const uint8_t* data, size_t size, uint64_t max_pixels, Outcome* o) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  unsigned char* volatile pixels = nullptr;
  if (setjmp(err.jump)) {
    std::snprintf(o->error, sizeof(o->error), "%s", err.message);
    std::free(pixels);
    jpeg_destroy_decompress(&cinfo);
    return nullptr;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  o->width = cinfo.image_width;
  o->height = cinfo.image_height;
  if (static_cast<uint64_t>(o->width) * o->height > max_pixels || o->width == 0 || o->height == 0) {
    o->too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return nullptr;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    o->unsupported = true;
    jpeg_destroy_decompress(&cinfo);
    return nullptr;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  o->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(cinfo.output_width) * static_cast<size_t>(o->channels);
  pixels = static_cast<unsigned char*>(std::malloc(stride * cinfo.output_height));
  if (!pixels) {
    std::snprintf(err.message, sizeof(err.message), "out of memory");
    longjmp(err.jump, 1);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + static_cast<size_t>(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return pixels;
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name) {
  Outcome o{};
  unsigned char* pixels = decode(bytes.data(), bytes.size(), limits().max_image_pixels, &o);
  if (o.too_large) check_image_size(o.width, o.height, name);
  if (o.unsupported) fail(name, "CMYK JPEG images are not supported");
  if (!pixels) fail(name, std::string("invalid JPEG: ") + o.error);
  Image img;
  img.width = o.width;
  img.height = o.height;
  img.channels = o.channels;
  img.format = "jpeg";
  img.pixels.assign(pixels, pixels + static_cast<size_t>(img.width * img.height * img.channels));
  std::free(pixels);
  return img;
}

}  // namespace bitlane
