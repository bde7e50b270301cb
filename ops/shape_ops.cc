// flatten (axis 1: [N, ...] -> [N, rest]) and reshape (target shape without
// the batch axis, one -1 allowed).
#include <cstring>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Reshape : public Op {
 public:
  Reshape(OpBuilder& b, bool flatten) : where_(b.where()), flatten_(flatten) {
    if (flatten) {
      if (b.get_int("axis", 1) != 1) b.error("axis", "only axis 1 (keep the batch axis) is supported");
    } else {
      shape_ = b.get_ints("shape", {});
      if (!b.has("shape")) b.error("shape", "is required");
      int unknown = 0;
      for (int64_t d : shape_) {
        if (d == -1) ++unknown;
        else if (d < 1) b.error("shape", "dimensions must be positive or a single -1");
      }
      if (unknown > 1) b.error("shape", "at most one dimension may be -1");
    }
  }
  const char* type() const override { return flatten_ ? "flatten" : "reshape"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    if (in[0].empty()) fail(where_, "input has no batch axis");
    const int64_t n = in[0][0];
    const int64_t per_item = n ? numel(in[0]) / n : 0;
    if (flatten_) return {{n, per_item}};
    Shape o{n};
    int64_t known = 1, at = -1;
    for (size_t i = 0; i < shape_.size(); ++i) {
      if (shape_[i] == -1) at = static_cast<int64_t>(i) + 1;
      else known *= shape_[i];
      o.push_back(shape_[i]);
    }
    if (at >= 0) {
      if (known == 0 || per_item % known)
        fail(where_, "cannot reshape input shape " + shape_str(in[0]) + " to " + shape_str(shape_));
      o[static_cast<size_t>(at)] = per_item / known;
    } else if (known != per_item) {
      fail(where_, "cannot reshape input shape " + shape_str(in[0]) + " (" + std::to_string(per_item) +
                       " values per item) to " + shape_str(shape_));
    }
    return {o};
  }
  DType output_dtype(const std::vector<DType>& in) const override { return in[0]; }
  bool accepts(const std::vector<DType>&) const override { return true; }

  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    std::memcpy(out[0]->i32(), in[0]->i32(), static_cast<size_t>(in[0]->size()) * 4);
  }

 private:
  std::string where_;
  bool flatten_;
  std::vector<int64_t> shape_;
};

}  // namespace

std::unique_ptr<Op> make_flatten(OpBuilder& b) { return std::make_unique<Reshape>(b, true); }
std::unique_ptr<Op> make_reshape(OpBuilder& b) { return std::make_unique<Reshape>(b, false); }

}  // namespace bitlane::ops
