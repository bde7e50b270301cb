#!/bin/sh
# The emulator ctest runs aarch64 test binaries with. The CPU comes from the
# environment, so one build is tested on several CPUs without reconfiguring:
#   BITLANE_QEMU_CPU=cortex-a53 ctest ...   NEON, no dot product
#   BITLANE_QEMU_CPU=max ctest ...          SVE2 (the default here, with 256-bit
#                                           vectors as on Graviton3; qemu's own
#                                           default of 512 bits is twice as slow)
# -L /: the multiarch arm64 loader and libc (libc6:arm64, which the arm64 -dev
# packages pull in). The cross toolchain's copy under /usr/aarch64-linux-gnu
# (libc6-arm64-cross 2.36-8cross1) hangs every threaded program under
# qemu-user 7.2.
cpu=${BITLANE_QEMU_CPU:-max}
[ "$cpu" = max ] && cpu=max,sve-default-vector-length=32
exec qemu-aarch64 -cpu "$cpu" -L / "$@"
