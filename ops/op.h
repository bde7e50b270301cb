// Operators: the interface every op implements, and what an op sees while it
// is built from its JSON node (OpBuilder) and while it runs (RunContext).
//
// Ops are built once per engine; they hold their weights (fp32, and packed
// integers when quantized) and are immutable while running, so sessions on
// other threads can share them. Per-session state (an LSTM's h and c) lives
// in an OpState the session owns.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/executor.h"
#include "core/tensor.h"
#include "quant/plan.h"
#include "quant/uniform.h"

namespace bitlane {
class Executor;
}
namespace bitlane::quant {
class RangeStats;
}

namespace bitlane::ops {

// A weight store: name -> fp32 (or int32) tensor, shared between engines.
class Weights {
 public:
  virtual ~Weights() = default;
  virtual std::shared_ptr<const Tensor> find(const std::string& name) const = 0;
  virtual const std::string& origin() const = 0;  // file name, for errors
};

class OpBuilder {
 public:
  OpBuilder(const std::string& where, const std::string& name, const nlohmann::json& attributes,
            const Weights& weights);

  const std::string& where() const { return where_; }  // "model.json: node 'fc1'"
  const std::string& name() const { return name_; }

  bool has(const char* key) const;
  int64_t get_int(const char* key) const;
  int64_t get_int(const char* key, int64_t fallback) const;
  double get_float(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::vector<int64_t> get_ints(const char* key, std::vector<int64_t> fallback) const;
  std::vector<std::string> get_strings(const char* key) const;
  std::string get_string(const char* key) const;
  // The weight whose name is the value of attribute `key`.
  std::shared_ptr<const Tensor> weight(const char* key) const;
  std::shared_ptr<const Tensor> weight_named(const std::string& name, const char* key) const;
  std::shared_ptr<const Tensor> optional_weight(const char* key) const;
  // Throws an error naming the node and attribute.
  [[noreturn]] void error(const char* key, const std::string& reason) const;
  // Throws on attributes no getter asked for.
  void check_unknown_attributes() const;
  // Weight names this node uses (for the model's unused-weight check).
  const std::vector<std::string>& used_weights() const { return used_weights_; }

 private:
  const nlohmann::json& attr(const char* key) const;
  std::string where_, name_;
  const nlohmann::json& attrs_;
  const Weights& weights_;
  mutable std::vector<std::string> read_;
  mutable std::vector<std::string> used_weights_;
};

// Mutable per-session state of a stateful op.
struct OpState {
  virtual ~OpState() = default;
  virtual void reset() = 0;
};

// What a layer actually did, counted when a session asks for it (sweeps,
// `bitlane eval`): multiply-accumulates, term pairs multiplied (each MAC
// counts terms(w) x terms(x) under the scheme's encoding), and DRQ regions.
struct LayerStats {
  std::atomic<int64_t> macs{0}, pairs{0}, regions{0}, sensitive{0};
};

struct RunContext {
  const Executor& ex;
  OpState* state = nullptr;     // the session's state for this op, if stateful
  bool reference = false;       // integer layers use the scalar reference GEMM
  LayerStats* stats = nullptr;  // count what was computed (slower)
};

// fn(b, e) over [0, n) items (images, planes) of about `bytes_each` bytes
// of memory traffic, split over the executor's threads when there is enough
// work for a task (~32 KB) and on the calling thread otherwise.
template <class F>
void parallel_items(const RunContext& ctx, int64_t n, size_t bytes_each, F&& fn) {
  const size_t grain = std::max<size_t>(1, (size_t{1} << 15) / std::max<size_t>(1, bytes_each));
  ctx.ex.parallel_for(static_cast<size_t>(n), grain, std::forward<F>(fn));
}

// Cost of one op for one batch item, for `bitlane info` and the estimator.
struct OpCost {
  double macs = 0;        // multiply-accumulates
  int64_t params = 0;     // weights
  int64_t reduction = 0;  // K of the dot products (0 for ops without them)
  int64_t outputs = 0;    // dot products per item (M x N of the GEMM view)
  int64_t weights = 0;    // the params the plan quantizes (no biases)
};

// One matrix product of an op in the GEMM view, per batch item: an
// [m x k] by [k x n] product, done `repeats` times one after another (conv
// groups, LSTM time steps: each depends on the previous or shares the
// array). The systolic estimator maps these onto the array.
struct GemmShape {
  int64_t m = 0, n = 0, k = 0, repeats = 1;
  // Groups of reduction values (term, SDP) stay inside runs of `segment`
  // consecutive k values (conv: the input channels of one kernel position);
  // 0: the whole of k is one run.
  int64_t segment = 0;
  // Reduction steps of a PE that consumes `values` consecutive values of a
  // run per step: ceil(segment / values) per run, short last run included.
  int64_t reduction_steps(int64_t values) const {
    const int64_t run = segment > 0 && segment < k ? segment : k;
    const int64_t whole = k / run, rest = k % run;
    return whole * ((run + values - 1) / values) + (rest + values - 1) / values;
  }
};

// A tensor handed from one op to the next as integers instead of floats:
// the values on the reading layer's grid, in its storage type and layout.
// The engine (runtime/engine.cc) sets these up after calibration when every
// reader of a tensor wants the same handover and its writer can produce it.
struct QuantizedHandover {
  quant::Affine grid;
  DType type = DType::kU8;
  Layout layout = Layout::kAsShape;
  bool operator==(const QuantizedHandover& o) const {
    return grid.scale == o.grid.scale && grid.mul == o.grid.mul && grid.offset == o.grid.offset &&
           grid.format == o.grid.format && grid.lowest() == o.grid.lowest() && grid.highest() == o.grid.highest() &&
           type == o.type && layout == o.layout;
  }
};

// The integer twin of a float tensor: when a float tensor also has readers
// that take integers (ResNet's stem output is the next convolution's input
// and a residual), its writer puts their integers after the floats in the
// same tensor's storage (64-byte aligned), and the float readers read the
// floats as before.
inline size_t twin_offset(const Tensor& t) { return (static_cast<size_t>(t.size()) + 15) / 16 * 64; }
inline const uint8_t* twin_data(const Tensor& t) { return static_cast<const uint8_t*>(t.data()) + twin_offset(t); }
inline uint8_t* twin_data(Tensor& t) { return static_cast<uint8_t*>(t.data()) + twin_offset(t); }
// The 4-byte elements a tensor of `shape` needs beyond its own for a twin of
// `type` integers, with 64 bytes to spare for readers that load whole blocks
// past their runs.
int64_t twin_elements(const Shape& shape, DType type);

class Op {
 public:
  virtual ~Op() = default;
  virtual const char* type() const = 0;

