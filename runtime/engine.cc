#include "runtime/engine.h"

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "core/executor.h"
#include "quant/calibration.h"
#include "quant/scheme.h"
#include "runtime/calibration_cache.h"
#include "runtime/graph_runner.h"
#include "runtime/safetensors.h"
#include "swar/targets.h"

namespace bitlane {
namespace {

// Channels-last floats: a [N, C, H, W] tensor between ops that all handle
// that layout (ops/op.h, Op::channels_last) is stored [N, H, W, C], so
// convolutions neither transpose their input nor their output. Ops that
// follow their inputs' layout need all of them alike: where they are not,
// the whole group goes back to NCHW, until nothing changes. Model inputs and
// outputs keep the layout of their shape.
void plan_layouts(const Model& model, std::vector<std::unique_ptr<ops::Op>>& ops) {
  using CL = ops::Op::ChannelsLast;
  const int tensors = model.tensor_count();
  const auto& nodes = model.nodes();
  std::vector<int> writer(static_cast<size_t>(tensors), -1);
  std::vector<bool> last(static_cast<size_t>(tensors), false);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int t : nodes[i].outputs) writer[static_cast<size_t>(t)] = static_cast<int>(i);
  for (int t = 0; t < tensors; ++t)
    last[static_cast<size_t>(t)] = model.tensor_shape(t).size() == 4 && model.tensor_dtype(t) == DType::kF32 &&
                                   writer[static_cast<size_t>(t)] >= 0 &&
                                   ops[static_cast<size_t>(writer[static_cast<size_t>(t)])]->channels_last() != CL::kNo;
  for (int t : model.output_ids()) last[static_cast<size_t>(t)] = false;
  for (const Node& n : nodes)
    if (ops[static_cast<size_t>(&n - nodes.data())]->channels_last() == CL::kNo)
      for (int t : n.inputs) last[static_cast<size_t>(t)] = false;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (ops[i]->channels_last() != CL::kFollows) continue;
      bool all = true, any = false;
      for (int t : nodes[i].inputs) all = all && last[static_cast<size_t>(t)];
      for (int t : nodes[i].outputs) all = all && last[static_cast<size_t>(t)];
      for (int t : nodes[i].inputs) any = any || last[static_cast<size_t>(t)];
      for (int t : nodes[i].outputs) any = any || last[static_cast<size_t>(t)];
      if (any && !all) {
        for (int t : nodes[i].inputs) last[static_cast<size_t>(t)] = false;
        for (int t : nodes[i].outputs) last[static_cast<size_t>(t)] = false;
        changed = true;
      }
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i)
    if (ops[i]->channels_last() == CL::kChooses)
      for (size_t k = 0; k < nodes[i].outputs.size(); ++k)
        ops[i]->set_output_layout(static_cast<int>(k), last[static_cast<size_t>(nodes[i].outputs[k])]
                                                         ? Layout::kChannelsLast
                                                         : Layout::kAsShape);
}

