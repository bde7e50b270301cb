#include "core/aligned_buffer.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bitlane::detail {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// Smaller blocks are left alone: rounding them up to a huge page would more
// than double them.
constexpr size_t kHugeFrom = size_t{1} << 20;

// Under the sanitizers blocks keep their exact size (overruns are caught).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string read_small_file(const char* path) {
  char buf[128];
  FILE* f = std::fopen(path, "r");
  if (!f) return {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  return std::string(buf, n);
}

// Whether the kernel backs advised memory with 2 MiB pages: transparent huge
// pages "always" or "madvise" (not "never"), and a 2 MiB huge page (an arm64
// kernel with 64 KiB pages has 512 MiB ones: no rounding up to those).
bool huge_pages_on() {
  static const bool on = [] {
    const std::string enabled = read_small_file("/sys/kernel/mm/transparent_hugepage/enabled");
    if (enabled.find("[always]") == std::string::npos && enabled.find("[madvise]") == std::string::npos)
      return false;
    return std::strtoull(read_small_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size").c_str(), nullptr,
                         10) == kHugePage;
  }();
  return on;
}

}  // namespace

// Large blocks still come from malloc, not from mappings of their own: freed,
// they return to malloc's heap for the next allocations to reuse, as before
// (a block unmapped on free left the following ones to fault in fresh pages).
void* allocate_zeroed(size_t bytes) {
  void* p = nullptr;
#ifdef MADV_HUGEPAGE
  if (!kSanitized && bytes >= kHugeFrom && bytes <= SIZE_MAX - kHugePage && huge_pages_on()) {
    const size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    p = std::aligned_alloc(kHugePage, len);
    if (p) madvise(p, len, MADV_HUGEPAGE);  // advice only: refused, the block keeps small pages
  }
#endif
  if (!p) p = std::aligned_alloc(64, bytes);
  if (p) std::memset(p, 0, bytes);
  return p;
}

}  // namespace bitlane::detail
