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
  // Which core it is where the brand string does not say (VMs report "AMD
  // EPYC" for Zen 3, 4 and 5 alike): "family 25 model 17 stepping 1" from
  // CPUID on x86, "implementer 0x41 part 0xd0c" from /proc/cpuinfo on ARM,
  // or empty.
  std::string signature;
  std::vector<std::string> features;  // the ones that matter to bitlane's kernels
};

const CpuInfo& cpu_info();

// Family, model and stepping from the EAX of CPUID leaf 1, decoded as Linux
// decodes them for /proc/cpuinfo (the extended family adds to family 15,
// the extended model extends families 6 and up).
struct X86Signature {
  unsigned family = 0, model = 0, stepping = 0;
};
X86Signature decode_x86_signature(uint32_t eax);

// The CPU for the banner of a benchmark table: brand, signature and caches,
// e.g. "AMD EPYC (family 25 model 17 stepping 1; L1d 32 KiB, L2 1024 KiB)".
std::string cpu_description();

// Cache sizes of the core this runs on (sysconf), bounded to plausible
// sizes, or a typical size where the system does not say (qemu-user, other
// libcs). The GEMM method choice reads L1, micro-batching L2.
size_t l1_data_cache_bytes();  // 16 KiB .. 1 MiB, else 32 KiB
int64_t l2_cache_bytes();      // 128 KiB .. 8 MiB, else 1 MiB

}  // namespace bitlane
