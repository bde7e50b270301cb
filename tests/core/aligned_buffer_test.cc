// core/aligned_buffer.h: every size, on either side of the 1 MiB from which
// blocks are laid out for huge pages, is 64-byte aligned, all zeros (also
// when reusing memory just written and freed), writable to its end, and
// copies, moves and resizes as a value. Where this kernel offers 2 MiB
// transparent huge pages (read here from sysfs, independently of the
// allocator), the large blocks start on a huge page.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"

using bitlane::AlignedBuffer;

namespace {

constexpr size_t kMiB = size_t{1} << 20;

bool all_zero(const AlignedBuffer<uint32_t>& b) {
  return std::all_of(b.data(), b.data() + b.size(), [](uint32_t v) { return v == 0; });
}

bool aligned(const void* p, size_t to) { return reinterpret_cast<uintptr_t>(p) % to == 0; }

bool huge_pages_offered() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;  // under the sanitizers every block keeps its exact size
#else
  std::string enabled, size;
  std::getline(std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"), enabled);
  std::getline(std::ifstream("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"), size);
  return (enabled.find("[always]") != std::string::npos || enabled.find("[madvise]") != std::string::npos) &&
         size == std::to_string(2 * kMiB);
#endif
}

}  // namespace

TEST_CASE("AlignedBuffer: zeroed, aligned and writable on both sides of the huge-page block size") {
  const bool huge = huge_pages_offered();
  for (size_t bytes : {size_t{4}, size_t{64}, kMiB - 64, kMiB - 4, kMiB, kMiB + 4, 2 * kMiB, 3 * kMiB + 20}) {
    CAPTURE(bytes);
    const size_t n = bytes / sizeof(uint32_t);
    AlignedBuffer<uint32_t> b(n);
    REQUIRE(b.size() == n);
    CHECK(aligned(b.data(), 64));
    CHECK(all_zero(b));
    // Rounded to whole 64-byte lines, blocks of >= 1 MiB start on a huge page.
    if (huge && (bytes + 63) / 64 * 64 >= kMiB) CHECK(aligned(b.data(), 2 * kMiB));
    // Written to the end, freed and allocated again, a few times: malloc
    // hands back memory just written (a large block once its first,
    // separately mapped, copy is gone), and it must read as zeros again.
    for (int round = 0; round < 3; ++round) {
      for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint32_t>(i * 2654435761u + 1);
      CHECK(b[n - 1] == static_cast<uint32_t>((n - 1) * 2654435761u + 1));
      b.resize(n);
      CHECK(all_zero(b));
    }
  }
}

TEST_CASE("AlignedBuffer: copies, moves, resizes and grows as a value") {
  for (size_t n : {size_t{100}, kMiB / 2}) {  // 400 bytes, and a 2 MiB block
    CAPTURE(n);
    AlignedBuffer<uint32_t> a(n);
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint32_t>(i + 1);
    const AlignedBuffer<uint32_t> copy(a);
    REQUIRE(copy.size() == n);
    CHECK(copy.data() != a.data());
    CHECK(std::equal(copy.data(), copy.data() + n, a.data()));
    const uint32_t* where = a.data();
    AlignedBuffer<uint32_t> moved(std::move(a));
    CHECK(moved.data() == where);
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    CHECK(a.data() == nullptr);
    AlignedBuffer<uint32_t> assigned;
    assigned = std::move(moved);
    CHECK(assigned.data() == where);
    CHECK(assigned[n - 1] == n);
    assigned.reserve_scratch(n / 2);  // never shrinks
    CHECK(assigned.data() == where);
    CHECK(assigned.size() == n);
    assigned.reserve_scratch(n + 1);
    CHECK(assigned.size() == n + 1);
    CHECK(all_zero(assigned));
    assigned.resize(0);
    CHECK(assigned.empty());
    CHECK(assigned.data() == nullptr);
  }
}

TEST_CASE("AlignedBuffer: a size that cannot exist throws bad_alloc") {
  AlignedBuffer<uint64_t> b(8);
  CHECK_THROWS_AS(b.resize(SIZE_MAX / 4), std::bad_alloc);  // n * 8 overflows: refused before allocating
  CHECK(b.empty());
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Fits size_t, not memory: malloc says no (the sanitizers' allocators
  // abort on such a request instead of returning null).
  CHECK_THROWS_AS(b.resize(SIZE_MAX / 16), std::bad_alloc);
#endif
}