// Integer hand-over between ops (ops/op.h, QuantizedHandover): a tensor
// passes as integers when every reader wants the same handover -- a
// quantized layer reads it on its grid, or a max pool / flatten passes it on
// to readers that do -- and its writer can produce it. Walked from the
// outputs back, then forward to drop pass-through chains whose start cannot
// be integers. Model outputs stay float. Bit-exact with the float path: the
// writer quantizes the same float values the reader would have quantized,
// and max and reordering commute with a monotone quantizer. A float tensor
// with integer readers beside float ones may carry an integer twin for them
// (ops/op.h, twin_data).
void plan_handovers(const Model& model, std::vector<std::unique_ptr<ops::Op>>& ops) {
  const int tensors = model.tensor_count();
  std::vector<std::vector<std::pair<int, int>>> readers(static_cast<size_t>(tensors));
  std::vector<int> writer(static_cast<size_t>(tensors), -1), writer_slot(static_cast<size_t>(tensors), -1);
  const auto& nodes = model.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t k = 0; k < nodes[i].inputs.size(); ++k)
      readers[static_cast<size_t>(nodes[i].inputs[k])].push_back({static_cast<int>(i), static_cast<int>(k)});
    for (size_t k = 0; k < nodes[i].outputs.size(); ++k) {
      writer[static_cast<size_t>(nodes[i].outputs[k])] = static_cast<int>(i);
      writer_slot[static_cast<size_t>(nodes[i].outputs[k])] = static_cast<int>(k);
    }
  }
  std::vector<bool> is_output(static_cast<size_t>(tensors), false);
  for (int t : model.output_ids()) is_output[static_cast<size_t>(t)] = true;
  std::vector<std::optional<ops::QuantizedHandover>> want(static_cast<size_t>(tensors));
  auto input_shapes = [&](int node) {
    std::vector<Shape> shapes;
    for (int t : nodes[static_cast<size_t>(node)].inputs) shapes.push_back(model.tensor_shape(t));
    return shapes;
  };
  // Backward: what the readers of each tensor want.
  for (auto level = model.levels().rbegin(); level != model.levels().rend(); ++level)
    for (int node : *level)
      for (int t : nodes[static_cast<size_t>(node)].outputs) {
        if (is_output[static_cast<size_t>(t)] || readers[static_cast<size_t>(t)].empty()) continue;
        std::optional<ops::QuantizedHandover> h;
        bool ok = true;
        for (const auto& [reader, slot] : readers[static_cast<size_t>(t)]) {
          const ops::Op& op = *ops[static_cast<size_t>(reader)];
          std::optional<ops::QuantizedHandover> r = op.quantized_input(slot);
          const auto& outs = nodes[static_cast<size_t>(reader)].outputs;
          if (!r && outs.size() == 1 && want[static_cast<size_t>(outs[0])])
            r = op.passes_through(*want[static_cast<size_t>(outs[0])], input_shapes(reader));
          if (!r || (h && !(*h == *r))) {
            ok = false;
            break;
          }
          h = r;
        }
        if (ok) want[static_cast<size_t>(t)] = h;
      }
  // Forward: a tensor is integers only if its writer makes it so (a quantized
  // layer), or passes integers on (its input is integers).
  for (const auto& level : model.levels())
    for (int node : level) {
      const Node& n = nodes[static_cast<size_t>(node)];
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        const int t = n.outputs[k];
        if (!want[static_cast<size_t>(t)]) continue;
        ops::Op& op = *ops[static_cast<size_t>(node)];
        if (op.can_emit_quantized(static_cast<int>(k))) {
          op.emit_quantized(static_cast<int>(k), *want[static_cast<size_t>(t)]);
        } else if (n.inputs.size() != 1 || !want[static_cast<size_t>(n.inputs[0])]) {
          want[static_cast<size_t>(t)].reset();
        }
      }
    }
  // Float tensors that some readers would take as integers (a block's output
  // that is also the next block's residual): when those readers agree, the
  // writer adds an integer twin for them, and the others read the floats.
  for (int t = 0; t < tensors; ++t) {
    const int w = writer[static_cast<size_t>(t)];
    if (want[static_cast<size_t>(t)] || w < 0 || !ops[static_cast<size_t>(w)]->can_emit_twin(writer_slot[static_cast<size_t>(t)]))
      continue;
    std::optional<ops::QuantizedHandover> h;
    std::vector<std::pair<int, int>> takers;
    bool agree = true;
    for (const auto& [reader, slot] : readers[static_cast<size_t>(t)]) {
      const std::optional<ops::QuantizedHandover> r = ops[static_cast<size_t>(reader)]->quantized_input(slot);
      if (!r) continue;
      agree = agree && (!h || *h == *r);
      h = r;
      takers.push_back({reader, slot});
    }
    if (!agree || takers.empty()) continue;
    ops[static_cast<size_t>(w)]->emit_twin(writer_slot[static_cast<size_t>(t)], *h);
    for (const auto& [reader, slot] : takers) ops[static_cast<size_t>(reader)]->read_twin(slot);
  }
}

