#!/usr/bin/env bash
# README command 2 (and CI, via .ci/run): install what is missing, build, and
# pass every test. Each job builds only what it needs, in its own tree:
#
#   release   Release build, whole suite; then the end-to-end bit-exactness
#             tests again with Highway forced to AVX2 and to the portable
#             fallback (the kernel tests already loop over every target)
#   install   cmake --install into build/prefix, then examples/embed_model
#             built against the installed package (CMake and pkg-config)
#   static    no TBB (built-in pool), baseline SIMD target, -static; suite
#   sanitize  whole suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan      the threaded tests (scheduler, CLI pipeline, C API handles in
#             parallel threads) under ThreadSanitizer, on the built-in pool
#   fuzz      libFuzzer targets (clang, ASan + UBSan), FUZZ_SECONDS each (30)
#   arm64     aarch64 cross build; suite under qemu-user -cpu cortex-a53
#             (NEON), kernel and bit-exactness tests under -cpu max (SVE2)
#
# Usage: scripts/test.sh [--quick] [job...]   (default: every job;
#        --quick: release only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs_wanted=("$@")
if [ "${1:-}" = "--quick" ]; then jobs_wanted=(release); fi
[ ${#jobs_wanted[@]} -eq 0 ] && jobs_wanted=(release install static sanitize tsan fuzz arm64)

groups=(test)
for j in "${jobs_wanted[@]}"; do
  case "$j" in
    fuzz) groups+=(fuzz) ;;
    arm64) groups+=(arm64) ;;
    release|install|static|sanitize|tsan) ;;
    *) echo "test.sh: unknown job '$j' (release install static sanitize tsan fuzz arm64)" >&2; exit 2 ;;
  esac
done
scripts/setup.sh "${groups[@]}"

cores=$(nproc)
ctest_run() { ctest --no-tests=error --output-on-failure -j "$cores" "$@"; }
timed() {  # timed NAME command...: runs a job and records its wall time
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  "$@"
  summary+=("$(printf '%-9s %4d s' "$name" $((SECONDS - t0)))")
}
summary=()
# Sanitizer builds: -O1 keeps them fast enough to test; kernels only for this
# CPU's best target and the fallback (every target is the release job's task).
san_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
           "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DBITLANE_HWY_TARGETS=native
           -DBITLANE_BUILD_BENCH=OFF -DBITLANE_BUILD_EXAMPLES=OFF)

job_release() {
  scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DBITLANE_BUILD_TESTS=ON \
    -DBITLANE_BUILD_BENCH=OFF -DBITLANE_BUILD_EXAMPLES=ON
  ctest_run --test-dir build/release
  local fallback
  fallback=$(build/release/bitlane selfcheck --targets 2>/dev/null | tr ' ' '\n' | grep -E '^(SCALAR|EMU128)$' | head -1)
  for t in AVX2 "$fallback"; do
    if build/release/bitlane selfcheck --targets | grep -qw "$t"; then
      echo "-- end-to-end tests with BITLANE_TARGET=$t"
      BITLANE_TARGET=$t ctest_run --test-dir build/release -R "bit-exact|PyTorch|identical|C API"
    fi
  done
}

job_install() {
  [ -f build/release/CMakeCache.txt ] || job_release
  rm -rf build/prefix build/example-cmake build/example-pkgconfig
  cmake --install build/release --prefix build/prefix >/dev/null
  local model=build/release/models/lenet calib=models/data/fashion-calibration.safetensors
  local image=models/data/images/bag/1014.png
  # The consumer's way: find_package(bitlane) from the prefix, nothing else.
  cmake -S examples/embed_model -B build/example-cmake -DCMAKE_PREFIX_PATH="$PWD/build/prefix" \
    -DBITLANE_EXAMPLE_MODEL="$PWD/$model" -DBITLANE_EXAMPLE_CALIBRATION="$PWD/$calib" >/dev/null
  cmake --build build/example-cmake -j "$cores" >/dev/null
  local out
  out=$(build/example-cmake/bitlane_embed "$image")
  echo "$out"
  grep -q '1014.png,Bag,' <<<"$out"
  # And pkg-config, the way a Makefile would.
  PKG_CONFIG_PATH="$PWD/build/prefix/lib/pkgconfig" make -s -C examples/embed_model -f Makefile.pkgconfig \
    OUT="$PWD/build/example-pkgconfig" MODEL="$PWD/$model" CALIBRATION="$PWD/$calib"
  build/example-pkgconfig/bitlane_embed "$image" | grep -q '1014.png,Bag,'
  echo "installed package: CMake and pkg-config consumers classify $image as Bag"
}

