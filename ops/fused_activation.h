// An activation fused into the layer before it (conv2d, dense): attribute
// "activation": "relu" or "relu6". Model loading fuses a relu / relu6 node
// into its producer when nothing else reads the producer's output, which
// saves a pass over the activations.
#pragma once

#include <algorithm>

#include "ops/op.h"

namespace bitlane::ops {

enum class Activation { kNone, kRelu, kRelu6 };

inline Activation parse_activation(const OpBuilder& b) {
  if (!b.has("activation")) return Activation::kNone;
  const auto names = b.get_string("activation");
  if (names == "relu") return Activation::kRelu;
  if (names == "relu6") return Activation::kRelu6;
  b.error("activation", "must be relu or relu6, got '" + names + "'");
}

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
