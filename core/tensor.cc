#include "core/tensor.h"

#include "core/error.h"
#include "core/limits.h"

namespace bitlane {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kI32: return "int32";
    case DType::kU8: return "uint8";
    case DType::kI8: return "int8";
    case DType::kI16: return "int16";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kU8:
    case DType::kI8: return 1;
    case DType::kI16: return 2;
    default: return 4;
  }
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t numel(const Shape& s, const char* what) {
  uint64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) fail(what, "negative dimension in shape " + shape_str(s));
    n = checked_mul(n, static_cast<uint64_t>(d), limits().max_tensor_elements, what);
  }
  return static_cast<int64_t>(n);
}

std::vector<Tensor> one_tensor(Tensor t) {
  std::vector<Tensor> v;
  v.push_back(std::move(t));
  return v;
}

Tensor::Tensor(Shape shape, DType dtype)
    : shape_(std::move(shape)), dtype_(dtype), size_(numel(shape_)), data_(static_cast<size_t>(size_)) {}

void Tensor::reshape(Shape shape) {
  if (numel(shape) != size_)
    fail("tensor", "cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  shape_ = std::move(shape);
}

void Tensor::resize(Shape shape, DType dtype, int64_t extra) {
  const int64_t n = numel(shape);
  if (static_cast<size_t>(n + extra) > data_.size()) data_.resize(static_cast<size_t>(n + extra));
  shape_ = std::move(shape);
  dtype_ = dtype;
  layout_ = Layout::kAsShape;
  size_ = n;
}

}  // namespace bitlane
