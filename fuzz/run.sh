#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed time, as many at once as there
# are cores, and reports the executions reached. Any crash, leak, sanitizer
# report, timeout or out-of-memory fails the run and is left in
# BUILD/fuzz-findings/<target>/; copy it into tests/data/fuzz/<target>/ with
# the fix, so fuzz_replay_tests keeps it fixed.
#
# Usage: fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET] [TARGET...]
#   BUILD_DIR  a tree configured with clang and -DBITLANE_BUILD_FUZZERS=ON
#              -DBITLANE_SANITIZE=ON (default build/fuzz; scripts/test.sh
#              builds it); SECONDS defaults to 60 (CI passes
#              30); run longer by hand.
# Corpora grow in BUILD_DIR/fuzz-corpus/, seeded from fuzz/seeds/ (written by
# fuzz/make_seeds.py) and tests/data/fuzz/; a later run continues from them.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/fuzz}"
seconds="${2:-60}"
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors model image plan capi)

declare -A dict=([model]=json [capi]=json [safetensors]=json [image]=image [plan]=plan)
# Larger inputs only slow mutation down: the seeds are all below these.
declare -A max_len=([model]=16384 [capi]=16384 [safetensors]=4096 [image]=8192 [plan]=512)

# One target: its row of the report in $build/fuzz-row-<target>.md, exit
# status non-zero on a finding.
fuzz_one() {
  local t=$1 exe="$build/fuzz/fuzz_$t" corpus="$build/fuzz-corpus/$t" findings="$build/fuzz-findings/$t"
  local log="$build/fuzz-$t.log" rc=0 execs rate files result=ok
  mkdir -p "$corpus" "$findings"
  for seeds in "fuzz/seeds/$t" "tests/data/fuzz/$t"; do
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  done
  echo "== fuzz_$t for ${seconds}s"
  # -rss_limit_mb: a hostile header must be refused by the limits, never by
  # running out of memory; -timeout: no input may take a second.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    "$exe" "$corpus" -dict="fuzz/dict/${dict[$t]}.dict" -max_total_time="$seconds" \
    -max_len="${max_len[$t]}" -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc, see $log)"
    grep -E "ERROR|SUMMARY|finding|Test unit written" "$log" | head -5 >&2 || true
  fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$files" "$result" \
    > "$build/fuzz-row-$t.md"
  return $rc
}

for t in "${targets[@]}"; do
  [ -x "$build/fuzz/fuzz_$t" ] || { echo "fuzz/run.sh: $build/fuzz/fuzz_$t is missing (build with -DBITLANE_BUILD_FUZZERS=ON)" >&2; exit 2; }
done
# Each fuzzer runs on one core: as many at once as there are cores, so CI's
# job takes its time per target once per core, not once per target.
status=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
{
  printf '| target | seconds | executions | exec/s | corpus | result |\n|---|---:|---:|---:|---:|---|\n'
  for t in "${targets[@]}"; do cat "$build/fuzz-row-$t.md"; done
} > "$build/fuzz-report.md"
cat "$build/fuzz-report.md"
exit $status
