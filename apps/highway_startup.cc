// Highway 1.0 (Debian 12's libhwy 1.0.3) measures the resolution of its
// benchmark timer in a static initializer of libhwy.so: 65,536 pairs of
// timer reads, about 5 ms in every process that loads the library (an empty
// program linked with -lhwy: 4.0 -> 9.2 ms here), so 15-20% of classifying
// one image with `bitlane run`. The value serves only Highway's
// nanobenchmark, which bitlane never calls, and libhwy reaches the function
// through its PLT: this definition in the executable stands in for it, and
// the loader calls it instead. Newer Highway versions are left alone.
#include "hwy/highway.h"

#if HWY_MAJOR == 1 && HWY_MINOR == 0
#include "hwy/nanobenchmark.h"  // the declaration this must match

namespace hwy::platform {
uint64_t TimerResolution() { return 1; }  // one tick; nothing in this program reads it
}  // namespace hwy::platform
#endif
