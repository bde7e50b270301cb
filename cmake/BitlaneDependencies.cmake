# All dependencies come from Debian packages (scripts/setup.sh installs them).
find_package(hwy REQUIRED)          # libhwy-dev
find_package(Threads REQUIRED)

if(BITLANE_WITH_TBB)
  find_package(TBB REQUIRED)        # libtbb-dev
endif()
if(BITLANE_BUILD_APPS OR BITLANE_BUILD_BENCH)
  find_package(cxxopts REQUIRED)    # libcxxopts-dev
endif()
if(BITLANE_BUILD_TESTS)
  find_package(doctest REQUIRED)    # doctest-dev
endif()
find_package(nlohmann_json 3 REQUIRED)  # nlohmann-json3-dev

# Peers for the benchmarks, optional: bench/ compiles them in when found.
if(BITLANE_BUILD_BENCH)
  # libdnnl-dev. Its CMake package insists on OpenCL (Debian builds the GPU
  # runtime too), so find the CPU library directly.
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY dnnl)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
    set(dnnl_FOUND TRUE)
    add_library(bitlane_dnnl INTERFACE IMPORTED)
    target_include_directories(bitlane_dnnl INTERFACE ${DNNL_INCLUDE_DIR})
    target_link_libraries(bitlane_dnnl INTERFACE ${DNNL_LIBRARY})
    # The C++ API pulls in OpenCL interop headers only when asked to.
    target_compile_definitions(bitlane_dnnl INTERFACE DNNL_GPU_RUNTIME=DNNL_RUNTIME_NONE)
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(OPENBLAS QUIET IMPORTED_TARGET openblas)  # libopenblas-dev
  endif()
endif()
