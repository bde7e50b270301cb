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

// Float and int32 tensors are what models take and give; the integer
// activations of quantized layers (u8, i8, i16) pass between ops when the
// engine fuses them (runtime/engine.cc).
enum class DType : uint8_t { kF32, kI32, kU8, kI8, kI16 };
const char* dtype_name(DType t);
size_t dtype_size(DType t);

// How the elements are ordered: as the shape says (row-major), or, for a
// [N, C, H, W] tensor, channels last ([N, H, W, C] in memory).
enum class Layout : uint8_t { kAsShape, kChannelsLast };

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
  Layout layout() const { return layout_; }
  void set_layout(Layout l) { layout_ = l; }
  int64_t size() const { return size_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  bool empty() const { return size_ == 0; }

  float* f32() { return reinterpret_cast<float*>(data_.data()); }
  const float* f32() const { return reinterpret_cast<const float*>(data_.data()); }
  int32_t* i32() { return reinterpret_cast<int32_t*>(data_.data()); }
  const int32_t* i32() const { return reinterpret_cast<const int32_t*>(data_.data()); }
  void* data() { return data_.data(); }
  const void* data() const { return data_.data(); }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_.data());
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.data());
  }

  // Same data, new shape of the same size.
  void reshape(Shape shape);
  // Reallocates only when the new size (plus `extra` 4-byte elements of
  // storage after the data) is larger; contents unspecified. The layout
  // goes back to kAsShape.
  void resize(Shape shape, DType dtype = DType::kF32, int64_t extra = 0);

 private:
  Shape shape_;
  DType dtype_ = DType::kF32;
  Layout layout_ = Layout::kAsShape;
  int64_t size_ = 0;
  AlignedBuffer<uint32_t> data_;  // 4-byte elements, 64-byte aligned
};

// A list of one tensor, moved in. (`return {std::move(t)};` copies it: the
// elements of an initializer list are const -- 1.6 MB of calibration images
// and 8% of the page faults of loading the MLP.)
std::vector<Tensor> one_tensor(Tensor t);

}  // namespace bitlane
