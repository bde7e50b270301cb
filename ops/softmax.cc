// softmax and log_softmax along one axis (default: the last), computed with
// the maximum subtracted first so large logits do not overflow.
#include <algorithm>
#include <cmath>

#include "ops/factories.h"
#include "ops/shape_check.h"

namespace bitlane::ops {
namespace {

class Softmax : public Op {
 public:
  Softmax(OpBuilder& b, bool log) : where_(b.where()), log_(log), axis_(b.get_int("axis", -1)) {}
  const char* type() const override { return log_ ? "log_softmax" : "softmax"; }

  std::vector<Shape> infer(const std::vector<Shape>& in) const override {
    expect_inputs(where_, in, 1);
    const int axis = normalize_axis(where_, axis_, static_cast<int>(in[0].size()));
    if (axis == 0) fail(where_, "softmax over the batch axis is not supported");
    return {in[0]};
  }

  void run(const RunContext&, const std::vector<const Tensor*>& in,
           const std::vector<Tensor*>& out) const override {
    const Shape& s = in[0]->shape();
    const int axis = normalize_axis(where_, axis_, static_cast<int>(s.size()));
    int64_t outer = 1, inner = 1;
    for (int a = 0; a < axis; ++a) outer *= s[static_cast<size_t>(a)];
    for (size_t a = static_cast<size_t>(axis) + 1; a < s.size(); ++a) inner *= s[a];
    const int64_t n = s[static_cast<size_t>(axis)];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const float* x = in[0]->f32() + o * n * inner + i;
        float* y = out[0]->f32() + o * n * inner + i;
        float mx = -INFINITY;
        for (int64_t k = 0; k < n; ++k) mx = std::max(mx, x[k * inner]);
        double sum = 0;
        for (int64_t k = 0; k < n; ++k) sum += std::exp(static_cast<double>(x[k * inner] - mx));
        const double log_sum = std::log(sum);
        for (int64_t k = 0; k < n; ++k) {
          const double z = static_cast<double>(x[k * inner] - mx) - log_sum;
          y[k * inner] = static_cast<float>(log_ ? z : std::exp(z));
        }
      }
  }

 private:
  std::string where_;
  bool log_;
  int64_t axis_;
};

}  // namespace

std::unique_ptr<Op> make_softmax(OpBuilder& b) { return std::make_unique<Softmax>(b, false); }
std::unique_ptr<Op> make_log_softmax(OpBuilder& b) { return std::make_unique<Softmax>(b, true); }

}  // namespace bitlane::ops
