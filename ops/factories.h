// Factories of the built-in operators (registry.cc maps names to them).
#pragma once

#include <memory>

#include "ops/op.h"

namespace bitlane::ops {

std::unique_ptr<Op> make_dense(OpBuilder& b);
std::unique_ptr<Op> make_conv2d(OpBuilder& b);
std::unique_ptr<Op> make_max_pool2d(OpBuilder& b);
std::unique_ptr<Op> make_avg_pool2d(OpBuilder& b);
std::unique_ptr<Op> make_global_avg_pool(OpBuilder& b);
std::unique_ptr<Op> make_relu(OpBuilder& b);
std::unique_ptr<Op> make_relu6(OpBuilder& b);
std::unique_ptr<Op> make_clip(OpBuilder& b);
std::unique_ptr<Op> make_sigmoid(OpBuilder& b);
std::unique_ptr<Op> make_tanh(OpBuilder& b);
std::unique_ptr<Op> make_identity(OpBuilder& b);
std::unique_ptr<Op> make_batch_norm(OpBuilder& b);
std::unique_ptr<Op> make_add(OpBuilder& b);
std::unique_ptr<Op> make_concat(OpBuilder& b);
std::unique_ptr<Op> make_flatten(OpBuilder& b);
std::unique_ptr<Op> make_reshape(OpBuilder& b);
std::unique_ptr<Op> make_softmax(OpBuilder& b);
std::unique_ptr<Op> make_log_softmax(OpBuilder& b);
std::unique_ptr<Op> make_embedding(OpBuilder& b);
std::unique_ptr<Op> make_lstm(OpBuilder& b);

}  // namespace bitlane::ops
