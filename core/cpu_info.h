// What the CPU offers, for `bitlane` banners, benchmarks and bug reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bitlane {

struct CpuInfo {
  std::string model;                  // brand string, or "unknown"
  std::string arch;                   // "x86_64", "aarch64", ...
  std::vector<std::string> features;  // the ones that matter to bitlane's kernels
};

const CpuInfo& cpu_info();

// Cache sizes of the core this runs on (sysconf), bounded to plausible
// sizes, or a typical size where the system does not say (qemu-user, other
// libcs). The GEMM method choice reads L1, micro-batching L2.
size_t l1_data_cache_bytes();  // 16 KiB .. 1 MiB, else 32 KiB
int64_t l2_cache_bytes();      // 128 KiB .. 8 MiB, else 1 MiB

}  // namespace bitlane
