#!/usr/bin/env bash
# Guest instructions per image of an aarch64 `bitlane run` under qemu-user:
# what Arm kernels cost where no Arm CPU is at hand to time them. Counts,
# not time: they rank methods and builds on the same CPU model, and say
# nothing of the cores' ports or memory.
#   bench/arm_icount.sh BITLANE MODEL PLAN [QEMU_CPU] [TARGET]
# BITLANE: an aarch64 build of the CLI (README "Cross-compile for ARM",
# with -DBITLANE_BUILD_APPS=ON); PLAN: a --quant plan (fp32, 4, w4a8, ...);
# QEMU_CPU: cortex-a53 (NEON, no dot product) or
# max (default: SVE2 at 256 bits, with the dot product); TARGET: a
# BITLANE_TARGET (NEON, SVE, SVE2; default: the best). Prints the
# instructions per image: the difference between classifying 20 and 4
# images of the bundled folder, over 16, so start-up cancels (the
# calibration cache is filled by a first run).
#
# Each translated block's instructions (qemu -d in_asm) times its
# executions (-d exec, blocks unchained so each one is logged).
set -euo pipefail
cd "$(dirname "$0")/.."
exe="$1" model="$2" plan="$3" cpu="${4:-max}" target="${5:-}"
[ "$cpu" = max ] && cpu=max,sve-default-vector-length=32
command -v qemu-aarch64 >/dev/null || { echo "arm_icount.sh: qemu-aarch64 not found (scripts/setup.sh arm64)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mapfile -t images < <(find models/data/images -type f | sort | head -20)
mkdir "$dir/4" "$dir/20"
for i in "${!images[@]}"; do
  cp "${images[$i]}" "$dir/20/$i.${images[$i]##*.}"
  [ "$i" -lt 4 ] && cp "${images[$i]}" "$dir/4/$i.${images[$i]##*.}"
done
count() {  # instructions of one run over folder $1
  env ${target:+BITLANE_TARGET="$target"} qemu-aarch64 -cpu "$cpu" -L / -d in_asm,exec,nochain -D /dev/stdout \
    "$exe" run "$model" "$dir/$1" --quant "$plan" --threads 1 -o /dev/null 2>/dev/null | awk '
    /^IN:/ { inblk = 1; first = ""; n = 0; next }
    inblk && /^0x/ { if (first == "") first = $1; n++; next }
    inblk { if (first != "") { sub(/^0x/, "", first); sub(/:$/, "", first); size[first] = n } inblk = 0 }
    /^Trace/ { split($4, a, "/"); pc = a[2]; sub(/^0+/, "", pc); total += size[pc] }
    END { printf "%d\n", total }'
}
count 4 >/dev/null  # fills the calibration cache
c4=$(count 4)
c20=$(count 20)
echo $(((c20 - c4) / 16))
