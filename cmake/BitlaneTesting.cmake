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

function(bitlane_add_test name)
  add_executable(${name} ${ARGN})
  # One translation unit per suite: doctest and nlohmann/json compile once.
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  target_link_libraries(${name} PRIVATE bitlane doctest::doctest bitlane_test_main)
  target_compile_definitions(${name} PRIVATE
    BITLANE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    BITLANE_MODELS_DIR="${PROJECT_BINARY_DIR}/models")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  bitlane_warnings(${name})
  doctest_discover_tests(${name})
endfunction()
