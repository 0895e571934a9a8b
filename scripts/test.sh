#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test suite. Extra arguments go to
# `meson test` (e.g. --suite gradcheck).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build.sh
meson test -C build --print-errorlogs "$@"
