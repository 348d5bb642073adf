#!/usr/bin/env bash
# Builds modctx and runs its tests, in stages. Each stage prints its name, then
# a closing PASSED/FAILED line with its time; the first failure stops the run.
#
# usage: tools/run-tests.sh               the tests (a plain build in build/):
#   1. tests: meson test in build/ (Catch2, the C tests, the checker, the Python
#      comparisons, the libtorch_dir build)
#   2. rust: the Rust bindings' tests against build/ (bindings/rust: cargo test)
#
# usage: tools/run-tests.sh --hardening   the hardening (what CI adds):
#   1. coverage: the suite again in build-cov/ (gcov-instrumented), then line and
#      branch coverage of src/, capi/ and cli/ (gcovr), at least 95% of lines
#   2. abi: libmodctx.so in build/ against the baseline in abi/ (tools/check-abi.sh)
#   3. valgrind: memcheck of the C test program in build/, no errors, no leaks
#      (skipped, saying why, only when valgrind cannot run the program's
#      start-up on this CPU)
#   4. asan: the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   5. tsan: the thread tests under ThreadSanitizer (build-tsan/)
#   6. fuzz: each libFuzzer target on its regressions, then 60 s of fuzzing (build-fuzz/)
# usage: tools/run-tests.sh --hardening STAGE...   only those stages (e.g. valgrind tsan)
#
#   MODCTX_JOBS=N limits parallel compile jobs (default: ninja's).
# Configure and compile output goes to a log in the build folder (e.g.
# build/compile.log), printed in full when the step fails.
set -eEuo pipefail
cd "$(dirname "$0")/.."

usage() {  # usage [STATUS]: the usage lines of this header; on standard output for --help
  if [ "${1:-2}" = 0 ]; then help_text; exit 0; fi
  help_text >&2
  exit 2
}
help_text() { sed -n '/^# usage:/,/^# Configure/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
mode=tests
hardening_stages=(coverage abi valgrind asan tsan fuzz)
case "${1:-}" in
  "") [ $# -eq 0 ] || usage ;;
  --hardening)
    mode=hardening
    shift
    if [ $# -gt 0 ]; then
      for s in "$@"; do
        [[ " ${hardening_stages[*]} " == *" $s "* ]] ||
          { echo "run-tests: no hardening stage '$s' (stages: ${hardening_stages[*]})" >&2; exit 2; }
      done
      hardening_stages=("$@")
    fi ;;
  -h|--help) usage 0 ;;
  *) echo "run-tests: unknown argument '$1'" >&2; usage ;;
esac
want() { [[ " ${hardening_stages[*]} " == *" $1 "* ]]; }

tools/install-deps.sh

