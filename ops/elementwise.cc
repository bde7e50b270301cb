// add (two tensors of one shape, or a tensor and a constant weight that
// broadcasts against its trailing axes) and concat (along any axis but the
// batch axis).
#include <algorithm>
#include <cstring>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Add : public Op {
 public:
  explicit Add(OpBuilder& b) : where_(b.where()) { constant_ = b.optional_weight("constant"); }
  const char* type() const override { return "add"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    if (constant_) {
      expect_inputs(where_, in, 1);
      const Shape& c = constant_->shape();
      if (c.size() > in[0].size() - 1)
        fail(where_, "constant shape " + shape_str(c) + " has more axes than the input " + shape_str(in[0]));
      for (size_t i = 0; i < c.size(); ++i) {
        const int64_t d = in[0][in[0].size() - c.size() + i];
        if (c[i] != 1 && c[i] != d)
          fail(where_, "constant shape " + shape_str(c) + " does not broadcast to input shape " + shape_str(in[0]));
      }
      return {in[0]};
    }
    expect_inputs(where_, in, 2);
    if (in[0] != in[1])
      fail(where_, "input shapes differ: " + shape_str(in[0]) + " and " + shape_str(in[1]));
    return {in[0]};
  }

  // Two tensors of one shape add element by element in any layout (both
  // alike); a broadcast constant indexes by NCHW coordinates.
  ChannelsLast channels_last() const override { return constant_ ? ChannelsLast::kNo : ChannelsLast::kFollows; }

  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const float* x = in[0]->f32();
    float* y = out[0]->f32();
    const int64_t n = in[0]->size();
    if (!constant_) {
      if (in[0]->layout() != in[1]->layout()) fail(where_, "inputs in different layouts");
      const float* z = in[1]->f32();
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] + z[i];
      out[0]->set_layout(in[0]->layout());
      return;
    }
    // Index into the constant by the trailing coordinates of each element.
    const Shape& s = in[0]->shape();
    const Shape& c = constant_->shape();
    const size_t off = s.size() - c.size();
    std::vector<int64_t> idx(s.size(), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t ci = 0;
      for (size_t a = 0; a < c.size(); ++a) ci = ci * c[a] + (c[a] == 1 ? 0 : idx[off + a]);
      y[i] = x[i] + constant_->f32()[ci];
      for (size_t a = s.size(); a-- > 0;) {
        if (++idx[a] < s[a]) break;
        idx[a] = 0;
      }
    }
  }

 private:
  std::string where_;
  std::shared_ptr<const Tensor> constant_;
};

class Concat : public Op {
 public:
  explicit Concat(OpBuilder& b) : where_(b.where()), axis_(b.get_int("axis")) {}
  const char* type() const override { return "concat"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    if (in.empty()) fail(where_, "needs at least one input");
    const int rank = static_cast<int>(in[0].size());
    const int axis = normalize_axis(where_, axis_, rank);
    if (axis == 0) fail(where_, "cannot concatenate along the batch axis");
    Shape o = in[0];
    for (size_t i = 1; i < in.size(); ++i) {
      if (static_cast<int>(in[i].size()) != rank)
        fail(where_, "input shapes " + shape_str(in[0]) + " and " + shape_str(in[i]) + " differ in rank");
      for (int a = 0; a < rank; ++a)
        if (a != axis && in[i][static_cast<size_t>(a)] != in[0][static_cast<size_t>(a)])
          fail(where_, "input shapes " + shape_str(in[0]) + " and " + shape_str(in[i]) +
                           " differ outside axis " + std::to_string(axis));
      o[static_cast<size_t>(axis)] += in[i][static_cast<size_t>(axis)];
    }
    return {o};
  }

  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Shape& s = out[0]->shape();
    const int axis = normalize_axis(where_, axis_, static_cast<int>(s.size()));
    int64_t outer = 1, inner = 1;
    for (int a = 0; a < axis; ++a) outer *= s[static_cast<size_t>(a)];
    for (size_t a = static_cast<size_t>(axis) + 1; a < s.size(); ++a) inner *= s[a];
    float* y = out[0]->f32();
    const int64_t out_row = s[static_cast<size_t>(axis)] * inner;
    int64_t offset = 0;
    for (const Tensor* t : in) {
      const int64_t row = t->shape()[static_cast<size_t>(axis)] * inner;
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(y + o * out_row + offset, t->f32() + o * row, static_cast<size_t>(row) * 4);
      offset += row;
    }
  }

 private:
  std::string where_;
  int64_t axis_;
};

}  // namespace

std::unique_ptr<Op> make_add(OpBuilder& b) { return std::make_unique<Add>(b); }
std::unique_ptr<Op> make_concat(OpBuilder& b) { return std::make_unique<Concat>(b); }

}  // namespace bitlane::ops
