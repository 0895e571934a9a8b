#!/usr/bin/env bash
# The main job: installs what is missing, builds, and trains the Fashion-MNIST example (MLP
# 784-512-256-10 with batch norm, Adam, 15 epochs; --model cnn for the convolutional recipe).
# Extra arguments go to the example (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build.sh
build/examples/fashion_mnist "$@"
