// Tensors: a shape (batch first) and float32 or int32 data, the currency of
// ops/ and runtime/. Activations between layers are float32, also in
// quantized models: each quantized layer quantizes its input, multiplies in
// integers on the swar/ kernels and dequantizes its output (ops/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"

namespace bitlane {

using Shape = std::vector<int64_t>;

enum class DType : uint8_t { kF32, kI32 };
const char* dtype_name(DType t);

std::string shape_str(const Shape& s);  // "[1, 28, 28]"
// Product of the dimensions; throws if a dimension is negative or the
// product exceeds limits().max_tensor_elements.
int64_t numel(const Shape& s, const char* what = "tensor");

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, DType dtype = DType::kF32);  // zero-filled

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int64_t size() const { return size_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  bool empty() const { return size_ == 0; }

  float* f32() { return reinterpret_cast<float*>(data_.data()); }
  const float* f32() const { return reinterpret_cast<const float*>(data_.data()); }
  int32_t* i32() { return reinterpret_cast<int32_t*>(data_.data()); }
  const int32_t* i32() const { return reinterpret_cast<const int32_t*>(data_.data()); }

  // Same data, new shape of the same size.
  void reshape(Shape shape);
  // Reallocates only when the new size is larger; contents unspecified.
  void resize(Shape shape, DType dtype = DType::kF32);

 private:
  Shape shape_;
  DType dtype_ = DType::kF32;
  int64_t size_ = 0;
  AlignedBuffer<uint32_t> data_;  // 4-byte elements, 64-byte aligned
};

}  // namespace bitlane
