#include "runtime/estimate/estimate.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace bitlane::estimate {

Energies Energies::parse(const std::string& spec) {
  Energies e;
  const std::pair<const char*, double*> fields[] = {{"buffer_byte", &e.buffer_byte}, {"reg", &e.reg},
                                                    {"mac8", &e.mac8},               {"fp32_mac", &e.fp32_mac},
                                                    {"bit_cycle", &e.bit_cycle},     {"exp_op", &e.exp_op}};
  size_t start = 0;
  while (start < spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    double* target = nullptr;
    for (const auto& [name, field] : fields)
      if (eq != std::string::npos && item.compare(0, eq, name) == 0 && eq == std::strlen(name)) target = field;
    if (!target)
      fail("energies '" + spec + "'", "unknown '" + item + "' (keys: buffer_byte, reg, mac8, fp32_mac, bit_cycle, exp_op)");
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + eq + 1, &end);
    if (*end != 0 || !(v >= 0) || v > 1e9)
      fail("energies '" + spec + "'", "'" + item + "' needs a non-negative number of pJ");
    *target = v;
  }
  return e;
}

PeStep pe_for(const quant::LayerPlan& p, double weight_bits, const EstimateOptions& o, double drq_share) {
  const quant::PeWork w = p.scheme().pe_work(p, o.uniform_pe, drq_share);
  const Energies& e = o.energy;
  PeStep s;
  s.kind = w.kind;
  s.values = w.values;
  s.cycles = w.cycles;
  s.energy_pj = w.mac8 * e.mac8 + w.fp32_macs * e.fp32_mac + w.bit_cycles * e.bit_cycle + w.exp_ops * e.exp_op;
  // Storage bits: what the layer measured (exponential: its searched width).
  s.weight_bits = p.quantized() ? weight_bits : w.weight_bits;
  s.activation_bits = w.activation_bits;
  return s;
}

ModelEstimate estimate(const Model& model, const std::vector<std::unique_ptr<ops::Op>>& ops, const ModelCost& cost,
                       const EstimateOptions& o) {
  if (!(o.array.clock_hz > 0)) fail("estimate", "the clock must be positive");
  if (o.batch < 1 || o.batch > (int64_t{1} << 20)) fail("estimate", "batch must be 1..2^20");
  const double per_item = 1.0 / static_cast<double>(o.batch);
  ModelEstimate total;
  double busy = 0, capacity = 0;
  for (const LayerCost& c : cost.layers) {
    const Node& n = model.nodes()[static_cast<size_t>(c.node)];
    std::vector<Shape> in;
    for (int t : n.inputs) in.push_back(model.tensor_shape(t));
    const std::vector<ops::GemmShape> gemms = ops[static_cast<size_t>(c.node)]->gemms(in);
    if (gemms.empty()) continue;
    const PeStep pe = pe_for(c.plan, c.weight_bits, o, c.drq_sensitive >= 0 ? c.drq_sensitive : 0.5);
    LayerEstimate l;
    l.name = c.name;
    l.op = c.op;
    l.pe = pe.kind;
    l.term_pairs = c.pairs;
    double bytes = 0;
    for (ops::GemmShape g : gemms) {
      g.m *= o.batch;
      const GemmTiming t = time_gemm(o.array, g, pe);
      const double r = static_cast<double>(g.repeats) * per_item;
      l.cycles += t.cycles * r;
      l.busy += t.busy * r;
      l.useful += t.useful * r;
      l.folds += t.folds * g.repeats;  // per batch
      bytes += t.buffer_bytes * r;
    }
    const double capacity_cycles = l.cycles * static_cast<double>(o.array.rows * o.array.cols);
    l.utilization = capacity_cycles > 0 ? l.busy / capacity_cycles : 0;
    l.energy_pj = bytes * o.energy.buffer_byte + l.useful * (o.energy.reg + pe.energy_pj);
    total.cycles += l.cycles;
    total.energy_pj += l.energy_pj;
    total.term_pairs += l.term_pairs;
    busy += l.busy;
    capacity += capacity_cycles;
    total.layers.push_back(std::move(l));
  }
  total.seconds = total.cycles / o.array.clock_hz;
  total.utilization = capacity > 0 ? busy / capacity : 0;
  return total;
}

ModelEstimate estimate(const Model& model, const quant::QuantPlan& plan, const EstimateOptions& options) {
  std::vector<std::unique_ptr<ops::Op>> ops;
  for (const Node& n : model.nodes()) ops.push_back(model.build_op(n));
  return estimate(model, ops, model_cost(model, plan), options);
}

}  // namespace bitlane::estimate
