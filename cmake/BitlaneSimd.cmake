# Which Highway targets the kernels are compiled for (BITLANE_HWY_TARGETS):
#   all       every target the compiler can build, picked at run time by CPU
#             (dynamic dispatch; the default, what a release should ship)
#   baseline  only the target the compiler flags imply (-march=...), statically:
#             the smallest binary, and no libhwy at link time, so a fully
#             static executable can be linked (Debian ships no libhwy.a)
#   native    the best target of the machine that configures, plus SCALAR:
#             for sanitizer and emulator builds that only need what runs here
#   a list    e.g. "AVX2;SCALAR" or "NEON;SVE": exactly these, dispatched
# Every choice still runs the same code; only the set of compiled copies of the
# kernels changes (compile time of swar/gemm_kernels.cc grows with it).
set(BITLANE_HWY_TARGETS "all" CACHE STRING
    "SIMD targets to compile kernels for: all, baseline, native, or a list such as AVX2;SCALAR")

# Highway 1.0.3 target names (hwy/detect_targets.h).
set(_bitlane_hwy_known SSSE3 SSE4 AVX2 AVX3 AVX3_DL NEON SVE SVE2 SVE_256 SVE2_128 EMU128 SCALAR)

function(_bitlane_native_targets out)
  # Ask Highway on this machine (or under CMAKE_CROSSCOMPILING_EMULATOR).
  set(src ${CMAKE_CURRENT_BINARY_DIR}/detect_simd_target.cc)
  file(WRITE ${src} [=[
#include <cstdio>
#include "hwy/targets.h"
int main() {
  const int64_t t = hwy::SupportedTargets() & HWY_TARGETS;
  std::printf("%s", hwy::TargetName(t & -t));  // lowest bit: best target
}
]=])
  get_target_property(_inc hwy::hwy INTERFACE_INCLUDE_DIRECTORIES)
  try_run(_run _compiled ${CMAKE_CURRENT_BINARY_DIR}/detect_simd ${src}
          CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${_inc}"
          COMPILE_DEFINITIONS -DHWY_WANT_AVX3_DL
          LINK_LIBRARIES hwy::hwy
          CXX_STANDARD 20
          RUN_OUTPUT_VARIABLE best COMPILE_OUTPUT_VARIABLE log)
  if(NOT _compiled OR NOT _run EQUAL 0 OR best STREQUAL "")
    message(FATAL_ERROR "BITLANE_HWY_TARGETS=native: could not ask Highway for this CPU's target\n${log}")
  endif()
  set(${out} ${best} SCALAR PARENT_SCOPE)
endfunction()

# Sets the choice on an INTERFACE target every layer links.
function(bitlane_configure_simd target)
  set(choice "${BITLANE_HWY_TARGETS}")
  if(choice STREQUAL "baseline")
    # One static target; HWY_DYNAMIC_DISPATCH becomes a direct call.
    target_compile_definitions(${target} INTERFACE HWY_COMPILE_ONLY_STATIC=1 BITLANE_HWY_STATIC=1)
    get_target_property(_inc hwy::hwy INTERFACE_INCLUDE_DIRECTORIES)
    target_include_directories(${target} SYSTEM INTERFACE $<BUILD_INTERFACE:${_inc}>)
    message(STATUS "bitlane: SIMD kernels for the compiler's baseline target only")
    return()
  endif()
  target_link_libraries(${target} INTERFACE hwy::hwy)
  target_compile_definitions(${target} INTERFACE BITLANE_HWY_STATIC=0)
  if(choice STREQUAL "all")
    return()
  endif()
  if(choice STREQUAL "native")
    _bitlane_native_targets(choice)
  endif()
  set(disabled)
  foreach(name IN LISTS choice)
    string(TOUPPER "${name}" name)
    if(NOT name IN_LIST _bitlane_hwy_known)
      message(FATAL_ERROR "BITLANE_HWY_TARGETS: unknown target '${name}' (known: ${_bitlane_hwy_known})")
    endif()
  endforeach()
  string(TOUPPER "${choice}" upper)
  # SCALAR and EMU128 are both "the portable fallback": which one Highway
  # builds as the baseline depends on the compiler (clang: EMU128), and
  # disabling the baseline is an error, so asking for one keeps both.
  if("SCALAR" IN_LIST upper OR "EMU128" IN_LIST upper)
    list(APPEND upper SCALAR EMU128)
  endif()
  foreach(name IN LISTS _bitlane_hwy_known)
    if(NOT name IN_LIST upper)
      list(APPEND disabled "HWY_${name}")
    endif()
  endforeach()
  list(JOIN disabled "|" mask)
  target_compile_definitions(${target} INTERFACE "HWY_DISABLED_TARGETS=(${mask})")
  message(STATUS "bitlane: SIMD kernels for ${upper}")
endfunction()

# bitlane_simd_sources(files...): sources Highway compiles once per SIMD
# target (foreach_target). They are never merged into unity builds. In fuzzer
# builds they are left uninstrumented: the fuzz targets exercise the parsers,
# the kernels are checked by the ASan build, and clang 14 needs ~20 minutes
# for the GEMM kernels with ASan and coverage. In the ASan build they keep
# every heap and stack bounds check but not use-after-scope poisoning: it
# doubled the GEMM kernels' compile time (dot_u8s8.cc: 338 -> ~180 s with
# GCC 12, the longest step of CI), and their scoped locals are vector
# temporaries whose addresses never escape.
function(bitlane_simd_sources)
  set_source_files_properties(${ARGN} TARGET_DIRECTORY bitlane_core PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  if(BITLANE_BUILD_FUZZERS)
    set_source_files_properties(${ARGN} TARGET_DIRECTORY bitlane_core PROPERTIES COMPILE_OPTIONS -fno-sanitize=all)
  elseif(BITLANE_SANITIZE)
    set_source_files_properties(${ARGN} TARGET_DIRECTORY bitlane_core PROPERTIES COMPILE_OPTIONS
                                -fno-sanitize-address-use-after-scope)
  endif()
endfunction()
