#!/usr/bin/env bash
# The one command for modctx's benchmarks (docs/PERFORMANCE.md):
#
#   bash bench/run.sh            # configure build-bench/ if needed, build, run, print the tables
#   bash bench/run.sh --quick    # fewer repetitions (a smoke run, not for the record)
#   bash bench/run.sh --profile  # also: instruction counts per request under callgrind (slow)
#
# Runs the Google Benchmark program (C++ core and C ABI), the same work in
# Python (Debian's python3-torch: a frozen dataclass, and modctx via ctypes),
# and the load cost, in one go on this machine; prints medians and ratios.
# Results: build-bench/bench-results/ (summary.md, medians.json,
# google-benchmark.json; callgrind/ with --profile).
# Environment: BUILD_DIR (default build-bench), JOBS (ninja -j, default 2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
jobs="${JOBS:-2}"

reps=10
min_time=0.05
load_runs=15
profile=0
for arg in "$@"; do
  case "$arg" in
    --quick) reps=3; min_time=0.02; load_runs=3 ;;
    --profile) profile=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Debian's interpreter: python3-torch installs for it alone.
python=/usr/bin/python3
missing=()
[ -f /usr/include/benchmark/benchmark.h ] || missing+=(libbenchmark-dev)
"$python" -c 'import torch' 2>/dev/null || missing+=(python3-torch)
command -v meson >/dev/null || missing+=(meson)
command -v ninja >/dev/null || missing+=(ninja-build)
if [ "$profile" = 1 ]; then command -v valgrind >/dev/null || missing+=(valgrind); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench/run.sh: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y "${missing[@]}"
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbench=true -Dtests=false --buildtype=release
elif [ "$(meson introspect --buildoptions "$build" | "$python" -c \
        'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="bench"][0])')" != "True" ]; then
  meson configure "$build" -Dbench=true
fi
ninja -C "$build" -j"$jobs" bench/bench_modctx bench/load_time bench/callgrind_capi >&2

"$python" "$here/side_by_side.py" --build "$build" --reps "$reps" --min-time "$min_time" --load-runs "$load_runs"

if [ "$profile" = 1 ]; then
  bash "$here/profile.sh" "$build"
fi
