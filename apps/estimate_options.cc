#include "apps/estimate_options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "apps/cli_common.h"
#include "core/error.h"

namespace bitlane::cli {

void add_estimate_options(cxxopts::Options& opts, const std::string& batch_option) {
  opts.add_options("array")
      ("array", "systolic array ROWSxCOLS", cxxopts::value<std::string>()->default_value("64x128"))
      ("dataflow", "ws (weight-stationary), os (output-), is (input-stationary)",
       cxxopts::value<std::string>()->default_value("ws"))
      ("clock", "array clock, e.g. 200MHz, 1GHz", cxxopts::value<std::string>()->default_value("200MHz"))
      (batch_option, "array: items sharing each fold (costs are reported per item)",
       cxxopts::value<int64_t>()->default_value("1"))
      ("pe", "PE of uniform layers: bit-parallel, bit-serial (b_w x b_x cycles), serial-data (b_x cycles)",
       cxxopts::value<std::string>()->default_value("bit-parallel"))
      ("energy", "per-operation energies in pJ, e.g. buffer_byte=1.25,mac8=0.23 "
                 "(keys: buffer_byte, reg, mac8, fp32_mac, bit_cycle, exp_op)",
       cxxopts::value<std::string>()->default_value(""));
}

double parse_frequency(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  const std::string unit = end ? end : "";
  if (unit == "GHz" || unit == "ghz") v *= 1e9;
  else if (unit == "MHz" || unit == "mhz") v *= 1e6;
  else if (unit == "kHz" || unit == "khz") v *= 1e3;
  else if (!(unit.empty() || unit == "Hz" || unit == "hz")) v = -1;
  if (end == s.c_str() || !(v > 0) || v > 1e13)
    throw UsageError("--clock: cannot read '" + s + "' (e.g. 200MHz, 1GHz)");
  return v;
}

estimate::EstimateOptions estimate_options(const cxxopts::ParseResult& args, const std::string& batch_option) {
  estimate::EstimateOptions o;
  const std::string array = args["array"].as<std::string>();
  long long r = 0, c = 0;
  char tail = 0;
  if (std::sscanf(array.c_str(), "%lldx%lld%c", &r, &c, &tail) != 2 || r < 1 || c < 1 || r > 65536 || c > 65536)
    throw UsageError("--array: expected ROWSxCOLS with 1..65536 each, got '" + array + "'");
  o.array.rows = r;
  o.array.cols = c;
  const std::string df = args["dataflow"].as<std::string>();
  if (df == "ws") o.array.dataflow = estimate::Dataflow::kWeightStationary;
  else if (df == "os") o.array.dataflow = estimate::Dataflow::kOutputStationary;
  else if (df == "is") o.array.dataflow = estimate::Dataflow::kInputStationary;
  else throw UsageError("--dataflow must be ws, os or is, got '" + df + "'");
  o.array.clock_hz = parse_frequency(args["clock"].as<std::string>());
  o.batch = args[batch_option].as<int64_t>();
  if (o.batch < 1 || o.batch > (int64_t{1} << 20)) throw UsageError("--" + batch_option + " must be 1..1048576");
  const std::string pe = args["pe"].as<std::string>();
  if (pe == "bit-parallel") o.uniform_pe = estimate::UniformPe::kBitParallel;
  else if (pe == "bit-serial") o.uniform_pe = estimate::UniformPe::kBitSerial;
  else if (pe == "serial-data") o.uniform_pe = estimate::UniformPe::kSerialData;
  else throw UsageError("--pe must be bit-parallel, bit-serial or serial-data, got '" + pe + "'");
  try {
    o.energy = estimate::Energies::parse(args["energy"].as<std::string>());
  } catch (const Error& e) {
    throw UsageError(std::string("--energy: ") + e.what());
  }
  return o;
}

}  // namespace bitlane::cli
