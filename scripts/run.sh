#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/blas-env.sh
[[ -f build/build.ninja ]] || meson setup build
meson compile -C build
build/examples/quadratic "$@"
