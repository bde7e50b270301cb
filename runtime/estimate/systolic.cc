#include "runtime/estimate/systolic.h"

#include "core/error.h"

namespace bitlane::estimate {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

const char* dataflow_name(Dataflow d) {
  switch (d) {
    case Dataflow::kWeightStationary: return "ws";
    case Dataflow::kOutputStationary: return "os";
    case Dataflow::kInputStationary: return "is";
  }
  return "?";
}

int64_t fill_cycles(const ArrayConfig& a) {
  // The stationary operand is loaded a row per cycle before anything
  // streams; output-stationary has none to load.
  const int64_t preload = a.dataflow == Dataflow::kOutputStationary ? 0 : a.rows;
  return preload + a.rows + a.cols - 2;
}

GemmTiming time_gemm(const ArrayConfig& a, const ops::GemmShape& g, const PeStep& pe) {
  if (a.rows < 1 || a.cols < 1) fail("estimate", "the array needs at least one row and one column");
  if (pe.values < 1 || !(pe.cycles > 0)) fail("estimate", "a PE step must consume values and take time");
  GemmTiming t;
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return t;
  const int64_t k_steps = g.reduction_steps(pe.values);
  int64_t sr = 0, sc = 0, time = 0;
  switch (a.dataflow) {
    case Dataflow::kWeightStationary: sr = k_steps, sc = g.n, time = g.m; break;
    case Dataflow::kOutputStationary: sr = g.m, sc = g.n, time = k_steps; break;
    case Dataflow::kInputStationary: sr = k_steps, sc = g.m, time = g.n; break;
  }
  const int64_t row_folds = ceil_div(sr, a.rows), col_folds = ceil_div(sc, a.cols);
  t.folds = row_folds * col_folds;
  t.fold_cycles = static_cast<double>(fill_cycles(a)) + static_cast<double>(time) * pe.cycles;
  t.cycles = static_cast<double>(t.folds) * t.fold_cycles - 1;
  t.useful = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(k_steps);
  t.busy = t.useful * pe.cycles;
  t.utilization = t.busy / (static_cast<double>(a.rows) * static_cast<double>(a.cols) * t.cycles);
  // Buffer traffic in values: the stationary operand is read once; a
  // streamed operand once per fold of the dimension it is not reused over;
  // partial sums are written once per fold of the reduction (32-bit).
  const double m = static_cast<double>(g.m), n = static_cast<double>(g.n);
  const double k = static_cast<double>(g.k), kf = static_cast<double>(ceil_div(k_steps, a.rows));
  double inputs = 0, weights = 0, outputs = 0;
  switch (a.dataflow) {
    case Dataflow::kWeightStationary:
      weights = k * n, inputs = m * k * static_cast<double>(col_folds), outputs = m * n * kf;
      break;
    case Dataflow::kOutputStationary:
      inputs = m * k * static_cast<double>(col_folds), weights = k * n * static_cast<double>(row_folds),
      outputs = m * n;
      break;
    case Dataflow::kInputStationary:
      inputs = m * k, weights = k * n * static_cast<double>(col_folds), outputs = m * n * kf;
      break;
  }
  t.buffer_bytes = (inputs * pe.activation_bits + weights * pe.weight_bits) / 8 + outputs * 4;
  return t;
}

}  // namespace bitlane::estimate