// Quantizes the layers with their statistics and lays out the hand-overs.
void finish_build(std::vector<std::unique_ptr<ops::Op>>& ops, const Model& model, const EngineOptions& options,
                  const std::vector<int>& layers, const std::vector<quant::LayerPlan>& plans,
                  const std::vector<quant::RangeStats>& stats, const std::vector<quant::RangeStats>& out_stats) {
  for (size_t k = 0; k < layers.size(); ++k) {
    ops::Op& op = *ops[static_cast<size_t>(layers[k])];
    op.quantize(plans[k], stats[static_cast<size_t>(layers[k])], out_stats[static_cast<size_t>(layers[k])]);
    // Layer by layer, so the build's peak holds one layer's unpacked weights.
    if (!options.reference_kernels) op.release_reference_weights();
  }
  if (!options.reference_kernels) {
    plan_layouts(model, ops);
    if (!options.float_handover) plan_handovers(model, ops);
  }
  for (const auto& op : ops) op->prepare_to_run();
}

}  // namespace

std::vector<Tensor> load_calibration(const Model& model) {
  const auto& c = model.calibration();
  if (c.is_null())
    fail(model.origin(), "the quantization plan needs calibration samples, but the model names none "
                         "(add \"calibration\" to the model or pass samples)");
  if (model.inputs().size() != 1)
    fail(model.origin(), "calibration files serve single-input models only");
  return calibration_from(model, SafeTensorsFile::load(calibration_file(model)), c["tensor"].get<std::string>());
}

std::string calibration_file(const Model& model) {
  const auto& c = model.calibration();
  if (c.is_null()) return "";
  const std::string file = c["file"].get<std::string>();
  return file[0] == '/' ? file : model.directory() + "/" + file;
}

std::vector<Tensor> calibration_from(const Model& model, const SafeTensorsFile& st, const std::string& tensor) {
  if (model.inputs().size() != 1) fail(model.origin(), "calibration files serve single-input models only");
  const SafeTensor* t = st.find(tensor);
  if (!t) fail(st.origin(), "has no tensor '" + tensor + "'");
  const InputSpec& spec = model.inputs()[0];
  return calibration_tensor(model, spec.dtype == DType::kI32 ? st.read_i32(*t) : st.read_f32(*t), t->dtype == "U8",
                            st.origin() + ": tensor '" + tensor + "'");
}

std::vector<Tensor> calibration_tensor(const Model& model, Tensor x, bool u8_pixels, const std::string& origin) {
  if (model.inputs().size() != 1) fail(model.origin(), "calibration files serve single-input models only");
  const InputSpec& spec = model.inputs()[0];
  if (x.rank() < 1 || x.dim(0) < 1) fail(origin, "holds no samples (shape " + shape_str(x.shape()) + ")");
  if (spec.dtype == DType::kF32 && u8_pixels && spec.preprocessing) {
    const Preprocessing& p = *spec.preprocessing;
    const int64_t channels = static_cast<int64_t>(p.mean.size());
    const int64_t plane = x.size() / std::max<int64_t>(1, x.dim(0) * channels);
    // Plane by plane (a division and a modulo per value were 3% of the
    // MLP's start-up); the same operations on every value. Fewer values
    // than samples x channels (plane 0) fail the shape check below.
    float* v = x.f32();
    for (int64_t at = 0, s = 0; plane > 0 && at < x.size(); at += plane, ++s) {
      const float mean = p.mean[static_cast<size_t>(s % channels)], sd = p.std[static_cast<size_t>(s % channels)];
      for (int64_t i = at; i < std::min(x.size(), at + plane); ++i) v[i] = (v[i] * p.scale - mean) / sd;
    }
  }
  // Images [N, C, H, W] for a flat input [C*H*W] (or the reverse): the same
  // values in the same order. A dynamic size (-1, a sequence) takes any length.
  Shape want{x.dim(0)};
  want.insert(want.end(), spec.shape.begin(), spec.shape.end());
  bool dynamic = false;
  int64_t per_sample = 1;
  for (size_t i = 1; i < want.size(); ++i) {
    if (want[i] < 0) dynamic = true;
    else per_sample *= want[i];
  }
  if (!dynamic && x.shape() != want) {
    if (x.size() != x.dim(0) * per_sample)
      fail(origin, "samples of shape " + shape_str(Shape(x.shape().begin() + 1, x.shape().end())) +
                       " do not fit the model's input " + shape_str(spec.shape));
    x.reshape(want);
  }
  return one_tensor(std::move(x));
}

