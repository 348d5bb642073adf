#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, AddressSanitizer + UndefinedBehavior-
# Sanitizer, leak checking on) in build-fuzz/ and, for each target:
#   1. runs it on fuzz/regressions/TARGET/ (inputs of past findings: each must pass);
#   2. fuzzes it for SECONDS (default 60), starting from fuzz/corpus/TARGET/ and
#      build-fuzz/corpus/TARGET/ (where new inputs are kept between runs).
# Fails on any finding; the input is left in build-fuzz/findings/TARGET/.
#
# usage: tools/fuzz.sh [SECONDS] [TARGET...]
#   tools/fuzz.sh                      # every target, 60 s each (what CI runs;
#                                      # config_fuzz, a small parser, a third of it)
#   tools/fuzz.sh 3600 capi_fuzz       # one target for an hour
#   FUZZ_JOBS=2 tools/fuzz.sh 7200     # two processes per target
# Targets: capi_fuzz description_fuzz safetensors_fuzz config_fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
all_targets=0
[ ${#targets[@]} -gt 0 ] || { targets=(capi_fuzz description_fuzz safetensors_fuzz config_fuzz); all_targets=1; }
fuzz_jobs=${FUZZ_JOBS:-1}
build=build-fuzz
flags="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"

. tools/quietly.sh
if [ ! -f $build/build.ninja ]; then
  CC=clang CXX=clang++ quietly $build/setup.log meson setup $build -Dfuzz=true -Dtests=false -Dcli=false \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
    "-Dc_args=$flags" "-Dcpp_args=$flags"
fi
jobs=()
[ -n "${MODCTX_JOBS:-}" ] && jobs=(-j "$MODCTX_JOBS")
quietly $build/compile.log meson compile -C $build "${jobs[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p $build/logs
failed=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  if [ ! -x "$bin" ]; then
    echo "fuzz: $t: not built (is its source there?)"
    failed+=("$t"); continue
  fi
  findings=$build/findings/$t
  corpus=$build/corpus/$t
  mkdir -p "$findings" "$corpus"
  extra=()
  [ -f fuzz/$t.dict ] && extra+=(-dict=fuzz/$t.dict)
  [ "$fuzz_jobs" -gt 1 ] && extra+=(-jobs="$fuzz_jobs" -workers="$fuzz_jobs")

  # 1. Past findings, one run each.
  regressions=(fuzz/regressions/$t/*)
  if [ -e "${regressions[0]}" ]; then
    bad=0
    for input in "${regressions[@]}"; do
      case $input in *.md) continue ;; esac
      if ! "$bin" "$input" > $build/logs/$t.regression.log 2>&1; then
        echo "fuzz: $t: REGRESSION $input:"
        grep -E "FINDING|ERROR|runtime error|SUMMARY|what\(\)" $build/logs/$t.regression.log | head -8 | sed 's/^/    /'
        bad=1
      fi
    done
    if [ $bad -ne 0 ]; then failed+=("$t"); continue; fi
    echo "fuzz: $t: ${#regressions[@]} regression inputs pass"
  fi

  # 2. Fuzzing. With every target, config_fuzz (TOML text, a small input
  # space) gets a third of the time, so CI's fuzzing grows by a ninth.
  t_seconds=$seconds
  [ "$t" = config_fuzz ] && [ $all_targets -eq 1 ] && t_seconds=$(( (seconds + 2) / 3 ))
  log=$build/logs/$t.log
  set +e
  "$bin" "${extra[@]}" -max_total_time="$t_seconds" -timeout=20 -rss_limit_mb=4096 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$findings/" \
    "$corpus" fuzz/corpus/$t > "$log" 2>&1
  rc=$?
  set -e
  if [ "$fuzz_jobs" -gt 1 ]; then
    for worker_log in fuzz-*.log; do
      [ -e "$worker_log" ] && cat "$worker_log" >> "$log" && rm -f "$worker_log"
    done
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s+=$1} END {print s+0}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  if [ $rc -ne 0 ] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|FINDING" "$log"; then
    echo "fuzz: $t: FINDING after $runs runs (log: $log; input: $(ls -t "$findings" | head -1 | sed "s|^|$findings/|")):"
    grep -E "FINDING|ERROR|runtime error|SUMMARY|what\(\)" "$log" | head -12 | sed 's/^/    /'
    failed+=("$t")
  else
    echo "fuzz: $t: ${t_seconds} s, $runs runs, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) + $(ls fuzz/corpus/$t | wc -l) seeds: no finding"
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (read an input: MODCTX_FUZZ_TRACE=1 $build/fuzz/capi_fuzz FILE; keep it in fuzz/regressions/TARGET/)"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
