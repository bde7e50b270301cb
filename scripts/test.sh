#!/usr/bin/env bash
# README command 2 (and CI, via .ci/run): install what is missing, build, and
# pass every test -- the release build, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [--quick]   (--quick: release build only)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh test
jobs=$(nproc)

echo "== release build and tests"
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DBITLANE_BUILD_BENCH=OFF
ctest --test-dir build/release --output-on-failure -j "$jobs"

[ $quick -eq 1 ] && exit 0

echo "== sanitizer build (address, undefined) and tests"
scripts/build.sh build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITLANE_SANITIZE=ON \
  -DBITLANE_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize --output-on-failure -j "$jobs"
echo "== all tests passed"
