// embedding: int32 ids [N, T] (or [N]) -> rows of the table W [vocab, dim].
// An id outside the table is an error naming the node and the position.
#include <cstring>

#include "core/error.h"
#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Embedding : public Op {
 public:
  explicit Embedding(OpBuilder& b) : where_(b.where()) {
    w_ = b.weight("weight");
    if (w_->rank() != 2) b.error("weight", "must be [vocabulary, dim], got " + shape_str(w_->shape()));
  }
  const char* type() const override { return "embedding"; }
  bool accepts(const std::vector<DType>& in) const override {
    return in.size() == 1 && in[0] == DType::kI32;
  }
  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    Shape o = in[0];
    o.push_back(w_->dim(1));
    return {o};
  }
  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const int64_t vocab = w_->dim(0), dim = w_->dim(1);
    for (int64_t i = 0; i < in[0]->size(); ++i) {
      const int32_t id = in[0]->i32()[i];
      if (id < 0 || id >= vocab)
        fail(where_, "token id " + std::to_string(id) + " at position " + std::to_string(i) +
                         " is outside the vocabulary of " + std::to_string(vocab));
      std::memcpy(out[0]->f32() + i * dim, w_->f32() + id * dim, static_cast<size_t>(dim) * 4);
    }
  }
  OpCost cost(const std::vector<Shape>&) const override { return {0, w_->size(), 0, 0}; }
  int64_t weight_bytes() const override { return w_->size() * 4; }

 private:
  std::string where_;
  std::shared_ptr<const Tensor> w_;
};

}  // namespace

std::unique_ptr<Op> make_embedding(OpBuilder& b) { return std::make_unique<Embedding>(b); }

}  // namespace bitlane::ops
