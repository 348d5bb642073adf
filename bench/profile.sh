#!/usr/bin/env bash
# Instructions per request under callgrind: repeatable where wall time on a
# shared machine is not. Started by `bash bench/run.sh --profile`, or alone:
#
#   bash bench/profile.sh [BUILD_DIR] [CASE:CONTEXT[:MEMORY] ...]
#
# Each case runs bench/callgrind_capi under valgrind; only the function
# bench_loop (N requests, after an uncounted warm-up) is counted. Loading
# LibTorch under valgrind takes a minute or more per case; two run at once.
# Writes BUILD_DIR/bench-results/callgrind/CASE-CONTEXT.out (open them with
# callgrind_annotate or kcachegrind) and prints the counts and the top
# functions by own cost.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:-$here/../build-bench}" && pwd)"
shift || true
cases=("$@")
if [ "${#cases[@]}" -eq 0 ]; then
  cases=(capi_dlpack:mot capi_dlpack_versioned:mot capi_mot_and_slice:mot
         capi_one_import:mot capi_builder_only:mot core_build_forward:mot core_rejected:mot capi_rejected:mot
         capi_dlpack:mot:cpu_1KiB capi_dlpack:mot:cpu_1GiB core_build_forward:mot:cpu_1KiB
         core_build_forward:mot:cpu_1GiB)
fi
n=2000
out="$build/bench-results/callgrind"
mkdir -p "$out"

# CASE:CONTEXT[:MEMORY] -> "CASE CONTEXT MEMORY" (MEMORY defaults to cuda_1GiB: described only)
split() { local IFS=:; set -- $1; echo "$1" "$2" "${3:-cuda_1GiB}"; }

run_case() {
  local c ctx mem
  read -r c ctx mem < <(split "$1")
  valgrind --tool=callgrind --toggle-collect=bench_loop --callgrind-out-file="$out/$c-$ctx-$mem.out" \
    "$build/bench/callgrind_capi" "$c" "$ctx" "$n" "$mem" >"$out/$c-$ctx-$mem.log" 2>&1 ||
    echo "profile.sh: $c $ctx $mem failed (see $out/$c-$ctx-$mem.log)" >&2
}

pids=()
for c in "${cases[@]}"; do
  run_case "$c" &
  pids+=($!)
  if [ "${#pids[@]}" -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done

printf '\n## Instructions per request (callgrind, %d requests after a warm-up)\n\n' "$n"
printf '| case | context | tensors | instructions per request |\n|---|---|---|---|\n'
for c in "${cases[@]}"; do
  read -r name ctx mem < <(split "$c")
  total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/$name-$ctx-$mem.log")
  printf '| %s | %s | %s | %s |\n' "$name" "$ctx" "$mem" "$(( ${total:-0} / n ))"
done
for c in "${cases[@]}"; do
  read -r name ctx mem < <(split "$c")
  [[ "$mem" == cuda_1GiB ]] || continue   # the same functions whatever the size
  printf '\n### %s %s: top functions by own instructions (per request)\n\n' "$name" "$ctx"
  callgrind_annotate "$out/$name-$ctx-$mem.out" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
n = int(sys.argv[1])
rows = [re.match(r"\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(.*)$", line) for line in sys.stdin]
rows = [m for m in rows if m and "PROGRAM TOTALS" not in m.group(2)]
for m in rows[:12]:
    name = re.sub(r" \[[^]]*\]$", "", m.group(2)).replace("???:", "")
    print("%8.0f  %s" % (int(m.group(1).replace(",", "")) / n, name[:150]))
' "$n"
done
