// Integer Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions over narrow
// integers (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Per 4x4 input tile d and 2x2 output tile Y:
//
//   Y = A^T [ sum over channels of U (.) V ] A,   V = B^T d B,   U = G' g G'^T
//
// with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0;
// 0 1 -1 -1] and G' = 2 G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2], so every
// transform has integer entries and the sums come out exactly 4 x the
// direct convolution's: the shift by 2 at the end is exact, and the sums
// are bit for bit those of the direct GEMM. 16 products per channel and
// output tile where the direct convolution takes 36 (2.25x fewer), paid for
// with the transforms.
//
// The products run on the same exact u8 x s8 unit products as the int8 GEMM
// (swar/kernels/byte_products-inl.h): V plus a per-position bias must be an
// unsigned byte and U a signed one. Each V is a signed sum of 4 inputs, so
// inputs spanning at most 63 (6-bit integers, signed or not) fit; U sums up
// to 9 weights with factors up to 4, which 4-bit weights fit (|U| <= 72).
// winograd_weights checks both for the layer's actual integers. Without
// VPDPBUSD, PMADDUBSW's pair sums are added in int16 lanes over as many
// units as the layer's V and U keep exact (pair_units), then widened.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/aligned_buffer.h"

namespace bitlane::ops::detail {

struct WinogradWeights {
  int64_t units = 0;   // K units of 4 channels per kernel position (the input's channel stride / 4)
  int64_t n = 0;       // output channels
  int64_t blocks = 0;  // column blocks of 16 output channels
  // Units whose PMADDUBSW pair sums (V + bias times 2 channels' U) can be
  // added in int16 lanes without overflow, at most `units` (0: not one).
  int64_t pair_units = 0;
  // Every V + bias <= 127: bytes the products may take as s8 (Arm's SDOT).
  bool s8_inputs = false;
  // U per position p (0..15, row-major 4 x 4), column block b, unit k: 16
  // columns x 4 bytes (the int8 GEMM's unit layout) at ((p * blocks + b) *
  // units + k) * 64.
  AlignedBuffer<int8_t> u;
  // Each sum's start: -bias[p] x the column's U summed over channels,
  // taking back what the bias added; [p][block * 16 + column].
  AlignedBuffer<int32_t> start;
  std::array<uint8_t, 16> bias{};  // added to position p's V to make it an unsigned byte
  bool empty() const { return n == 0; }
};

// From integer weights w[o * 9 * cp + (i * 3 + j) * cp + ch] (o < n output
// channels, kernel row i, column j, cp channels -- a multiple of 4; the
// padding channels' weights 0) for inputs whose integers lie in [lo, hi]
// (spatial padding and padding channels included). Empty when a
// transformed operand would not fit its byte.
WinogradWeights winograd_weights(const int16_t* w, int64_t n, int64_t cp, int32_t lo, int32_t hi);

// One image as winograd_sums reads it, on the padded grid the tiles cover
// (the layer's padding, and one more row / column for an odd output size):
// the grid's rows [top, top + h) and columns [left, left + w) lie in memory,
// pixel (r, c) at x + ((r - top) * w + c - left) * 4 * units bytes (u8 or
// i8 integers, channels padded to the units), readable 64 bytes past the
// last one; every other pixel of the grid is `pad` in every channel. So the
// previous layer's integers are read where they lie (top, left: the
// layer's padding) -- no padded copy -- or a padded copy is (top = left = 0).
struct WinogradImage {
  const uint8_t* x = nullptr;
  int64_t h = 0, w = 0, top = 0, left = 0;
  uint8_t pad = 0;
};

// The int32 sums of output rows [2 ty0, min(oh, 2 ty1)) of one image.
// Output pixel (oy, ox) goes to row (oy - 2 ty0) * ow + ox of sums, ldc
// int32 apart (ldc >= blocks * 16; the columns past n are 0).
void winograd_sums(const WinogradWeights& w, const WinogradImage& image, int64_t oh, int64_t ow, int64_t ty0,
                   int64_t ty1, int32_t* sums, size_t ldc);

// Whether a layer's Winograd pays off on the SIMD target in use. With VPDPBUSD
// (AVX3_DL) always: 16 products per tile beat the direct 36 with room for the
// transforms -- but not on cores whose VNNI ports also run the transforms
// (swar::kDotSharesPorts: Intel's AVX-512 cores). With PMADDUBSW only (AVX3,
// AVX2, SSE4) when the int16 pair sums hold at least kWinogradMinPairUnits
// units between widenings (or all of them): 1.33 multiplies a unit or fewer, so
// the products still take ~1.7x fewer instructions than the direct GEMM's
// int16-sum tiles. Activations and weights of up to 4 bits always qualify
// (60 x 144 x 3 < 32768); 5 and 6-bit activations only with small U. On NEON without
// the dot product with SMULL pair sums when every V + bias is at most 127
// (s8_inputs: activations of up to 5 bits), so that a product costs what the
// direct GEMM's int7 pays there (4 instructions) -- 16 a tile where it takes
// 36. Not with Arm's SDOT (SVE; NEON with the dot product), where the direct
// GEMM took fewer instructions per image, nor where products need emulation
// (3-9 instructions each: the portable targets). False when the environment
// sets BITLANE_WINOGRAD=0.
constexpr int64_t kWinogradMinPairUnits = 3;
bool winograd_pays_off(const WinogradWeights& w);

// Whether any layer's Winograd could pay off here (worth preparing its weights).
bool winograd_may_pay_off();

// How much faster than the direct byte GEMM a layer's Winograd runs where it
// pays off, transforms included: 1.4 with VPDPBUSD (ResNet's 3x3 layers on
// Zen 4: 1.44-1.61x the int8 GEMM's layer time; 1 on Intel's), 1.15 with PMADDUBSW
// pair sums or NEON's SMULL (ResNet at 4 bits as a whole: 1.08x on AVX2, 1.19x
// on SSE4, 0.88x the instructions on cortex-a53), 1 where it does not.
// Convolutions weigh bit-serial against it (swar::GemmShape::in_place_speedup).
double winograd_gain();

}  // namespace bitlane::ops::detail
