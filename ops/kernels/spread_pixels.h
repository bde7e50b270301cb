// The byte shuffle of the integer convolution's input (ops/conv_lowering.cc):
// the pixels of a channels-last row of bytes, each spread to a wider unit
// with zeros after it,
//
//   dst[x * unit + j] = j < run ? src[x * stride + j] : 0,
//
// for folding a kernel row (LeNet's 5 x 1 over one channel: the 5 bytes from
// pixel x on, in 8) and for padding a few channels to 4 or 8 (LeNet's conv2:
// 6 in 8). Done a pixel at a time these were ~13% of LeNet's batch time at 4
// bits on AVX3_DL, where a block of 64 bytes is now one permute (VPERMB).
// Elsewhere a pixel is still one masked 8-byte word: 128-bit byte shuffles
// of 2 or 4 pixels took more instructions per pixel (callgrind, AVX2).
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::ops::detail {

// unit 4 or 8 and 1 <= stride <= run <= unit: then the pixels of any 64-byte
// block of dst come from the 64 bytes at their first pixel's source.
struct PixelSpread {
  size_t stride = 0, run = 0, unit = 0;
  // Byte o of a block of dst: (o / unit) * stride + o % unit, or 0x80 (a
  // zero) where o % unit >= run: VPERMB's indexes. Built once per layer
  // call (pad_images), used per row.
  alignas(64) uint8_t index[64] = {};
};
PixelSpread pixel_spread(size_t stride, size_t run, size_t unit);

// Reads src[0, (count - 1) * stride + run) and writes dst[0, count * unit),
// nothing past either.
void spread_pixels(const PixelSpread& s, const uint8_t* src, size_t count, uint8_t* dst);

inline constexpr size_t kScratchSlack = 8;

// The same spread of a padded row given as its parts: `left` bytes of `pad`,
// the `bytes` of src, then `pad` again up to row_bytes >= (count - 1) *
// stride + run. On AVX3_DL a row of up to 64 bytes is built in a register
// (a 64-byte load of a row just stored in pieces waits for the stores to
// leave: half of the spread's time when LeNet's first convolution padded
// its rows in memory first); otherwise in scratch, row_bytes + kScratchSlack
// bytes (the slack keeps an 8-byte word readable from each pixel).
void spread_padded_row(const PixelSpread& s, const uint8_t* src, size_t bytes, size_t left, size_t row_bytes,
                       uint8_t pad, size_t count, uint8_t* scratch, uint8_t* dst);

}  // namespace bitlane::ops::detail
