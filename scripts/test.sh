#!/usr/bin/env bash
# Installs what is missing, then builds and runs every check (docs/reliability.md):
#   build/           the test suites (GCC)
#   build-sanitize/  the same suites under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/      bounded libFuzzer runs of the IDX and safetensors readers (clang)
# Extra arguments go to `meson test` in build/ and build-sanitize/ (e.g. --suite gradcheck) and
# then skip the fuzz runs. --no-sanitize and --no-fuzz skip those parts. Every part runs even when
# an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
source scripts/blas-env.sh

sanitize=1 fuzz=1 meson_args=()
for arg in "$@"; do
  case $arg in
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    *) meson_args+=("$arg") fuzz=0 ;;
  esac
done

failed=0
part() {  # part NAME COMMAND...: runs one part, timing it, and remembers a failure
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  "$@" || { failed=1; echo "=== $name FAILED"; }
  echo "=== $name took $((SECONDS - start)) s"
}

tests_in() {  # tests_in DIR SETUP_OPTIONS...: configures DIR once, builds it, runs its suites
  local dir=$1
  shift
  { [[ -f $dir/build.ninja ]] || meson setup "$dir" "$@"; } && meson compile -C "$dir" &&
    meson test -C "$dir" --print-errorlogs "${meson_args[@]}"
}

fuzz_smoke() {  # only the fuzz targets are built: they compile their readers from source
  { [[ -f build-fuzz/build.ninja ]] ||
      CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false -Dexamples=false -Dbenchmarks=false; } &&
    ninja -C build-fuzz tests/fuzz/fuzz_idx tests/fuzz/fuzz_safetensors &&
    meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs
}

sanitized_tests() {  # halt_on_error: a UBSan report fails the test instead of scrolling past
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    tests_in build-sanitize -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false -Dbenchmarks=false
}

part "tests (build/)" tests_in build
((sanitize)) && part "tests under ASan + UBSan (build-sanitize/)" sanitized_tests
((fuzz)) && part "fuzz smoke runs (build-fuzz/)" fuzz_smoke
exit "$failed"