  // Output shapes (batch first) for these input shapes; throws with the
  // node's name and both shapes on a mismatch.
  virtual std::vector<Shape> infer(const std::vector<Shape>& inputs) const = 0;
  // Output dtype for these input dtypes (default: float32).
  virtual DType output_dtype(const std::vector<DType>& inputs) const { return DType::kF32; }
  // Input dtypes the op accepts (default: all float32).
  virtual bool accepts(const std::vector<DType>& inputs) const {
    for (DType t : inputs)
      if (t != DType::kF32) return false;
    return true;
  }
  virtual void run(const RunContext& ctx, const std::vector<const Tensor*>& in,
                   const std::vector<Tensor*>& out) const = 0;

  // Layers with integer execution (dense, conv2d, lstm).
  virtual bool quantizable() const { return false; }
  // Switches to quantized execution with the plan; `input` and `output` hold
  // calibration statistics of the op's first input and output. Only called
  // on quantizable ops.
  virtual void quantize(const quant::LayerPlan& plan, const quant::RangeStats& input,
                        const quant::RangeStats& output) {}
  // Weight storage bits per parameter under the current plan (0 if not
  // quantizable), for cost reports; exponential layers know theirs only after
  // the search.
  virtual double weight_bits() const { return 0; }
  virtual const quant::LayerPlan* plan() const { return nullptr; }
  // The integer kernel its products run on under the current plan
  // (swar's method name, "exponent" for DNA-TEQ), empty when none.
  virtual std::string kernel() const { return {}; }
  // Builds what running under the current plan needs but construction
  // leaves out (packed float weights: an op is constructed several times
  // while a model loads and runs only in an engine), and frees what the
  // plan no longer needs (a quantized layer's float weights, packed for
  // calibration). The engine calls it once the plan is applied, so the
  // first run does not pay; run() builds the same itself when nobody did.
  virtual void prepare_to_run() {}
  // Frees what only the scalar reference kernels read (the unpacked integer
  // weights: QuantizedMatmul::release_reference_weights); the engine calls
  // it right after quantize() unless it was asked for reference kernels.
  virtual void release_reference_weights() {}
  // Per-session state of stateful ops (null for the others).
  virtual std::unique_ptr<OpState> make_state() const { return nullptr; }

  virtual OpCost cost(const std::vector<Shape>& inputs) const { return {}; }
  // The matrix products behind cost().macs (empty for ops without any).
  virtual std::vector<GemmShape> gemms(const std::vector<Shape>& inputs) const { return {}; }
  // Sum of the bytes its weights take in fp32 and at the current plan.
  virtual int64_t weight_bytes() const { return 0; }

  // Channels-last floats (the engine's layout pass, runtime/engine.cc): how
  // an op deals with [N, C, H, W] tensors stored as [N, H, W, C] (see
  // Tensor::layout()). kFollows: reads either, and its output has the layout
  // of its inputs (all alike); kChooses: reads either, and writes its
  // outputs in the layout set_output_layout gives (default: as the shape).
  enum class ChannelsLast { kNo, kFollows, kChooses };
  virtual ChannelsLast channels_last() const { return ChannelsLast::kNo; }
  virtual void set_output_layout(int output, Layout layout) {}

  // Integer hand-over between ops (QuantizedHandover). Every op accepts float
  // inputs; these say what more it can do once quantized:
  // - the handover on which it reads input i directly (quantized dense, conv2d);
  virtual std::optional<QuantizedHandover> quantized_input(int input) const { return std::nullopt; }
  // - whether it can write output o as integers on a reader's grid, and then
  //   does so from now on;
  virtual bool can_emit_quantized(int output) const { return false; }
  virtual void emit_quantized(int output, const QuantizedHandover& h) {}
  // - for ops that keep integers integers (max pool, flatten): the handover
  //   its input needs for its output to have `out`, or none.
  virtual std::optional<QuantizedHandover> passes_through(const QuantizedHandover& out,
                                                          const std::vector<Shape>& inputs) const {
    return std::nullopt;
  }
  // - for a float output that also has integer readers: whether it can write
  //   their integers as the tensor's twin (twin_data), and then does so, the
  //   storage for it asked for with output_extra;
  virtual bool can_emit_twin(int output) const { return false; }
  virtual void emit_twin(int output, const QuantizedHandover& h) {}
  virtual int64_t output_extra(int output, const Shape& shape) const { return 0; }
  // - for readers of a twin: input i's integers are its twin.
  virtual void read_twin(int input) {}
};

using OpFactory = std::unique_ptr<Op> (*)(OpBuilder& b);

// The op registered under `type`, or null.
OpFactory find_op(const std::string& type);
std::vector<std::string> op_types();

}  // namespace bitlane::ops
