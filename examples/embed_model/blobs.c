/* The model files as read-only byte arrays, pulled in by the assembler's
 * .incbin (GCC and clang, ELF targets): no conversion step, no copy at run
 * time. Paths come from the build (BLOB_* definitions). */
#include "blobs.h"

#define BLOB(name, path)                                   \
  __asm__(".section .rodata\n"                             \
          ".balign 16\n"                                   \
          ".global " #name "\n" #name ":\n"                \
          ".incbin \"" path "\"\n"                         \
          ".global " #name "_end\n" #name "_end:\n"        \
          ".byte 0\n" /* a terminator, not counted */      \
          ".previous\n")

BLOB(blob_json, BLOB_JSON);
BLOB(blob_weights, BLOB_WEIGHTS);
BLOB(blob_calibration, BLOB_CALIBRATION);