int64_t Engine::weight_bytes() const {
  int64_t sum = 0;
  for (const auto& op : ops_) sum += op->weight_bytes();
  return sum;
}

std::shared_ptr<const Engine> Engine::build(std::shared_ptr<const Model> model,
                                            const EngineOptions& options, const Executor& ex) {
  // Before any kernel runs: an fp32 plan reaches no GEMM entry point (which
  // applies it too), and ran on the CPU's best target whatever BITLANE_TARGET said.
  swar::apply_target_from_environment();
  auto e = std::shared_ptr<Engine>(new Engine());
  e->model_ = model;
  e->reference_ = options.reference_kernels;
  e->plan_ = options.plan ? *options.plan : model->plan();
  for (const Node& n : model->nodes()) e->ops_.push_back(model->build_op(n));
  e->micro_batch_ = options.micro_batch;
  if (std::none_of(e->ops_.begin(), e->ops_.end(), [](const auto& op) { return op->make_state() != nullptr; }))
    for (int t = 0; t < model->tensor_count(); ++t)
      e->sample_bytes_ = std::max<int64_t>(e->sample_bytes_, numel(model->tensor_shape(t)) * 4);

  std::vector<int> layers;  // quantizable nodes, in order
  for (size_t i = 0; i < e->ops_.size(); ++i)
    if (e->ops_[i]->quantizable()) layers.push_back(static_cast<int>(i));
  for (const auto& entry : e->plan_.layers) {
    const std::string& name = entry.first;  // (clang 14 cannot capture a structured binding)
    if (std::none_of(layers.begin(), layers.end(),
                     [&](int i) { return model->nodes()[static_cast<size_t>(i)].name == name; }))
      fail(model->origin(), "the quantization plan names layer '" + name +
                                "', which is not a quantizable node (dense, conv2d, lstm)");
  }
  std::vector<quant::LayerPlan> plans;
  bool any = false;
  for (size_t k = 0; k < layers.size(); ++k) {
    plans.push_back(e->plan_.for_layer(model->nodes()[static_cast<size_t>(layers[k])].name,
                                       static_cast<int>(k), static_cast<int>(layers.size())));
    any |= plans.back().quantized();
  }
  if (!any) {
    for (int i : layers)
      e->ops_[static_cast<size_t>(i)]->quantize(quant::LayerPlan{}, quant::RangeStats{}, quant::RangeStats{});
    if (!options.reference_kernels) plan_layouts(*model, e->ops_);
    for (const auto& op : e->ops_) op->prepare_to_run();
    return e;
  }

  // Calibrate: run the fp32 operators on the samples and record the input
  // statistics of every quantizable layer (unless every quantized layer runs
  // on grids fixed by training).
  const bool need_samples =
      std::any_of(plans.begin(), plans.end(), [](const quant::LayerPlan& p) { return p.needs_samples(); });
  // A value sample is what percentile and MSE calibration and the exponent
  // search read; layers calibrated by min/max keep none (for ResNet at 4
  // bits, keeping them was most of building the engine). Of the outputs'
  // statistics only the LSTM's exponent search reads anything, so only
  // those layers' are taken.
  std::vector<quant::RangeStats> stats(e->ops_.size(), quant::RangeStats(false)),
      out_stats(e->ops_.size(), quant::RangeStats(false));
  bool any_sample = false;
  std::vector<bool> wants_output(e->ops_.size(), false);  // only the exponent search reads them
  for (size_t k = 0; k < layers.size(); ++k) {
    const quant::LayerPlan& p = plans[k];
    if (!p.quantized()) continue;
    const bool exponent = p.scheme().execution() == quant::Execution::kExponent;
    const bool sample = exponent || p.calibration != quant::Calibration::kMinMax;
    stats[static_cast<size_t>(layers[k])] = quant::RangeStats(sample);
    out_stats[static_cast<size_t>(layers[k])] = quant::RangeStats(exponent);
    wants_output[static_cast<size_t>(layers[k])] = exponent;
    any_sample |= sample;
  }
  // Min and max of every measured layer are all such a run yields: an entry
  // of the calibration cache stands in for it (runtime/calibration_cache.h).
  // Samples the model names are known by their file's bytes, so a hit does
  // not even decode them (0.5-1 ms of a warm 22-31 ms start).
  std::vector<int> measured;
  for (size_t k = 0; k < layers.size(); ++k)
    if (plans[k].quantized()) measured.push_back(layers[k]);
  std::optional<uint64_t> key;
  if (!options.calibration_cache.empty() && !any_sample) {
    std::optional<uint64_t> samples_id;
    if (!options.calibration.empty()) samples_id = samples_digest(options.calibration);
    else if (need_samples) samples_id = named_samples_digest(*model, calibration_file(*model));
    if (samples_id) key = calibration_key(*model, *samples_id, measured, options.reference_kernels);
  }
  if (key && read_calibration_cache(options.calibration_cache, *key, *model, measured, stats)) {
    finish_build(e->ops_, *model, options, layers, plans, stats, out_stats);
    return e;
  }
  std::vector<Tensor> samples = !options.calibration.empty() ? options.calibration
                                : need_samples             ? load_calibration(*model)
                                                           : std::vector<Tensor>{};
  if (!samples.empty() && samples.size() != model->inputs().size())
    fail(model->origin(), "calibration needs one tensor per model input");
  // Without value samples, calibration runs the float graph as a float
  // engine does, with channels-last hand-overs between its convolutions
  // (each conv otherwise transposes its input to channels-last and its
  // output back: a sixth of ResNet's calibration). Min and max do not depend
  // on the order the values come in (the first value, which starts them, is
  // element 0 in either layout); a strided sample would.
  if (!any_sample && !options.reference_kernels) plan_layouts(*model, e->ops_);
  GraphRunner runner(*model, e->ops_);
  const int64_t total = samples.empty() ? 0 : runner.check_inputs(samples);
  // Samples 16 at a time: the float activations of a chunk stay in cache and
  // fewer fresh pages are touched (ResNet: 64 at a time took 25% longer).
  // Every tensor is batch-major here, so the statistics see the same values
  // in the same order for any chunk size.
  constexpr int64_t kChunk = 16;
  for (int64_t b = 0; b < total; b += kChunk) {
    runner.reset_state();
    runner.run_samples(samples, b, std::min(kChunk, total - b), ex, false, [&](int node, const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) {
      if (!e->ops_[static_cast<size_t>(node)]->quantizable()) return;
      if (in[0]->dtype() == DType::kF32) stats[static_cast<size_t>(node)].add(in[0]->f32(), in[0]->size());
      if (wants_output[static_cast<size_t>(node)])
        out_stats[static_cast<size_t>(node)].add(out[0]->f32(), out[0]->size());
    });
  }
  if (key && total > 0) write_calibration_cache(options.calibration_cache, *key, *model, measured, stats);
  finish_build(e->ops_, *model, options, layers, plans, stats, out_stats);
  return e;
}

}  // namespace bitlane
