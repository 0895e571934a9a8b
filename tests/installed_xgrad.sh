#!/usr/bin/env bash
# installed_xgrad.sh CHECK BUILD_DIR SOURCE_DIR: installs BUILD_DIR into a temporary folder
# (`meson install --destdir`) and uses it as a project outside the tree would, through pkg-config only:
#   project        examples/outside/, with its own meson.build, is configured, built and run
#   one-line       the g++ command of examples/outside/README.md is run as written, and its program
#   without-xsimd  a program compiled without -DXTENSOR_USE_XSIMD must not compile, and the error
#                  must name `pkg-config --cflags xgrad`
#   other-arch     the same for a program compiled for another instruction set than the library
set -euo pipefail
check=$1 build=$2 source=$3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$root" > /dev/null
pc=$(find "$root" -name xgrad.pc)
sed -i "s|^prefix=|prefix=$root|" "$pc"  # the copy lives under the temporary folder
export PKG_CONFIG_PATH=$(dirname "$pc")
export LD_LIBRARY_PATH=$(pkg-config --variable=libdir xgrad)

must_not_compile() {  # must_not_compile EXTRA_FLAGS...: expects the ABI check's message, not another error
  local out
  echo '#include <xgrad/xgrad.hpp>' > "$root/program.cpp"
  if out=$(g++ -fsyntax-only "$root/program.cpp" "$@" 2>&1); then
    echo "compiled with $*: the ABI check did not fire"; return 1
  fi
  grep -m1 'error' <<< "$out"
  grep -q 'pkg-config --cflags xgrad' <<< "$out" || { echo "$out" | head -20; return 1; }
}

case $check in
  project)
    meson setup "$root/outside-build" "$source/examples/outside" > "$root/setup.log" || { cat "$root/setup.log"; exit 1; }
    meson compile -C "$root/outside-build"
    "$root/outside-build/fit_line" ;;
  one-line)
    command=$(grep -m1 '^g++ ' "$source/examples/outside/README.md")
    echo "$command"
    cp "$source/examples/outside/main.cpp" "$root"
    cd "$root"
    bash -c "$command"
    ./fit_line ;;
  without-xsimd)  # pkg-config's flags are split on purpose below
    # shellcheck disable=SC2046
    must_not_compile $(pkg-config --cflags xgrad | sed 's/-DXTENSOR_USE_XSIMD//') ;;
  other-arch)
    arch=$(sed -n 's/^#define XGRAD_XSIMD_ARCH "\(.*\)"/\1/p' "$(pkg-config --variable=includedir xgrad)/xgrad/config.hpp")
    other=-march=x86-64  # SSE2 only
    [[ $arch == sse2 ]] && other=-mavx2
    # shellcheck disable=SC2046
    must_not_compile $(pkg-config --cflags xgrad) "$other" ;;
  *) echo "unknown check $check"; exit 2 ;;
esac
