// Included once per Highway target (foreach_target; hence no include
// guard), after hwy/highway.h and before HWY_BEFORE_NAMESPACE, by every
// kernel file that compiles for AVX3_DL. Highway 1.0.3 enables AVX-VNNI but
// not AVX512-VNNI for that target, although its CPU check requires both; this
// adds it, for VPDPBUSD on zmm registers. The functions get a superset of
// Highway's features, so its ops still inline (GCC and clang alike).
#if HWY_TARGET == HWY_AVX3_DL
#undef HWY_TARGET_STR
#define HWY_TARGET_STR HWY_TARGET_STR_AVX3                                            \
  ",vpclmulqdq,avx512vbmi,avx512vbmi2,vaes,avxvnni,avx512bitalg,avx512vpopcntdq," \
  "avx512vnni"
#endif
