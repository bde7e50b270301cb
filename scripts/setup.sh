#!/usr/bin/env bash
# Installs the Debian packages bitlane needs -- only the missing ones, so it is
# safe to run again. As root it runs apt-get; otherwise it prints the command.
#
# Usage: scripts/setup.sh [group...]     groups: build (default), test, bench, train
#   build  compilers and libraries for the library, CLI and tests
#   test   build + what the test suite uses beyond it
#   bench  peers measured by bench/: oneDNN, OpenBLAS
#   train  PyTorch and Fashion-MNIST, to retrain the bundled models
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)

# python3-onnx: the bundled models are imported from ONNX at build time.
build_pkgs=(g++ cmake ninja-build pkg-config libhwy-dev libtbb-dev libcxxopts-dev doctest-dev
            nlohmann-json3-dev libpng-dev libjpeg-dev python3 python3-numpy python3-onnx)
test_pkgs=()
bench_pkgs=(libdnnl-dev libopenblas-dev)
train_pkgs=(python3-torch python3-onnx python3-numpy python3-pil dataset-fashion-mnist)

wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build) wanted+=("${build_pkgs[@]}") ;;
    test) wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) wanted+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    train) wanted+=("${train_pkgs[@]}") ;;
    *) echo "setup.sh: unknown group '$g' (build, test, bench, train)" >&2; exit 2 ;;
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
if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages: ${missing[*]}" >&2
  echo "Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when the install cannot find a package.
if ! $cmd; then
  apt-get update
  $cmd
fi
