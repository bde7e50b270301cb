// The GEMM methods, one row each (swar/gemm_internal.h, MethodSpec); the rows
// live beside their kernels in swar/kernels/. A new method is its file plus
// one line here. The automatic choice takes, among the methods whose CPU
// features are present and which handle the widths, the one with the highest
// estimated speed (macs_per_us, from bench/bitlane_kernels --methods all);
// ties go to the earlier row.
#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "swar/gemm_internal.h"

namespace bitlane::swar {
namespace detail {

extern const MethodSpec kBitSerialMethod;  // kernels/bitplane_popcount.cc
extern const MethodSpec kInt8Method;       // kernels/dot_u8s8.cc
extern const MethodSpec kInt7Method;       // kernels/dot_u8s8.cc
extern const MethodSpec kAmxMethod;        // kernels/dot_u8s8.cc + amx_tiles.h
extern const MethodSpec kInt4Method;       // kernels/dot_u8s8.cc (nibble weights)
extern const MethodSpec kInt4ColMethod;    // kernels/nibble_columns.cc
extern const MethodSpec kInt16Method;      // kernels/dot_s16.cc
extern const MethodSpec kWideMulMethod;    // kernels/widemul_u64.cc

namespace {
const MethodSpec* const kMethods[] = {&kBitSerialMethod, &kInt8Method, &kInt7Method, &kAmxMethod,
                                      &kInt4Method, &kInt4ColMethod, &kInt16Method, &kWideMulMethod};
}  // namespace

std::span<const MethodSpec* const> method_table() { return kMethods; }

const MethodSpec& runnable(const MethodSpec& m, FeatureSet have) {
  const MethodSpec* s = &m;
  while ((s->needs & have) != s->needs && s->fallback) s = s->fallback;
  return *s;
}

}  // namespace detail

const char* method_name(GemmMethod m) { return m.spec() ? m.spec()->name : "auto"; }

const std::vector<GemmMethod>& all_methods() {
  static const std::vector<GemmMethod> all = [] {
    std::vector<GemmMethod> v;
    for (const detail::MethodSpec* s : detail::method_table()) v.emplace_back(s);
    return v;
  }();
  return all;
}

GemmMethod parse_method(std::string_view name) {
  if (name == "auto") return GemmMethod();
  std::string names = "auto";
  for (GemmMethod m : all_methods()) {
    if (name == m.spec()->name) return m;
    names += std::string(", ") + m.spec()->name;
  }
  fail("GEMM method", "unknown method '" + std::string(name) + "' (expected " + names + ")");
}

bool method_runs_here(GemmMethod m) {
  if (!m.spec()) return true;
  const FeatureSet have = kernel_features();
  return (m.spec()->needs & have) == m.spec()->needs;
}

bool method_supports(GemmMethod m, IntFormat a, IntFormat w) {
  return !m.spec() || m.spec()->supports(a, w);
}

double estimated_macs_per_us(GemmMethod m, IntFormat a, IntFormat w, GemmShape shape) {
  const detail::MethodSpec& s = m.spec() ? *m.spec() : *choose_method(a, w, shape).spec();
  const FeatureSet have = kernel_features();
  return detail::runnable(s, have).macs_per_us(a, w, have, shape);
}

bool method_reads_gathered(GemmMethod m) {
  return m.spec() && detail::runnable(*m.spec(), kernel_features()).reads_gathered;
}

GemmMethod choose_method_in_place(IntFormat a, IntFormat w, GemmShape shape) {
  shape.rows = GemmShape::Rows::kMany;  // a convolution's pixels
  const FeatureSet have = kernel_features();
  const double n = static_cast<double>(shape.n_or_reference());
  const bool bytes = !a.is_signed && a.bits <= 8;  // what a gather holds
  const detail::MethodSpec* best = nullptr;
  double best_rate = 0;
  for (const detail::MethodSpec* s : detail::method_table()) {
    if ((s->needs & have) != s->needs || !s->supports(a, w)) continue;
    double rate = s->macs_per_us(a, w, have, shape);
    // Methods that read the bytes in place may run faster for the caller
    // (its Winograd); those that neither read them there nor pack them
    // from there get them copied into rows first.
    if (bytes && s->reads_gathered) rate *= shape.in_place_speedup;
    else if (!(bytes && s->pack_gathered)) rate = 1.0 / (1.0 / rate + kRowCopyUs / n);
    if (!best || rate > best_rate) best = s, best_rate = rate;
  }
  if (!best) fail("GEMM method", "no method handles " + a.to_string() + " x " + w.to_string());
  return GemmMethod(best);
}

GemmMethod choose_method(IntFormat a, IntFormat w, GemmShape shape) {
  const FeatureSet have = kernel_features();
  const detail::MethodSpec* best = nullptr;
  double best_rate = 0;
  for (const detail::MethodSpec* s : detail::method_table()) {
    if ((s->needs & have) != s->needs || !s->supports(a, w)) continue;
    const double rate = s->macs_per_us(a, w, have, shape);
    if (!best || rate > best_rate) best = s, best_rate = rate;
  }
  if (!best) fail("GEMM method", "no method handles " + a.to_string() + " x " + w.to_string());
  return GemmMethod(best);
}

}  // namespace bitlane::swar
