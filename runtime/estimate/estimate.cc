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
      fail("--energy", "unknown '" + item + "' (keys: buffer_byte, reg, mac8, fp32_mac, bit_cycle, exp_op)");
    char* end = nullptr;
    const double v = std::strtod(item.c_str() + eq + 1, &end);
    if (*end != 0 || !(v >= 0) || v > 1e9) fail("--energy", "'" + item + "' needs a non-negative number of pJ");
    *target = v;
  }
  return e;
}

PeStep pe_for(const quant::LayerPlan& p, double weight_bits, const EstimateOptions& o, double drq_share) {
  const Energies& e = o.energy;
  PeStep s;
  s.weight_bits = weight_bits;
  s.activation_bits = p.activation_bits;
  const double bw = p.weight_bits, bx = p.activation_bits;
  switch (p.scheme) {
    case quant::Scheme::kFp32:
      s.kind = "fp32 MAC";
      s.energy_pj = e.fp32_mac;
      s.weight_bits = s.activation_bits = 32;
      return s;
    case quant::Scheme::kTerm: {
      // A weight group of g values in k x s term-pair cycles, every group
      // alike (with activation groups: k x ka / ga pairs on average).
      const double sx = p.activation_group > 1 ? static_cast<double>(p.activation_budget) / p.activation_group
                                               : p.activation_terms;
      s.kind = "term";
      s.values = p.group;
      s.cycles = std::max(1.0, p.budget * sx);
      s.energy_pj = e.bit_cycle * s.cycles;
      return s;
    }
    case quant::Scheme::kExponential:
      s.kind = "exponent";
      s.energy_pj = e.exp_op;
      return s;
    case quant::Scheme::kSdp:
      // K kept parts of a group of G, one 4-bit part x b_w-bit weight per cycle.
      s.kind = "SDP part";
      s.values = p.sdp_group;
      s.cycles = std::max(1, p.sdp_keep);
      s.energy_pj = e.mac8 * 4 * bw / 64 * s.cycles;
      return s;
    case quant::Scheme::kDrq: {
      // Bit-serial data: 8 cycles in sensitive regions, 4 elsewhere.
      s.kind = "DRQ serial data";
      s.cycles = 8 * drq_share + 4 * (1 - drq_share);
      s.energy_pj = e.bit_cycle * bw * s.cycles;
      return s;
    }
    case quant::Scheme::kUniform: break;
  }
  switch (o.uniform_pe) {
    case UniformPe::kBitParallel:
      s.kind = "bit-parallel";
      s.energy_pj = e.mac8 * bw * bx / 64;
      break;
    case UniformPe::kBitSerial:
      s.kind = "bit-serial";
      s.cycles = bw * bx;
      s.energy_pj = e.bit_cycle * s.cycles;
      break;
    case UniformPe::kSerialData:
      s.kind = "serial data";
      s.cycles = bx;
      s.energy_pj = e.bit_cycle * bw * s.cycles;
      break;
  }
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
