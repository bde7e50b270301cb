# `cmake --install`: the library, the C API header as <bitlane/bitlane.h>, a
# CMake package (find_package(bitlane) -> bitlane::bitlane) and bitlane.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS bitlane bitlane_settings EXPORT bitlaneTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES runtime/capi/bitlane.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bitlane)
if(TARGET bitlane_cli)
  install(TARGETS bitlane_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/bitlane)
install(EXPORT bitlaneTargets NAMESPACE bitlane:: DESTINATION ${_cmakedir})
# The config finds what the library links (a static libbitlane carries its
# dependencies' link lines), with the same options it was built with.
set(BITLANE_CONFIG_WITH_TBB ${BITLANE_WITH_TBB})
if(BITLANE_HWY_TARGETS STREQUAL "baseline")
  set(BITLANE_CONFIG_HWY_LINKED OFF)
else()
  set(BITLANE_CONFIG_HWY_LINKED ON)
endif()
configure_package_config_file(cmake/bitlaneConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/bitlaneConfig.cmake INSTALL_DESTINATION ${_cmakedir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/bitlaneConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bitlaneConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/bitlaneConfigVersion.cmake
        DESTINATION ${_cmakedir})

# pkg-config: `pkg-config --static --libs bitlane` for the static library.
set(_private "-lpng16 -lz -ldeflate -ljpeg -lstdc++ -lm -lpthread")
if(BITLANE_WITH_TBB)
  string(PREPEND _private "-ltbb ")
endif()
if(BITLANE_CONFIG_HWY_LINKED)
  string(PREPEND _private "-lhwy ")
endif()
set(BITLANE_PC_LIBS_PRIVATE "${_private}")
configure_file(cmake/bitlane.pc.in ${CMAKE_CURRENT_BINARY_DIR}/bitlane.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bitlane.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
