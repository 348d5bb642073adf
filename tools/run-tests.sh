#!/usr/bin/env bash
# Builds modctx and runs every test: the suite in a normal build, then again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
# usage: tools/run-tests.sh [--quick]   (--quick: the normal build only)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
quick=0
[ "${1:-}" = "--quick" ] && quick=1

echo "== tests: normal build (build/)"
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
meson test -C build --print-errorlogs

echo "== tests: Rust bindings against build/ (bindings/rust: cargo test)"
cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
MODCTX_LIB_DIR="$PWD/build/capi" "$cargo" test --offline --manifest-path bindings/rust/Cargo.toml

if [ $quick -eq 0 ]; then
  echo "== tests: AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
    -Dbuild_self_test=false >/dev/null
  meson compile -C build-asan >/dev/null
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs
fi
echo "== all test stages passed"
