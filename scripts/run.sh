#!/usr/bin/env bash
# The main job: installs what is missing, builds, and trains the Fashion-MNIST example (MLP
# 784-512-256-10 with batch norm, Adam, 15 epochs; --model cnn for the convolutional recipe).
# Extra arguments go to the example (--help).
#
# The example refuses to start a fresh run in a folder that holds an earlier one. So that running
# the main job again just works and loses nothing, an earlier run in the default folder is moved
# aside first (unless the arguments say what to do with it: --resume, --evaluate, --overwrite, --out).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build.sh

out=out/fashion_mnist
for arg in "$@"; do
  case $arg in
    --resume | --evaluate | --overwrite | --out | --out=* | --help | -h) out= ;;
    cnn | --model=cnn) [[ -n $out ]] && out=out/fashion_mnist_cnn ;;
  esac
done
if [[ -n $out && ( -e $out/checkpoint.safetensors || -e $out/metrics.csv ) ]]; then
  kept="$out.$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$kept"
  echo "run.sh: the earlier run in $out is kept in $kept"
fi
build/examples/fashion_mnist "$@"