job_static() {
  scripts/build.sh build/static -DCMAKE_BUILD_TYPE=Release -DBITLANE_WITH_TBB=OFF \
    -DBITLANE_HWY_TARGETS=baseline -DBITLANE_FULLY_STATIC=ON -DBITLANE_BUILD_BENCH=OFF \
    -DBITLANE_BUILD_EXAMPLES=OFF
  if ldd build/static/bitlane >/dev/null 2>&1; then
    echo "test.sh: build/static/bitlane is not statically linked" >&2
    return 1
  fi
  ctest_run --test-dir build/static
}

job_sanitize() {
  scripts/build.sh build/sanitize "${san_flags[@]}" -DBITLANE_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest_run --test-dir build/sanitize
}

job_tsan() {
  # The threaded code is the scheduler, the CLI's pipeline and the C API; the
  # SIMD target does not matter to races, so the baseline one keeps it small.
  # The built-in pool, not oneTBB: Debian's libtbb is not instrumented, and
  # TSan then reports TBB's own task hand-offs (blocked_range splits) as
  # races; the pool is bitlane's code and TSan sees all of it.
  scripts/build.sh build/tsan "${san_flags[@]}" -DBITLANE_HWY_TARGETS=baseline -DBITLANE_WITH_TBB=OFF \
    -DBITLANE_SANITIZE_THREAD=ON \
    --target core_tests capi_tests cli_tests bitlane_cli
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest_run --test-dir build/tsan -R "executor|ordered_for|C API|run: |eval: folder|hostile corpus: each"
}

job_fuzz() {
  # One SIMD target: the kernels are not what these targets fuzz.
  CC=clang-14 CXX=clang++-14 scripts/build.sh build/fuzz "${san_flags[@]}" -DBITLANE_HWY_TARGETS=baseline \
    -DBITLANE_SANITIZE=ON \
    -DBITLANE_BUILD_FUZZERS=ON -DBITLANE_BUILD_TESTS=OFF -DBITLANE_BUILD_APPS=OFF -DBITLANE_BUILD_MODELS=OFF
  fuzz/run.sh build/fuzz "${FUZZ_SECONDS:-30}"
}

job_arm64() {
  # Only the library, the models and the tests: no CLI, benchmarks or examples.
  scripts/build.sh build/aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake \
    -DCMAKE_BUILD_TYPE=Release "-DBITLANE_HWY_TARGETS=NEON;SVE;SVE2;SCALAR" -DBITLANE_BUILD_APPS=OFF \
    -DBITLANE_BUILD_BENCH=OFF -DBITLANE_BUILD_EXAMPLES=OFF
  # Emulation is 10-50x slower: quick mode for the statistical checks, and
  # the float-accuracy tests (no ARM-specific code) stay with the x86 jobs.
  echo "-- qemu-aarch64 -cpu cortex-a53 (NEON)"
  BITLANE_QEMU_CPU=cortex-a53 BITLANE_TEST_QUICK=1 ctest_run --test-dir build/aarch64 -E "accuracy"
  echo "-- qemu-aarch64 -cpu max (SVE2, 256-bit vectors)"
  BITLANE_QEMU_CPU=max BITLANE_TEST_QUICK=1 ctest_run --test-dir build/aarch64 \
    -R "gemm|lane|pack|term|format|exponential|sdp|bit-exact|fuzz replay|executor|cpu features|inograd|epilogue|quantized conv2d"
}

for j in "${jobs_wanted[@]}"; do
  timed "$j" "job_$j"
done
echo "== all tests passed"
printf '%s\n' "${summary[@]}"
