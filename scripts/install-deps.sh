#!/usr/bin/env bash
# Installs the Debian 12 packages xgrad needs; does nothing when they are all present.
set -euo pipefail
packages=(g++ meson ninja-build pkg-config xtensor-dev libxsimd-dev libtbb-dev libopenblas-dev
          libboost-test-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libeigen3-dev
          libdnnl-dev  # oneDNN: conv2d and pooling
          gnuplot-nox dataset-fashion-mnist
          libopenmpi-dev openmpi-bin  # xgrad::dist and its multi-rank tests
          clang libclang-rt-14-dev libomp-dev)  # libFuzzer, its sanitizer runtimes and clang's OpenMP, for the fuzz runs
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
