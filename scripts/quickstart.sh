#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job --
# classify the bundled image folder with the bundled LeNet, at 4 bits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DBITLANE_BUILD_TESTS=OFF -DBITLANE_BUILD_BENCH=OFF
echo "== bitlane run build/release/models/lenet models/data/images --bits 4 -o classified.csv"
build/release/bitlane run build/release/models/lenet models/data/images --bits 4 --top-k 3 -o classified.csv
echo "== first lines of classified.csv"
head -n 6 classified.csv
