// The analytic model of a systolic array running one matrix product: the
// first-order model of SCALE-Sim v2 (Samajdar et al., ISPASS 2020) for
// weight-, output- and input-stationary dataflows, extended to processing
// elements that need several cycles per step (bit-serial, term, SDP).
// runtime/estimate/README.md derives every formula and lists where bitlane
// departs from the simulator on purpose.
//
// A product [m x k] x [k x n] becomes three dimensions: two spread over the
// R x C array (S_R over rows, S_C over columns) and one streamed in time (T):
//
//   dataflow            S_R   S_C   T    stationary       fold cycles (1 cycle/step)
//   weight-stationary   k'    n     m    a weight (group)  2R + C + T - 2
//   output-stationary   m     n     k'   an accumulator      R + C + T - 2
//   input-stationary    k'    m     n    an input (group)  2R + C + T - 2
//
// k' = reduction steps (a term PE consumes a group of g values per step;
// groups stay inside GemmShape::segment). folds = ceil(S_R/R) * ceil(S_C/C).
// WS and IS first preload the stationary operand (R cycles, a row per cycle),
// then stream T operands in skewed (R + C - 2 cycles of fill and drain);
// OS preloads nothing -- both operands stream in from two edges.
// A PE that needs `cycles` cycles per step stretches the streaming part
// only: operands are forwarded bit by bit as they arrive (MSB first), so a
// hop still costs one cycle:
//   fold cycles = fill + T * cycles_per_step,  fill = 2R + C - 2 (WS, IS), R + C - 2 (OS)
//   product cycles = folds * fold cycles - 1     (SCALE-Sim counts the last
//                                                 cycle index, not the count)
// Utilization = busy PE cycles (m * n * k' * cycles_per_step) / (R * C * cycles).
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
  double fold_cycles = 0;  // fill + T * cycles per step
  double cycles = 0;       // folds * fold_cycles - 1
  double useful = 0;       // PE steps doing work: m * n * k'
  double busy = 0;         // PE cycles doing work: useful * cycles per step
  double utilization = 0;  // busy / (R * C * cycles)
  double buffer_bytes = 0; // on-chip buffer reads and writes (see the .cc)
};

// Cycles of one fold's fill and drain (the part a slow PE does not stretch).
int64_t fill_cycles(const ArrayConfig& array);

// One product, counted once (the caller multiplies by repeats).
GemmTiming time_gemm(const ArrayConfig& array, const ops::GemmShape& g, const PeStep& pe);

}  // namespace bitlane::estimate
