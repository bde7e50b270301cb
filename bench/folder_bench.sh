#!/usr/bin/env bash
# Folder throughput of `bitlane run` (read, decode, resize, infer, write CSV)
# on the bundled LeNet and MLP, fp32 against 4 bits and 1 against 2 threads,
# measured in the same run.
#   bench/folder_bench.sh [BITLANE] [COPIES] [MODELS]
# The bundled 300-image folder is copied COPIES times (default 20: 6000
# images) into a temporary folder so each run lasts long enough to time;
# each configuration runs 3 times and the best images/s is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
exe="${1:-build/release/bitlane}"
copies="${2:-20}"
models="${3:-lenet mlp}"
[ -x "$exe" ] || { echo "folder_bench.sh: $exe not found (build first)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$copies"); do cp -r models/data/images "$dir/copy$i"; done
n=$(find "$dir" -type f | wc -l)
best() {  # best images/s of 3 runs: best model args...
  local r=0 v model="build/release/models/$1"
  shift
  for _ in 1 2 3; do
    v=$("$exe" run "$model" "$dir" "$@" -o "$dir.csv" 2>&1 >/dev/null | sed -n 's/.* failed, \([0-9.]*\) images\/s.*/\1/p')
    r=$(awk -v a="$r" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
  done
  echo "$r"
}
echo "| model | threads | fp32 images/s | 4-bit images/s | 4-bit / fp32 | 2 threads / 1 (4-bit) |"
echo "|---|---:|---:|---:|---:|---:|"
for m in $models; do
  q1=
  for t in 1 2; do
    f=$(best "$m" --threads "$t" --quant fp32)
    q=$(best "$m" --threads "$t" --bits 4)
    [ -z "$q1" ] && q1=$q
    awk -v m="$m" -v t="$t" -v f="$f" -v q="$q" -v q1="$q1" \
      'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2f | %s |\n", m, t, f, q, q / f, t == 1 ? "-" : sprintf("%.2f", q / q1) }'
  done
done
rm -f "$dir.csv"
echo "($n images: bundled folder x $copies, $(uname -m))"
