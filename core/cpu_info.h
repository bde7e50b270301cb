// What the CPU offers, for `bitlane` banners, benchmarks and bug reports.
#pragma once

#include <string>
#include <vector>

namespace bitlane {

struct CpuInfo {
  std::string model;                  // brand string, or "unknown"
  std::string arch;                   // "x86_64", "aarch64", ...
  std::vector<std::string> features;  // the ones that matter to bitlane's kernels
};

const CpuInfo& cpu_info();

}  // namespace bitlane
