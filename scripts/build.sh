# Sourced by run.sh and test.sh: installs what is missing, picks OpenBLAS's kernels, configures
# build/ on first use and compiles.
scripts/install-deps.sh
source scripts/blas-env.sh
[[ -f build/build.ninja ]] || meson setup build
meson compile -C build
