// What a model costs under a quantization plan, per layer and in total:
// MACs, term pairs as the papers count them (quant::pairs_per_mac), pairs
// actually kept (from a run with Session::enable_stats), and weight storage
// against INT8 and fp32. `bitlane info`, `sweep` and the estimator use it.
#pragma once

#include <string>
#include <vector>

#include "ops/op.h"
#include "quant/plan.h"
#include "runtime/engine.h"
#include "runtime/model.h"

namespace bitlane {

struct LayerCost {
  int node = 0;
  std::string name, op;
  bool quantizable = false;
  quant::LayerPlan plan;      // fp32 for layers the plan leaves alone
  ops::OpCost shape;          // MACs, params, reduction, outputs per item
  double weight_bits = 32;    // storage bits per weight value
  double bytes = 0;           // weights at weight_bits, biases and others fp32
  double bytes_int8 = 0;      // the same layer with INT8 weights
  double pairs = 0;           // papers' term pairs per item
  double kept_pairs = -1;     // measured per item (-1: not measured)
  double drq_sensitive = -1;  // measured share of 8-bit regions (-1: none)
};

struct ModelCost {
  std::vector<LayerCost> layers;
  double macs = 0, pairs = 0, kept_pairs = -1;
  double bytes = 0, bytes_int8 = 0, bytes_fp32 = 0;
  int64_t params = 0;
  // INT8 bytes over this plan's bytes (> 1: smaller than INT8).
  double compression_vs_int8() const { return bytes > 0 ? bytes_int8 / bytes : 0; }
};

// Static costs of `plan` on a model without building it (exponential layers
// count the upper bound of their width search).
ModelCost model_cost(const Model& model, const quant::QuantPlan& plan);

// Costs of a built engine (searched widths known). With `measured` (a
// session's stats, indexed like the nodes) the kept pairs and the DRQ
// sensitive shares are filled in; DRQ's papers' pairs then use that share.
ModelCost model_cost(const Engine& engine, const std::vector<ops::LayerStats>* measured = nullptr);

}  // namespace bitlane
