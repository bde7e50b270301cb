#include "apps/width_note.h"

#include <cstdio>
#include <string>

namespace bitlane::cli {

namespace {

// Beyond this, a narrower plan counts as slower than 8 bits.
constexpr double kNoise = 1.05;

std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

}  // namespace

std::string width_notes(const std::vector<WidthRun>& runs, const Retime& retime) {
  std::string out;
  for (size_t i = 0; i < runs.size(); ++i) {
    const WidthRun& r = runs[i];
    if (r.bits < 1 || r.bits >= 8) continue;
    for (size_t j = 0; j < runs.size(); ++j) {
      const WidthRun& b = runs[j];
      if (b.plan != "8" || b.threads != r.threads || b.batch != r.batch || b.micro != r.micro) continue;
      if (r.min_ms <= b.min_ms * kNoise) continue;
      const auto [narrow_ms, eight_ms] = retime(i, j);
      if (narrow_ms <= eight_ms * kNoise) continue;
      // Strings appended, not formatted into a buffer: a --quant plan can be long.
      out += "\nnote: plan " + r.plan + " is not faster than 8 bits at " + std::to_string(r.threads) +
             " thread(s), batch " + std::to_string(r.batch) + " (fastest of runs taken in turns: " + ms(narrow_ms) +
             " vs " + ms(eight_ms) + " ms): ";
      if (r.scheme != b.scheme)
        out += "its scheme (" + r.scheme + ") adds run-time work to the layers that 8 bits (" + b.scheme +
               ") does not have (bitlane bench --profile: which layers pay it)\n";
      else if (r.kernels == b.kernels)
        out += "both run on " + r.kernels +
               ", whose cost per multiply-accumulate does not depend on the width it is given (one instruction "
               "multiplies 4 byte pairs per lane whatever their width: bench/bitlane_ceilings); fewer bits save "
               "weight memory and array cycles (bitlane estimate) here, not CPU time\n";
      else
        out += "it runs on " + r.kernels + ", 8 bits on " + b.kernels +
               " (the method table's estimate chose them; bench/bitlane_kernels --methods all measures each)\n";
    }
  }
  return out;
}

}  // namespace bitlane::cli
