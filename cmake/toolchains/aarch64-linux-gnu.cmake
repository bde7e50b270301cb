# Cross-compiling for 64-bit ARM with Debian's g++-aarch64-linux-gnu and the
# arm64 -dev packages installed multiarch (scripts/setup.sh arm64):
#   cmake -S . -B build/aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
# Tests and try_run go through qemu-user (Debian's qemu-user); the CPU it
# emulates is BITLANE_QEMU_CPU: cortex-a53 (NEON, no dot product), max (SVE2), ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Multiarch: arm64 libraries live in /usr/lib/aarch64-linux-gnu, headers in /usr/include.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

set(BITLANE_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates for tests (cortex-a53, max, ...)")
find_program(BITLANE_QEMU qemu-aarch64)
if(BITLANE_QEMU)
  # -L /: the multiarch arm64 loader and libc (libc6:arm64, which the arm64
  # -dev packages pull in). The cross toolchain's own copy under
  # /usr/aarch64-linux-gnu (libc6-arm64-cross 2.36-8cross1) hangs any program
  # that starts a thread under qemu-user 7.2.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BITLANE_QEMU} -cpu ${BITLANE_QEMU_CPU} -L /)
endif()
