// Per-target activation packers (pack_kernels.cc). Internal to swar/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitlane::swar::detail {

// Bytes: dst = src + add (mod 256); valid iff (src - check_lo) mod 256 <= check_span.
struct ByteRowSpec {
  uint8_t add = 0;
  uint8_t check_lo = 0;
  uint8_t check_span = 255;
};
// 16-bit words: dst = src ^ flip; valid iff (src - check_lo) mod 2^16 <= check_span.
struct WordRowSpec {
  uint16_t flip = 0;
  uint16_t check_lo = 0;
  uint16_t check_span = 65535;
};

// A block of rows: row r of the source starts at src + r * src_stride
// elements, row r of the output at dst + r * dst_stride elements. Source and
// output do not overlap (the packers may write a value twice).
template <typename S, typename D>
struct RowBlock {
  const S* src;
  size_t src_stride;
  D* dst;
  size_t dst_stride;
  size_t rows, k;
};

// Each returns false if some value is out of range (the output is then
// unspecified). `padded` >= k elements are written per row; the tail is zero.
// Row sums of the output go to sums[r] when sums is not null.
bool bias_bytes(const RowBlock<uint8_t, uint8_t>& b, const ByteRowSpec& spec, size_t padded,
                int64_t* sums);
bool bias_words(const RowBlock<uint16_t, uint16_t>& b, const WordRowSpec& spec, size_t padded);
// Bytes sign- or zero-extended to words; the range check reads the bytes.
bool widen_bytes(const RowBlock<uint8_t, uint16_t>& b, const ByteRowSpec& spec, bool sign_extend, size_t padded);
// Range check only (dst unused).
bool check_bytes(const RowBlock<uint8_t, uint8_t>& b, const ByteRowSpec& spec);
// Bit planes p < planes of the bytes' two's complement bits, kw words each:
// row r's plane p starts at dst + r * dst_stride + p * kw.
bool byte_planes(const RowBlock<uint8_t, uint64_t>& b, const ByteRowSpec& spec, int planes,
                 size_t kw);

// Exact sums of rows (row r at base + r * stride elements) of the values
// XORed with flip: bytes as unsigned, words as signed (swar::sum_rows).
void sum_byte_rows(const uint8_t* base, size_t rows, size_t cols, size_t stride, uint8_t flip, int64_t* sums);
void sum_word_rows(const int16_t* base, size_t rows, size_t cols, size_t stride, uint16_t flip, int64_t* sums);

}  // namespace bitlane::swar::detail
