// The activations a layer applies to its own outputs (ops/fused_activation.h
// names them in a model), on one float: what every float epilogue computes.
#pragma once

#include <algorithm>
#include <cstdint>

namespace bitlane::ops {

enum class Activation { kNone, kRelu, kRelu6 };

inline float apply_activation(Activation a, float x) {
  switch (a) {
    case Activation::kRelu: return x > 0.f ? x : 0.f;
    case Activation::kRelu6: return std::clamp(x, 0.f, 6.f);
    default: return x;
  }
}

inline void apply_activation(Activation a, float* x, int64_t n) {
  if (a == Activation::kNone) return;
  for (int64_t i = 0; i < n; ++i) x[i] = apply_activation(a, x[i]);
}

}  // namespace bitlane::ops
