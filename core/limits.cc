#include "core/limits.h"

#include <string>

#include "core/error.h"

namespace bitlane {

Limits& limits() {
  static Limits l;
  return l;
}

uint64_t checked_mul(uint64_t n, uint64_t m, uint64_t cap, const char* what) {
  if (n != 0 && m > cap / n)
    fail(what, std::to_string(n) + " x " + std::to_string(m) + " exceeds the limit of " +
                   std::to_string(cap));
  return n * m;
}

}  // namespace bitlane
