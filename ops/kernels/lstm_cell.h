// Per-target LSTM cell update (PyTorch gate order i, f, g, o): for one batch
// row, with pre-activations x[4H] (input part) + r[4H] (recurrent part),
//   i = s(x_i + r_i), f = s(x_f + r_f), g = tanh(x_g + r_g), o = s(x_o + r_o)
//   c = f c + i g,  h = o tanh(c),  s(z) = 1 / (1 + exp(-z)),
// updating c and h in place. Vectorized transcendentals of its own (an
// exponential for the cell's range; sigmoid within 1e-7 and tanh within 2e-7
// of the exact values, absolute); every element, tail included, goes through
// the same vector code, so results do not depend on where an element sits.
#pragma once

#include <cstdint>

namespace bitlane::ops::detail {

void lstm_cell(const float* x, const float* r, float* c, float* h, int64_t hidden);

}  // namespace bitlane::ops::detail
