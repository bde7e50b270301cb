#include "swar/targets.h"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "core/error.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "swar/cpu_features.h"

namespace bitlane::swar {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// All compiled targets this CPU supports. Read once, before anything
// restricts the choice: every restriction goes through force_target, which
// asks here first. A baseline-only build (BITLANE_HWY_TARGETS=baseline) has
// exactly one target and no run-time dispatch.
int64_t cpu_targets() {
#if BITLANE_HWY_STATIC
  return HWY_STATIC_TARGET;
#else
  static const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  return targets;
#endif
}

// The target bit currently forced (0: automatic choice).
int64_t g_forced = 0;
// Read by every GEMM call that may take AVX-VNNI; set by tests and BITLANE_AVX_VNNI.
std::atomic<bool> g_avx_vnni_allowed{true};

void dispatch_to(int64_t bit) {
  g_forced = bit;
#if !BITLANE_HWY_STATIC
  hwy::SetSupportedTargetsForTest(bit);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
#endif
}

}  // namespace

std::vector<SimdTarget> available_targets() {
  std::vector<SimdTarget> out;
  // Lower bits are better targets in Highway's numbering.
  for (int64_t targets = cpu_targets(); targets != 0; targets &= targets - 1) {
    const int64_t bit = targets & ~(targets - 1);
    out.push_back({bit, hwy::TargetName(bit)});
  }
  return out;
}

std::string highway_version() {
  return std::to_string(HWY_MAJOR) + "." + std::to_string(HWY_MINOR) + "." + std::to_string(HWY_PATCH);
}

std::string current_target() {
  apply_target_from_environment();
  return detail::kernel_target_name();
}

std::string dispatched_target() { return detail::kernel_target_name(); }

void force_target(std::string_view name) {
  if (name.empty()) {
    dispatch_to(0);
    return;
  }
  std::string names;
  for (const SimdTarget& t : available_targets()) {
    if (iequals(t.name, name)) {
      dispatch_to(t.bit);
      return;
    }
    names += (names.empty() ? "" : ", ") + t.name;
  }
  fail("SIMD target", "'" + std::string(name) + "' is not available on this CPU/build (available: " +
                          names + ")");
}

bool allow_avx_vnni(bool allowed) { return g_avx_vnni_allowed.exchange(allowed); }
bool avx_vnni_allowed() { return g_avx_vnni_allowed.load(std::memory_order_relaxed); }

std::string target_label(std::string_view name) {
  apply_target_from_environment();  // BITLANE_AVX_VNNI
  return name == "AVX2" && avx_vnni_usable() ? "AVX2+VNNI" : std::string(name);
}

void apply_target_from_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("BITLANE_TARGET");
    if (env && *env) force_target(env);
    const char* vnni = std::getenv("BITLANE_AVX_VNNI");
    if (vnni && std::string_view(vnni) == "0") allow_avx_vnni(false);
  });
}

ScopedTarget::ScopedTarget(std::string_view name) : previous_((apply_target_from_environment(), g_forced)) {
  force_target(name);
}

ScopedTarget::~ScopedTarget() { dispatch_to(previous_); }

}  // namespace bitlane::swar
