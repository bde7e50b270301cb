// The analytic model of a systolic array running one matrix product: the
// standard first-order model of SCALE-Sim (Samajdar et al., ISPASS 2020) for
// weight-, output- and input-stationary dataflows, extended to processing
// elements that need several cycles per step (bit-serial, term, SDP) by
// running the array in lock step.
//
// A product [m x k] x [k x n] becomes three dimensions: two spread over the
// R x C array (S_R over rows, S_C over columns) and one streamed in time (T):
//
//   dataflow            S_R   S_C   T      what stays in the PE
//   weight-stationary   k'    n     m      a weight (group)
//   output-stationary   m     n     k'     an output's accumulator
//   input-stationary    k'    m     n      an input (group)
//
// where k' = ceil(k / values_per_step) counts reduction steps (a term PE
// consumes a whole group of g values in one step). A fold fills the array
// with at most R x C of the spatial pairs; there are
//   folds = ceil(S_R / R) * ceil(S_C / C)
// and each takes  2R + C + T - 2  steps: operands enter skewed, cross R rows
// and C columns (fill) and the last results leave (drain), as in SCALE-Sim's
// scale-up formula with the full array dimensions (data crosses the whole
// physical array even when a fold uses part of it). Every PE finishes its
// step before operands move on, so a step lasts `cycles_per_step` cycles
// for every PE -- what a fixed per-group budget (term quantization) buys:
//   cycles = folds * (2R + C + T - 2) * cycles_per_step.
// Utilization = useful PE steps (m * n * k') / (R * C * folds * (2R+C+T-2)).
//
// Assumptions: operands are always in the on-chip buffers (no DRAM stalls;
// SCALE-Sim's compute cycles), folds do not overlap, the non-matrix ops
// (pooling, activations, softmax) run elsewhere and are not counted.
#pragma once

#include <cstdint>
#include <string>

#include "ops/op.h"

namespace bitlane::estimate {

enum class Dataflow { kWeightStationary, kOutputStationary, kInputStationary };
const char* dataflow_name(Dataflow d);  // "ws", "os", "is"

struct ArrayConfig {
  int64_t rows = 64, cols = 128;  // the term-revealing FPGA's array
  double clock_hz = 200e6;
  Dataflow dataflow = Dataflow::kWeightStationary;
};

// What one PE does per step, and what it costs.
struct PeStep {
  std::string kind;            // "bit-parallel", "bit-serial", "term", ...
  int64_t values = 1;          // reduction values consumed per step
  double cycles = 1;           // cycles per step
  double energy_pj = 0;        // compute energy per step
  double weight_bits = 8;      // storage bits per weight value (buffer traffic)
  double activation_bits = 8;  // bits per activation value
};

struct GemmTiming {
  int64_t folds = 0;
  double steps = 0;        // array steps (beats) including fill and drain
  double cycles = 0;
  double useful = 0;       // PE steps doing work: m * n * k'
  double utilization = 0;  // useful / (R * C * steps)
  double buffer_bytes = 0; // on-chip buffer reads and writes (see the .cc)
};

// One product, counted once (the caller multiplies by repeats).
GemmTiming time_gemm(const ArrayConfig& array, const ops::GemmShape& g, const PeStep& pe);

}  // namespace bitlane::estimate
