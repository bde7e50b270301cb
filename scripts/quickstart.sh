#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DBITLANE_BUILD_TESTS=OFF -DBITLANE_BUILD_BENCH=OFF
build/release/bitlane selfcheck
