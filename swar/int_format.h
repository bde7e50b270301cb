// Integer operands as swar/ kernels see them: a bit width and a signedness,
// plus the C type the values are stored in before packing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace bitlane::swar {

struct IntFormat {
  int bits = 8;  // 1..16
  bool is_signed = true;

  constexpr int64_t min_value() const { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }
  constexpr int64_t max_value() const {
    return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
  }
  // Largest |value|.
  constexpr int64_t max_magnitude() const {
    return is_signed ? int64_t{1} << (bits - 1) : (int64_t{1} << bits) - 1;
  }
  bool operator==(const IntFormat&) const = default;
  std::string to_string() const { return (is_signed ? "s" : "u") + std::to_string(bits); }
};

// Throws bitlane::Error unless 1 <= bits <= 16.
void validate(const IntFormat& f, const char* what);

enum class ElemType : uint8_t { kI8, kU8, kI16, kU16, kI32 };

template <typename T>
constexpr ElemType elem_type_of() {
  if constexpr (std::is_same_v<T, int8_t>) return ElemType::kI8;
  else if constexpr (std::is_same_v<T, uint8_t>) return ElemType::kU8;
  else if constexpr (std::is_same_v<T, int16_t>) return ElemType::kI16;
  else if constexpr (std::is_same_v<T, uint16_t>) return ElemType::kU16;
  else {
    static_assert(std::is_same_v<T, int32_t>, "element type must be (u)int8/16 or int32");
    return ElemType::kI32;
  }
}

const char* elem_type_name(ElemType t);
constexpr size_t elem_bytes(ElemType t) {
  switch (t) {
    case ElemType::kI8:
    case ElemType::kU8: return 1;
    case ElemType::kI16:
    case ElemType::kU16: return 2;
    case ElemType::kI32: return 4;
  }
  return 4;
}

// A rows x cols matrix of integers in memory; row r starts `stride` elements
// after row r - 1. The view does not own the data.
struct MatrixView {
  const void* data = nullptr;
  ElemType type = ElemType::kI8;
  size_t rows = 0, cols = 0, stride = 0;

  template <typename T>
  static MatrixView of(const T* p, size_t rows, size_t cols, size_t stride = 0) {
    return {p, elem_type_of<T>(), rows, cols, stride ? stride : cols};
  }
  // Value at (r, c), widened.
  int32_t at(size_t r, size_t c) const;
};

// Visits every row of a view as a typed pointer: f(const T* row, size_t r).
template <typename F>
void for_each_row(const MatrixView& v, F&& f) {
  auto go = [&](auto* base) {
    for (size_t r = 0; r < v.rows; ++r) f(base + r * v.stride, r);
  };
  switch (v.type) {
    case ElemType::kI8: go(static_cast<const int8_t*>(v.data)); break;
    case ElemType::kU8: go(static_cast<const uint8_t*>(v.data)); break;
    case ElemType::kI16: go(static_cast<const int16_t*>(v.data)); break;
    case ElemType::kU16: go(static_cast<const uint16_t*>(v.data)); break;
    case ElemType::kI32: go(static_cast<const int32_t*>(v.data)); break;
  }
}

// sums[r] = the exact sum of row r of v (any element type), vectorised for
// 8- and 16-bit elements: a layer whose weights have a zero point needs its
// activations' row sums, and a plain loop widening bytes to 64 bits was 28%
// of the 1-bit MLP's batch.
void sum_rows(const MatrixView& v, int64_t* sums);

// Throws a clear error naming `what` (e.g. "activations") if any value lies
// outside format f.
void check_range(const MatrixView& v, const IntFormat& f, const char* what);

}  // namespace bitlane::swar
