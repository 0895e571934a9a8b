#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test suite. Extra arguments go to
# `meson test` (e.g. --suite gradcheck).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/blas-env.sh
[[ -f build/build.ninja ]] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs "$@"
