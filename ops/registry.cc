// Operator names as they appear in a model's JSON (models/FORMAT.md).
#include <string>
#include <utility>

#include "ops/factories.h"

namespace bitlane::ops {
namespace {

const std::pair<const char*, OpFactory> kOps[] = {
    {"dense", make_dense},
    {"conv2d", make_conv2d},
    {"max_pool2d", make_max_pool2d},
    {"avg_pool2d", make_avg_pool2d},
    {"global_avg_pool", make_global_avg_pool},
    {"relu", make_relu},
    {"relu6", make_relu6},
    {"clip", make_clip},
    {"sigmoid", make_sigmoid},
    {"tanh", make_tanh},
    {"dropout", make_identity},
    {"identity", make_identity},
    {"batch_norm", make_batch_norm},
    {"add", make_add},
    {"concat", make_concat},
    {"flatten", make_flatten},
    {"reshape", make_reshape},
    {"softmax", make_softmax},
    {"log_softmax", make_log_softmax},
    {"embedding", make_embedding},
    {"lstm", make_lstm},
};

}  // namespace

OpFactory find_op(const std::string& type) {
  for (const auto& [name, factory] : kOps)
    if (type == name) return factory;
  return nullptr;
}

std::vector<std::string> op_types() {
  std::vector<std::string> out;
  for (const auto& [name, factory] : kOps) out.emplace_back(name);
  return out;
}

}  // namespace bitlane::ops