if [ $mode = tests ]; then total=2; else total=${#hardening_stages[@]}; fi
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
skipped=()
stage_skipped() {  # stage_skipped WHY
  local took=$((SECONDS - stage_start))
  summary+=("$(printf '%-10s %5d s  SKIPPED: %s' "$stage_name" "$took" "$1")")
  skipped+=("$stage_name")
  echo "== [$stage_no/$total] $stage_name: SKIPPED after $took s ($1)"
}
trap 'echo "== [$stage_no/$total] ${stage_name:-setup}: FAILED after $((SECONDS - stage_start)) s"' ERR

jobs=()
[ -n "${MODCTX_JOBS:-}" ] && jobs=(-j "$MODCTX_JOBS")

. tools/quietly.sh

# build_dir DIR [MESON SETUP OPTIONS...]: configures DIR (once) and compiles it.
build_dir() {
  local dir=$1
  shift
  [ -f "$dir/build.ninja" ] || quietly "$dir/setup.log" meson setup "$dir" "$@"
  quietly "$dir/compile.log" meson compile -C "$dir" "${jobs[@]}"
}

cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")

# build/ is a plain build. An older version of this script instrumented it for
# coverage: undo that (coverage now has its own build-cov/).
cov_args=-fprofile-update=atomic
plain_build() {
  if [ -f build/build.ninja ] && meson introspect build --buildoptions | /usr/bin/python3 -c '
import json, sys
options = {o["name"]: o["value"] for o in json.load(sys.stdin)}
sys.exit(0 if options["b_coverage"] else 1)'; then
    echo "run-tests: build/ was configured for coverage; configuring it as a plain build"
    quietly build/configure.log meson configure build -Db_coverage=false -Dc_args= -Dcpp_args=
  fi
  build_dir build
}

if [ $mode = tests ]; then
  stage tests
  plain_build
  meson test -C build --print-errorlogs
  stage_passed

  stage rust
  MODCTX_LIB_DIR="$PWD/build/capi" "$cargo" test --offline --manifest-path bindings/rust/Cargo.toml
  stage_passed
else
  if want coverage; then
    stage coverage
    # Coverage counters must be thread-safe: the thread tests update them at once.
    build_dir build-cov -Db_coverage=true "-Dc_args=$cov_args" "-Dcpp_args=$cov_args" -Dbuild_self_test=false
    find build-cov -name '*.gcda' -delete   # counts from this run only
    meson test -C build-cov --print-errorlogs
    # The Rust tests count too (their own target folder, so build/'s stays built).
    CARGO_TARGET_DIR="$PWD/build-cov/rust" MODCTX_LIB_DIR="$PWD/build-cov/capi" \
      "$cargo" test --offline --quiet --manifest-path bindings/rust/Cargo.toml
    gcovr_args=(--root . --object-directory build-cov --filter 'src/' --filter 'capi/' --filter 'cli/'
                --exclude-throw-branches --exclude-unreachable-branches)
    gcovr "${gcovr_args[@]}" --txt build-cov/coverage.txt --print-summary --fail-under-line 95 build-cov |
      tee build-cov/coverage-summary.txt
    gcovr "${gcovr_args[@]}" --branches --txt build-cov/coverage-branches.txt build-cov
    cat build-cov/coverage.txt
    echo "(lines missed: README.md, section Hardening, explains each that no test reaches; branches per file: build-cov/coverage-branches.txt)"
    stage_passed
  fi

  if want abi; then
    stage abi
    plain_build
    tools/check-abi.sh build
    stage_passed
  fi

  if want valgrind; then
    stage valgrind
    plain_build
    program=build/tests/capi/capi_test
    vg=(valgrind --error-exitcode=1 --suppressions=tools/valgrind.supp)
    # The probe: the program's start-up only (every library loaded, their
    # constructors run; MODCTX_TEST_EXIT_AT_START makes main return at once).
    # Debian's valgrind 3.19 cannot run some CPUs' instructions (AVX-512 machines:
    # rdtscp in libhwy, which LibTorch's libtorch_cpu maps) and dies with SIGILL
    # before main: that is valgrind's limit, not a finding, so the stage is
    # skipped, saying why. Any other failure of the probe fails the stage.
    probe_log=build/valgrind-probe.log
    probe_rc=0
    # (In a subshell, so that the shell's own "Illegal instruction" goes to the log too.)
    (MODCTX_TEST_EXIT_AT_START=1 "${vg[@]}" "$program"; exit $?) >"$probe_log" 2>&1 || probe_rc=$?
    if [ $probe_rc -ne 0 ] &&
       grep -qE 'unhandled instruction bytes|unrecognised instruction|signal 4 \(SIGILL\)' "$probe_log"; then
      where=$(grep -m1 -oE '(at|by) 0x[0-9A-F]+: .*' "$probe_log" | sed -E 's/^(at|by) 0x[0-9A-F]+: //' || true)
      echo "valgrind: SKIPPED (valgrind $(valgrind --version | sed 's/^valgrind-//') cannot run the start-up of" \
           "$program on this CPU: SIGILL, an instruction it does not know${where:+, in $where};" \
           "before main, outside modctx; log: $probe_log)"
      grep -E 'unhandled instruction|SIGILL|^==[0-9]+== +(at|by) ' "$probe_log" | head -6 | sed 's/^/    /'
      valgrind_skipped=1
    elif [ $probe_rc -ne 0 ]; then
      echo "valgrind: the start-up of $program fails under valgrind (status $probe_rc); $probe_log:"
      cat "$probe_log"
      false
    else
      "${vg[@]}" --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect "$program"
      echo "valgrind: memcheck of $program: no errors, no leaks"
    fi
    if [ "${valgrind_skipped:-0}" = 1 ]; then
      stage_skipped "valgrind cannot run the program's start-up on this CPU"
    else
      stage_passed
    fi
  fi

  if want asan; then
    stage asan
    build_dir build-asan -Db_sanitize=address,undefined -Dbuild_self_test=false
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C build-asan --print-errorlogs
    stage_passed
  fi

  if want tsan; then
    stage tsan
    # The library and the thread test only; ASLR off where the kernel's
    # randomization is wider than ThreadSanitizer's memory layout allows.
    [ -f build-tsan/build.ninja ] || quietly build-tsan/setup.log meson setup build-tsan \
      -Db_sanitize=thread -Dcli=false -Dbuild_self_test=false
    quietly build-tsan/compile.log meson compile -C build-tsan "${jobs[@]}" tests/capi/thread_test
    wrapper=()
    if setarch "$(uname -m)" -R true >build-tsan/setarch.log 2>&1; then
      wrapper=(--wrapper "setarch $(uname -m) -R")
    else
      echo "tsan: setarch -R is refused here (ASLR stays on): $(cat build-tsan/setarch.log)"
    fi
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      meson test -C build-tsan --no-rebuild --suite threads --print-errorlogs "${wrapper[@]}"
    stage_passed
  fi

  if want fuzz; then
    stage fuzz
    tools/fuzz.sh 60
    stage_passed
  fi
fi

echo
echo "== stage       time"
printf '   %s\n' "${summary[@]}"
if [ $mode = tests ]; then
  echo "== all $total test stages passed in $SECONDS s (the hardening: tools/run-tests.sh --hardening)"
else
  if [ ${#skipped[@]} -eq 0 ]; then
    echo "== all $total hardening stages passed in $SECONDS s (${hardening_stages[*]})"
  else
    echo "== $((total - ${#skipped[@]})) of $total hardening stages passed, ${skipped[*]} skipped (see above), in $SECONDS s"
  fi
fi
