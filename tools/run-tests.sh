#!/usr/bin/env bash
# Builds modctx and runs every test, in stages (each prints its name, then a
# closing PASSED/FAILED line with its time; the first failure stops the run):
#   1. tests: normal build (build/, gcov-instrumented for stage 3)
#   2. rust: the Rust bindings' tests against build/ (bindings/rust: cargo test)
#   3. coverage: line and branch coverage of src/ and capi/ (gcovr), at least 95% of lines
#   4. abi: libmodctx.so against the baseline in abi/ (tools/check-abi.sh)
#   5. valgrind: memcheck of the C test program, no leaks
#   6. asan: the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   7. tsan: the thread tests under ThreadSanitizer (build-tsan/)
#   8. fuzz: each libFuzzer target on its regressions, then 60 s of fuzzing (build-fuzz/)
# usage: tools/run-tests.sh [--quick]   (--quick: stages 1 and 2, the normal build only)
#   MODCTX_JOBS=N limits parallel compile jobs (default: ninja's).
set -eEuo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
quick=0
[ "${1:-}" = "--quick" ] && quick=1
total=8
[ $quick -eq 1 ] && total=2

stage_no=0
stage_name=""
stage_start=$SECONDS
summary=()
stage() {
  stage_no=$((stage_no + 1))
  stage_name=$1
  stage_start=$SECONDS
  echo
  echo "== [$stage_no/$total] $stage_name"
}
stage_passed() {
  local took=$((SECONDS - stage_start))
  summary+=("$(printf '%-10s %5d s' "$stage_name" "$took")")
  echo "== [$stage_no/$total] $stage_name: PASSED in $took s"
}
trap 'echo "== [$stage_no/$total] ${stage_name:-setup}: FAILED after $((SECONDS - stage_start)) s"' ERR

jobs=()
[ -n "${MODCTX_JOBS:-}" ] && jobs=(-j "$MODCTX_JOBS")

# Coverage counters must be thread-safe: the thread tests update them at once.
cov_args=-fprofile-update=atomic

stage tests
if [ ! -f build/build.ninja ]; then
  meson setup build -Db_coverage=true "-Dc_args=$cov_args" "-Dcpp_args=$cov_args" >/dev/null
elif ! meson introspect build --buildoptions | /usr/bin/python3 -c '
import json, sys
options = {o["name"]: o["value"] for o in json.load(sys.stdin)}
sys.exit(0 if options["b_coverage"] and "'$cov_args'" in options["cpp_args"] else 1)'; then
  meson configure build -Db_coverage=true "-Dc_args=$cov_args" "-Dcpp_args=$cov_args" >/dev/null
fi
meson compile -C build "${jobs[@]}" >/dev/null
find build -name '*.gcda' -delete   # counts from this run only
meson test -C build --print-errorlogs
stage_passed

stage rust
cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
MODCTX_LIB_DIR="$PWD/build/capi" "$cargo" test --offline --manifest-path bindings/rust/Cargo.toml
stage_passed

if [ $quick -eq 0 ]; then
  stage coverage
  gcovr --root . --object-directory build --filter 'src/' --filter 'capi/' \
    --exclude-throw-branches --exclude-unreachable-branches \
    --txt build/coverage.txt --print-summary --fail-under-line 95 build | tee build/coverage-summary.txt
  gcovr --root . --object-directory build --filter 'src/' --filter 'capi/' \
    --exclude-throw-branches --exclude-unreachable-branches --branches --txt build/coverage-branches.txt build
  cat build/coverage.txt
  echo "(lines missed: README.md, section Hardening, explains each that no test reaches; branches per file: build/coverage-branches.txt)"
  stage_passed

  stage abi
  tools/check-abi.sh build
  stage_passed

  stage valgrind
  valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --suppressions=tools/valgrind.supp build/tests/capi/capi_test
  echo "valgrind: memcheck of tests/capi/capi_test: no errors, no leaks"
  stage_passed

  stage asan
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
    -Dbuild_self_test=false >/dev/null
  meson compile -C build-asan "${jobs[@]}" >/dev/null
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs
  stage_passed

  stage tsan
  # The library and the thread test only; ASLR off where the kernel's
  # randomization is wider than ThreadSanitizer's memory layout allows.
  [ -f build-tsan/build.ninja ] || meson setup build-tsan -Db_sanitize=thread -Dcli=false \
    -Dbuild_self_test=false >/dev/null
  meson compile -C build-tsan "${jobs[@]}" tests/capi/thread_test >/dev/null
  wrapper=()
  setarch "$(uname -m)" -R true 2>/dev/null && wrapper=(--wrapper "setarch $(uname -m) -R")
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    meson test -C build-tsan --no-rebuild --suite threads --print-errorlogs "${wrapper[@]}"
  stage_passed

  stage fuzz
  tools/fuzz.sh 60
  stage_passed
fi

echo
echo "== stage       time"
printf '   %s\n' "${summary[@]}"
echo "== all $total test stages passed in $SECONDS s"
