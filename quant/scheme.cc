// The scheme registry and what schemes share.
#include "quant/scheme.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace bitlane::quant {

// One accessor per scheme, defined in quant/schemes/<scheme>.cc. A new
// scheme is its file, its options type in SchemeOptions, and a line here.
const Scheme& fp32_scheme();
const Scheme& uniform_scheme();
const Scheme& term_scheme();
const Scheme& exponential_scheme();
const Scheme& sdp_scheme();
const Scheme& drq_scheme();

std::span<const Scheme* const> all_schemes() {
  static const Scheme* const kSchemes[] = {&fp32_scheme(), &uniform_scheme(), &term_scheme(),
                                           &exponential_scheme(), &sdp_scheme(), &drq_scheme()};
  static_assert(std::size(kSchemes) == std::variant_size_v<SchemeOptions>);
  return kSchemes;
}

const Scheme& scheme_for(const SchemeOptions& options) { return *all_schemes()[options.index()]; }

const Scheme* find_scheme(std::string_view name) {
  for (const Scheme* s : all_schemes())
    if (name == s->name()) return s;
  return nullptr;
}

const Scheme& LayerPlan::scheme() const { return scheme_for(options); }
bool LayerPlan::integer() const { return scheme().execution() == Execution::kInteger; }
std::string LayerPlan::to_string() const {
  const Scheme& s = scheme();
  return std::string(s.name()) + s.describe(*this);
}

// ----------------------------------------------------------- default hooks

void Scheme::finish(LayerPlan&, const std::string&) const {}

std::string Scheme::describe(const LayerPlan& p) const {
  return " w" + std::to_string(p.weight_bits) + "a" + std::to_string(p.activation_bits);
}

QuantizedWeights Scheme::quantize_weights(const float* w, int64_t rows, int64_t cols, int64_t,
                                          const LayerPlan& p) const {
  return quant::quantize_weights(w, rows, cols, p);
}

Affine Scheme::activation_affine(float lo, float hi, const LayerPlan& p) const {
  return sign_magnitude_affine(lo, hi, p.activation_bits);
}

swar::IntFormat Scheme::activation_storage(const Affine& a, const LayerPlan&) const { return a.format; }

std::shared_ptr<const ActivationTransform> Scheme::transform(const LayerPlan&, const Affine&) const {
  return nullptr;
}

TermEncoding Scheme::cost_encoding(const LayerPlan&) const { return TermEncoding::kBinary; }

double Scheme::weight_bits_per_param(const LayerPlan& p) const { return p.weight_bits; }

// ------------------------------------------------------------ shared pieces

Affine sign_magnitude_affine(float lo, float hi, int b) {
  const float m = std::max(-std::min(lo, 0.f), std::max(hi, 0.f));
  const int32_t limit = static_cast<int32_t>((int64_t{1} << b) - 1);
  Affine a;
  a.scale = m > 0 ? m / static_cast<float>(limit) : 1.f;
  // Magnitudes up to 2^b - 1, with a sign when the range has negatives.
  a.format = lo < 0 ? swar::IntFormat{b + 1, true} : swar::IntFormat{b, false};
  a.qmin = lo < 0 ? -limit : 0;
  a.qmax = limit;
  return a;
}

PeWork uniform_pe_work(const LayerPlan& p, UniformPe pe) {
  PeWork s;
  s.weight_bits = p.weight_bits;
  s.activation_bits = p.activation_bits;
  const double bw = p.weight_bits, bx = p.activation_bits;
  switch (pe) {
    case UniformPe::kBitParallel:
      s.kind = "bit-parallel";
      s.mac8 = bw * bx / 64;
      break;
    case UniformPe::kBitSerial:
      s.kind = "bit-serial";
      s.cycles = bw * bx;
      s.bit_cycles = s.cycles;
      break;
    case UniformPe::kSerialData:
      s.kind = "serial data";
      s.cycles = bx;
      s.bit_cycles = bw * s.cycles;
      break;
  }
  return s;
}

}  // namespace bitlane::quant
