// An activation fused into the layer before it (conv2d, dense): attribute
// "activation": "relu" or "relu6". Model loading fuses a relu / relu6 node
// into its producer when nothing else reads the producer's output, which
// saves a pass over the activations.
#pragma once

#include "ops/kernels/activation.h"
#include "ops/op.h"

namespace bitlane::ops {

inline Activation parse_activation(const OpBuilder& b) {
  if (!b.has("activation")) return Activation::kNone;
  const auto names = b.get_string("activation");
  if (names == "relu") return Activation::kRelu;
  if (names == "relu6") return Activation::kRelu6;
  b.error("activation", "must be relu or relu6, got '" + names + "'");
}

}  // namespace bitlane::ops
