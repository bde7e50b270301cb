#include "runtime/graph_runner.h"

#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/executor.h"
#include "core/finite.h"
#include "core/limits.h"

namespace bitlane {

GraphRunner::GraphRunner(const Model& model, const std::vector<std::unique_ptr<ops::Op>>& ops)
    : model_(model), ops_(ops), tensors_(static_cast<size_t>(model.tensor_count())) {
  for (const auto& op : ops_) states_.push_back(op->make_state());
}

void GraphRunner::reset_state() {
  for (auto& s : states_)
    if (s) s->reset();
}

void GraphRunner::run(const std::vector<Tensor>& inputs, const Executor& ex, bool reference,
                      const Observer& observer) {
  run_samples(inputs, 0, check_inputs(inputs), ex, reference, observer);
}

int64_t GraphRunner::check_inputs(const std::vector<Tensor>& inputs) const {
  const auto& specs = model_.inputs();
  if (inputs.size() != specs.size())
    fail(model_.origin(), "expects " + std::to_string(specs.size()) + " inputs, got " +
                              std::to_string(inputs.size()));
  int64_t batch = -1;
  for (size_t i = 0; i < specs.size(); ++i) {
    const InputSpec& spec = specs[i];
    const Tensor& t = inputs[i];
    const std::string where = model_.origin() + ": input '" + spec.name + "'";
    if (t.dtype() != spec.dtype)
      fail(where, std::string("expects ") + dtype_name(spec.dtype) + ", got " + dtype_name(t.dtype()));
    bool ok = t.rank() == static_cast<int>(spec.shape.size()) + 1 && t.dim(0) >= 1;
    for (size_t d = 0; ok && d < spec.shape.size(); ++d)
      ok = spec.shape[d] < 0 ? t.dim(static_cast<int>(d) + 1) >= 1
                             : t.dim(static_cast<int>(d) + 1) == spec.shape[d];
    if (!ok) fail(where, "expects shape [batch, " + shape_str(spec.shape).substr(1) + ", got " + shape_str(t.shape()));
    if (batch >= 0 && t.dim(0) != batch) fail(where, "batch size differs from the other inputs");
    batch = t.dim(0);
    if (spec.layout == "T" && static_cast<uint64_t>(t.dim(1)) > limits().max_sequence_length)
      fail(where, "sequence of " + std::to_string(t.dim(1)) + " tokens exceeds the limit");
    // A NaN or infinity would reach the quantizers (which clamp it to a grid
    // end: a silent wrong answer) or every float output: named instead.
    if (t.dtype() == DType::kF32) require_finite(t.f32(), t.size(), where);
  }
  return batch;
}

void GraphRunner::run_samples(const std::vector<Tensor>& inputs, int64_t first, int64_t count, const Executor& ex,
                              bool reference, const Observer& observer) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    Shape s = t.shape();
    s[0] = count;
    Tensor& dst = tensors_[static_cast<size_t>(model_.input_ids()[i])];
    dst.resize(s, t.dtype());
    const int64_t per_sample = t.size() / t.dim(0);  // inputs are 4-byte values (float32, int32)
    std::memcpy(dst.i32(), t.i32() + first * per_sample, static_cast<size_t>(count * per_sample) * 4);
  }
  for (const auto& level : model_.levels()) {
    if (level.size() == 1) {
      run_node(level[0], ex, reference, observer);
    } else {  // independent branches run side by side
      ex.parallel_for(level.size(), 1, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) run_node(level[i], ex, reference, observer);
      });
    }
  }
}

void GraphRunner::run_node(int index, const Executor& ex, bool reference, const Observer& observer) {
  const Node& n = model_.nodes()[static_cast<size_t>(index)];
  const ops::Op& op = *ops_[static_cast<size_t>(index)];
  std::vector<const Tensor*> in;
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (int t : n.inputs) {
    in.push_back(&tensors_[static_cast<size_t>(t)]);
    shapes.push_back(tensors_[static_cast<size_t>(t)].shape());
    dtypes.push_back(tensors_[static_cast<size_t>(t)].dtype());
  }
  const std::vector<Shape> out_shapes = op.infer(shapes);
  std::vector<Tensor*> out;
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    Tensor& t = tensors_[static_cast<size_t>(n.outputs[k])];
    t.resize(out_shapes[k], op.output_dtype(dtypes), op.output_extra(static_cast<int>(k), out_shapes[k]));
    out.push_back(&t);
  }
  const ops::RunContext ctx{ex, states_[static_cast<size_t>(index)].get(), reference,
                            stats_ ? &(*stats_)[static_cast<size_t>(index)] : nullptr};
  const auto t0 = std::chrono::steady_clock::now();
  op.run(ctx, in, out);
  if (timing_)
    (*timing_)[static_cast<size_t>(index)] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (observer) observer(index, in, out);
}

}  // namespace bitlane
