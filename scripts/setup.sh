#!/usr/bin/env bash
# Installs the Debian packages bitlane needs -- only the missing ones, so it is
# safe to run again. As root it runs apt-get; otherwise it prints the command.
#
# Usage: scripts/setup.sh [group...]
#   build  compilers and libraries for the library, CLI and tests (default)
#   test   build + what the test suite uses beyond it
#   fuzz   clang-14 and its libFuzzer / sanitizer runtimes (fuzz/)
#   arm64  the aarch64 cross compiler, qemu-user, and the arm64 -dev packages
#          (adds the arm64 architecture to dpkg, multiarch)
#   bench  peers measured by bench/: oneDNN, OpenBLAS
#   train  PyTorch and Fashion-MNIST, to retrain the bundled models
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)

# python3-onnx: the bundled models are imported from ONNX at build time.
# liburing-dev: bitlane run reads image files in batches (apps/file_batch.h);
# optional -- without it the CLI reads them one system call at a time.
build_pkgs=(g++ cmake ninja-build pkg-config libhwy-dev libtbb-dev libcxxopts-dev doctest-dev
            nlohmann-json3-dev libpng-dev zlib1g-dev libdeflate-dev libjpeg-dev liburing-dev python3 python3-numpy python3-onnx)
test_pkgs=()
fuzz_pkgs=(clang-14 libclang-rt-14-dev)
arm64_pkgs=(g++-aarch64-linux-gnu qemu-user libhwy-dev:arm64 libtbb-dev:arm64 libpng-dev:arm64 zlib1g-dev:arm64 libdeflate-dev:arm64
            libjpeg-dev:arm64 libc6:arm64)
bench_pkgs=(libdnnl-dev libopenblas-dev)
train_pkgs=(python3-torch python3-onnx python3-numpy python3-pil dataset-fashion-mnist)

wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build) wanted+=("${build_pkgs[@]}") ;;
    test) wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    fuzz) wanted+=("${fuzz_pkgs[@]}") ;;
    arm64) wanted+=("${arm64_pkgs[@]}") ;;
    bench) wanted+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    train) wanted+=("${train_pkgs[@]}") ;;
    *) echo "setup.sh: unknown group '$g' (build, test, fuzz, arm64, bench, train)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    case " ${missing[*]} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all packages for '${groups[*]}' are installed"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
# arm64 packages install beside the native ones once dpkg knows the architecture.
need_arch=0
case " ${missing[*]} " in *":arm64 "*)
  dpkg --print-foreign-architectures | grep -qx arm64 || need_arch=1 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages: ${missing[*]}" >&2
  [ $need_arch -eq 1 ] && echo "Run as root:  dpkg --add-architecture arm64" >&2
  echo "Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
if [ $need_arch -eq 1 ]; then
  echo "setup.sh: adding the arm64 architecture (multiarch)"
  dpkg --add-architecture arm64
  apt-get update
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when the install cannot find a package.
if ! $cmd; then
  apt-get update
  $cmd
fi
