#include "swar/int_format.h"

#include <algorithm>
#include <type_traits>

#include "core/error.h"
#include "swar/pack_kernels.h"

namespace bitlane::swar {

void validate(const IntFormat& f, const char* what) {
  if (f.bits < 1 || f.bits > 16)
    fail(std::string("swar: ") + what, "bits must be 1..16, got " + std::to_string(f.bits));
}

const char* elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::kI8: return "int8";
    case ElemType::kU8: return "uint8";
    case ElemType::kI16: return "int16";
    case ElemType::kU16: return "uint16";
    case ElemType::kI32: return "int32";
  }
  return "?";
}

int32_t MatrixView::at(size_t r, size_t c) const {
  const size_t i = r * stride + c;
  switch (type) {
    case ElemType::kI8: return static_cast<const int8_t*>(data)[i];
    case ElemType::kU8: return static_cast<const uint8_t*>(data)[i];
    case ElemType::kI16: return static_cast<const int16_t*>(data)[i];
    case ElemType::kU16: return static_cast<const uint16_t*>(data)[i];
    case ElemType::kI32: return static_cast<const int32_t*>(data)[i];
  }
  return 0;
}

void sum_rows(const MatrixView& v, int64_t* sums) {
  if (v.rows == 0) return;
  const auto* bytes = static_cast<const uint8_t*>(v.data);
  const auto* words = static_cast<const int16_t*>(v.data);
  switch (v.type) {
    case ElemType::kU8: detail::sum_byte_rows(bytes, v.rows, v.cols, v.stride, 0, sums); return;
    case ElemType::kI16: detail::sum_word_rows(words, v.rows, v.cols, v.stride, 0, sums); return;
    case ElemType::kI8:  // x + 128 as a byte, summed unsigned
      detail::sum_byte_rows(bytes, v.rows, v.cols, v.stride, 0x80, sums);
      for (size_t r = 0; r < v.rows; ++r) sums[r] -= 128 * static_cast<int64_t>(v.cols);
      return;
    case ElemType::kU16:  // x - 32768 as a signed word
      detail::sum_word_rows(words, v.rows, v.cols, v.stride, 0x8000, sums);
      for (size_t r = 0; r < v.rows; ++r) sums[r] += 32768 * static_cast<int64_t>(v.cols);
      return;
    case ElemType::kI32:
      for_each_row(v, [&](const auto* row, size_t r) {
        int64_t sum = 0;
        for (size_t c = 0; c < v.cols; ++c) sum += row[c];
        sums[r] = sum;
      });
      return;
  }
}

void check_range(const MatrixView& v, const IntFormat& f, const char* what) {
  const int64_t lo = f.min_value(), hi = f.max_value();
  for_each_row(v, [&](const auto* row, size_t r) {
    // Min/max first (plain loops vectorise); locate the culprit on failure.
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(row)>>;
    T mn = 0, mx = 0;
    if (v.cols) mn = mx = row[0];
    for (size_t c = 0; c < v.cols; ++c) {
      mn = row[c] < mn ? row[c] : mn;
      mx = row[c] > mx ? row[c] : mx;
    }
    if (mn >= lo && mx <= hi) return;
    for (size_t c = 0; c < v.cols; ++c)
      if (row[c] < lo || row[c] > hi)
        fail(std::string("swar: ") + what,
             "value " + std::to_string(static_cast<int64_t>(row[c])) + " at (" +
                 std::to_string(r) + ", " + std::to_string(c) + ") is outside " +
                 f.to_string() + " [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  });
}

}  // namespace bitlane::swar
