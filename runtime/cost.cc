#include "runtime/cost.h"

#include "quant/scheme.h"

namespace bitlane {
namespace {

// `plan_of(i, op)` gives the plan of quantizable node i; `bits_of` its
// storage width per weight value.
template <class PlanOf, class BitsOf>
ModelCost collect(const Model& model, const std::vector<std::unique_ptr<ops::Op>>& ops, PlanOf plan_of,
                  BitsOf bits_of, const std::vector<ops::LayerStats>* measured) {
  ModelCost total;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Node& n = model.nodes()[i];
    const ops::Op& op = *ops[i];
    std::vector<Shape> in;
    for (int t : n.inputs) in.push_back(model.tensor_shape(t));
    LayerCost c;
    c.node = static_cast<int>(i);
    c.name = n.name;
    c.op = n.op;
    c.quantizable = op.quantizable();
    c.shape = op.cost(in);
    const double others = static_cast<double>(c.shape.params - c.shape.weights) * 4;
    if (c.quantizable) c.plan = plan_of(i, op);
    c.weight_bits = c.plan.quantized() ? bits_of(op, c.plan) : 32;
    c.bytes = static_cast<double>(c.shape.weights) * c.weight_bits / 8 + others;
    c.bytes_int8 = static_cast<double>(c.shape.weights) + others;
    if (!c.quantizable) c.bytes_int8 = c.bytes = static_cast<double>(c.shape.params) * 4;
    double drq_share = 0.5;
    if (measured && i < measured->size()) {
      const ops::LayerStats& s = (*measured)[i];
      const double macs = static_cast<double>(s.macs.load());
      if (macs > 0) c.kept_pairs = static_cast<double>(s.pairs.load()) / macs * c.shape.macs;
      if (s.regions.load() > 0) {
        c.drq_sensitive = static_cast<double>(s.sensitive.load()) / static_cast<double>(s.regions.load());
        drq_share = c.drq_sensitive;
      }
    }
    c.pairs = c.shape.macs * c.plan.scheme().pairs_per_mac(c.plan, drq_share);
    total.macs += c.shape.macs;
    total.pairs += c.pairs;
    if (c.kept_pairs >= 0) total.kept_pairs = std::max(0.0, total.kept_pairs) + c.kept_pairs;
    total.bytes += c.bytes;
    total.bytes_int8 += c.bytes_int8;
    total.bytes_fp32 += static_cast<double>(c.shape.params) * 4;
    total.params += c.shape.params;
    total.layers.push_back(std::move(c));
  }
  return total;
}

}  // namespace

ModelCost model_cost(const Model& model, const quant::QuantPlan& plan) {
  std::vector<std::unique_ptr<ops::Op>> ops;
  int count = 0;
  for (const Node& n : model.nodes()) {
    ops.push_back(model.build_op(n));
    count += ops.back()->quantizable();
  }
  std::vector<int> index(ops.size(), 0);  // position among quantizable layers
  for (size_t i = 0, q = 0; i < ops.size(); ++i)
    if (ops[i]->quantizable()) index[i] = static_cast<int>(q++);
  return collect(
      model, ops,
      [&](size_t i, const ops::Op&) { return plan.for_layer(model.nodes()[i].name, index[i], count); },
      [](const ops::Op&, const quant::LayerPlan& lp) { return lp.scheme().weight_bits_per_param(lp); }, nullptr);
}

ModelCost model_cost(const Engine& engine, const std::vector<ops::LayerStats>* measured) {
  return collect(
      engine.model(), engine.ops(),
      [](size_t, const ops::Op& op) { return op.plan() ? *op.plan() : quant::LayerPlan{}; },
      [](const ops::Op& op, const quant::LayerPlan&) { return op.weight_bits(); }, measured);
}

}  // namespace bitlane
