#!/usr/bin/env bash
# Configures and builds one build tree.
# Usage: scripts/build.sh DIR [cmake args...] [--target T...]
#   cmake args configure the tree; --target limits the build to those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"; shift
config=() build=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--target" ]; then
    shift
    build=(--target "$@")
    break
  fi
  config+=("$1"); shift
done
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${gen[@]}" "${config[@]}"
else
  cmake -S . -B "$dir" "${config[@]}" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" "${build[@]}"
