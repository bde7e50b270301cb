#include "core/cpu_info.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) || defined(__arm__)
#include <sys/auxv.h>
#endif

namespace bitlane {
namespace {

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// First "key : value" line of /proc/cpuinfo whose key is one of `keys`.
std::string proc_cpuinfo_field(std::initializer_list<const char*> keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon));
    for (const char* k : keys)
      if (key == k) return trim(line.substr(colon + 1));
  }
  return {};
}

CpuInfo detect() {
  CpuInfo info;
#if defined(__x86_64__) || defined(__i386__)
  info.arch = "x86_64";
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const X86Signature sig = decode_x86_signature(a);
    info.signature = "family " + std::to_string(sig.family) + " model " + std::to_string(sig.model) + " stepping " +
                     std::to_string(sig.stepping);
  }
  // unsigned in GCC's cpuid.h, int in clang's.
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i + 0, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    info.model = trim(brand);
  }
  auto add = [&](bool has, const char* name) {
    if (has) info.features.emplace_back(name);
  };
  __get_cpuid(1, &a, &b, &c, &d);
  add(c & (1u << 23), "popcnt");
  add(c & (1u << 28), "avx");
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    add(b & (1u << 5), "avx2");
    add(b & (1u << 8), "bmi2");
    add(b & (1u << 16), "avx512f");
    add(b & (1u << 30), "avx512bw");
    add(c & (1u << 11), "avx512vnni");
    add(c & (1u << 12), "avx512bitalg");
    add(c & (1u << 14), "avx512vpopcntdq");
    add(d & (1u << 25), "amx-int8");
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    add(a1 & (1u << 4), "avx-vnni");
  }
#elif defined(__aarch64__)
  info.arch = "aarch64";
  unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  auto add = [&](bool has, const char* name) {
    if (has) info.features.emplace_back(name);
  };
  add(hw & (1ul << 1), "asimd");
  add(hw & (1ul << 20), "asimddp");
  add(hw & (1ul << 22), "sve");
  add(hw2 & (1ul << 1), "sve2");
  add(hw2 & (1ul << 14), "i8mm");
  const std::string implementer = proc_cpuinfo_field({"CPU implementer"}), part = proc_cpuinfo_field({"CPU part"});
  if (!implementer.empty() && !part.empty()) info.signature = "implementer " + implementer + " part " + part;
#else
  info.arch = "unknown";
#endif
  if (info.model.empty())
    info.model = proc_cpuinfo_field({"model name", "Model", "Hardware", "CPU part"});
  if (info.model.empty()) info.model = "unknown";
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

X86Signature decode_x86_signature(uint32_t eax) {
  X86Signature s;
  s.stepping = eax & 0xF;
  s.family = (eax >> 8) & 0xF;
  if (s.family == 0xF) s.family += (eax >> 20) & 0xFF;
  s.model = (eax >> 4) & 0xF;
  if (s.family >= 6) s.model += ((eax >> 16) & 0xF) << 4;
  return s;
}

std::string cpu_description() {
  const CpuInfo& cpu = cpu_info();
  std::string d = cpu.model + " (";
  if (!cpu.signature.empty()) d += cpu.signature + "; ";
  d += "L1d " + std::to_string(l1_data_cache_bytes() >> 10) + " KiB, L2 " + std::to_string(l2_cache_bytes() >> 10) +
       " KiB)";
  return d;
}

namespace {
// sysconf(name) clamped to [lo, hi], or `unknown` when it says nothing.
int64_t cache_bytes(int name, int64_t lo, int64_t hi, int64_t unknown) {
  const long v = name >= 0 ? sysconf(name) : -1;
  return v > 0 ? std::clamp<int64_t>(v, lo, hi) : unknown;
}
}  // namespace

size_t l1_data_cache_bytes() {
#ifdef _SC_LEVEL1_DCACHE_SIZE
  static const auto bytes = static_cast<size_t>(cache_bytes(_SC_LEVEL1_DCACHE_SIZE, 16 << 10, 1 << 20, 32 << 10));
#else
  static const auto bytes = static_cast<size_t>(cache_bytes(-1, 0, 0, 32 << 10));
#endif
  return bytes;
}

int64_t l2_cache_bytes() {
#ifdef _SC_LEVEL2_CACHE_SIZE
  static const int64_t bytes = cache_bytes(_SC_LEVEL2_CACHE_SIZE, 128 << 10, 8 << 20, 1 << 20);
#else
  static const int64_t bytes = cache_bytes(-1, 0, 0, 1 << 20);
#endif
  return bytes;
}

}  // namespace bitlane
