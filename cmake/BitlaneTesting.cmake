# bitlane_add_test(name sources...): a doctest executable whose test cases are
# registered with CTest one by one (doctest's CMake helper), so ctest -R and
# per-case timings work.
include(/usr/lib/cmake/doctest/doctest.cmake OPTIONAL RESULT_VARIABLE _doctest_helper)
if(NOT _doctest_helper)
  find_file(_doctest_cmake doctest.cmake PATHS ${doctest_DIR} NO_DEFAULT_PATH)
  include(${_doctest_cmake})
endif()

# doctest's main (and most of its implementation) is compiled once for all
# suites: it is the heaviest translation unit of each of them.
if(NOT TARGET bitlane_test_main)
  add_library(bitlane_test_main OBJECT ${CMAKE_CURRENT_LIST_DIR}/../tests/test_main.cc)
  target_link_libraries(bitlane_test_main PRIVATE doctest::doctest)
endif()

# bitlane_add_test(name [LAYER layer] sources...): with LAYER, the suite links
# that layer and the ones below it only (a call up the stack fails to link);
# without, the whole library.
function(bitlane_add_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "LAYER" "")
  add_executable(${name} ${arg_UNPARSED_ARGUMENTS})
  # One translation unit per suite: doctest and nlohmann/json compile once.
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  if(arg_LAYER)
    bitlane_link_layers(${name} ${arg_LAYER})
  else()
    target_link_libraries(${name} PRIVATE bitlane)
  endif()
  target_link_libraries(${name} PRIVATE doctest::doctest bitlane_test_main)
  target_compile_definitions(${name} PRIVATE
    BITLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    BITLANE_MODELS_DIR="${PROJECT_BINARY_DIR}/models")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  bitlane_warnings(${name})
  # The CLI's calibration cache (apps/calibration_input.h) off: tests leave
  # the user's ~/.cache alone, and each run calibrates afresh, so what a test
  # measures never depends on what ran before it. The cache's own tests name
  # their folders.
  doctest_discover_tests(${name} PROPERTIES ENVIRONMENT "BITLANE_CACHE_DIR=off")
endfunction()
