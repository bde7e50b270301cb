// What a model and its quantization plan would cost on a systolic array
// (systolic.h): each layer's matrix products mapped onto the array with the
// processing element its scheme needs, per layer and in total -- cycles,
// latency at the clock, utilization, term pairs and an energy proxy.
#pragma once

#include <string>
#include <vector>

#include "quant/scheme.h"
#include "runtime/cost.h"
#include "runtime/engine.h"
#include "runtime/estimate/systolic.h"
#include "runtime/model.h"

namespace bitlane::estimate {

// Energies per operation in picojoules. Defaults: 45 nm figures of Horowitz
// (ISSCC 2014) -- 8-bit multiply 0.2 + add 0.03; 32-bit float multiply-add
// 3.7; an 8 KB SRAM read of 32 bits 5 (1.25 per byte) -- and, for the
// narrow PEs, a one-bit AND plus accumulator add (0.01 per cycle) and an
// exponent add plus counter increment (0.03).
struct Energies {
  double buffer_byte = 1.25;  // on-chip buffer read or write, per byte
  double reg = 0.05;          // operand registers, per PE step
  double mac8 = 0.23;         // 8 x 8-bit multiply-accumulate (bit-parallel scales by b_w b_x / 64)
  double fp32_mac = 3.7;      // fp32 multiply-add (fp32 layers)
  double bit_cycle = 0.01;    // a cycle of a bit-serial or term-pair PE
  double exp_op = 0.03;       // exponent add + counter increment (DNA-TEQ)
  // "key=value,..." over these names; unknown keys and bad values are errors.
  static Energies parse(const std::string& spec);
};

// The PE integer layers with a uniform plan use (quant/scheme.h). Term,
// DNA-TEQ, SDP and DRQ layers always use their own PE; fp32 layers a float MAC.
using quant::UniformPe;

struct EstimateOptions {
  ArrayConfig array;
  // Items run together: their rows share each fold (more streamed steps per
  // fill and drain). Results are reported per item.
  int64_t batch = 1;
  UniformPe uniform_pe = UniformPe::kBitParallel;
  Energies energy;
};

// The PE step a layer's plan needs (its scheme's pe_work; drq_share:
// measured share of 8-bit regions, 0.5 when unknown).
PeStep pe_for(const quant::LayerPlan& plan, double weight_bits, const EstimateOptions& o, double drq_share);

struct LayerEstimate {
  std::string name, op, pe;
  double cycles = 0, useful = 0, busy = 0;  // per item, over all its products and repeats
  double utilization = 0;
  double energy_pj = 0;
  double term_pairs = 0;  // papers' count (runtime/cost)
  int64_t folds = 0;
};

struct ModelEstimate {
  std::vector<LayerEstimate> layers;  // layers with matrix products only
  double cycles = 0, seconds = 0, energy_pj = 0, term_pairs = 0, utilization = 0;
};

// From a model's ops (built or not) and its cost (plans, storage widths,
// measured DRQ shares).
ModelEstimate estimate(const Model& model, const std::vector<std::unique_ptr<ops::Op>>& ops, const ModelCost& cost,
                       const EstimateOptions& options);
// The plan on the model without building it.
ModelEstimate estimate(const Model& model, const quant::QuantPlan& plan, const EstimateOptions& options);

}  // namespace bitlane::estimate
