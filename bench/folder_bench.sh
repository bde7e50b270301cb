#!/usr/bin/env bash
# Folder throughput of `bitlane run` (read, decode, resize, infer, write CSV)
# on the bundled LeNet, fp32 against 4 bits, measured in the same run.
#   bench/folder_bench.sh [BITLANE] [COPIES]
# The bundled 300-image folder is copied COPIES times (default 20: 6000
# images) into a temporary folder so each run lasts long enough to time;
# each configuration runs 3 times and the best images/s is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
exe="${1:-build/release/bitlane}"
copies="${2:-20}"
model=build/release/models/lenet
[ -x "$exe" ] || { echo "folder_bench.sh: $exe not found (build first)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$copies"); do cp -r models/data/images "$dir/copy$i"; done
n=$(find "$dir" -type f | wc -l)
best() {  # best images/s of 3 runs: best "label" args...
  local r=0 v
  for _ in 1 2 3; do
    v=$("$exe" run "$model" "$dir" "$@" -o "$dir.csv" 2>&1 >/dev/null | sed -n 's/.* failed, \([0-9.]*\) images\/s.*/\1/p')
    r=$(awk -v a="$r" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
  done
  echo "$r"
}
echo "| threads | fp32 images/s | 4-bit images/s | 4-bit / fp32 |"
echo "|---:|---:|---:|---:|"
for t in 1 2; do
  f=$(best --threads "$t" --quant fp32)
  q=$(best --threads "$t" --bits 4)
  awk -v t="$t" -v f="$f" -v q="$q" 'BEGIN { printf "| %d | %.0f | %.0f | %.2f |\n", t, f, q, q / f }'
done
rm -f "$dir.csv"
echo "($n images: bundled folder x $copies, lenet, $(uname -m))"
