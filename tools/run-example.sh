#!/usr/bin/env bash
# The main job: builds the modctx checker and runs it on a bundled example.
# usage: tools/run-example.sh [EXAMPLE.json]   (default: the MoT example)
#   MODCTX_JOBS=N limits parallel compile jobs (default: ninja's).
#
# Quiet when all goes well: meson's output goes to build/run-example.log and is
# printed when a step fails; every failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

log=build/run-example.log
mkdir -p build
: >"$log"
step() {  # step DESCRIPTION COMMAND...: runs COMMAND, its output to the log; on failure shows it
  local what=$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    echo "run-example: $what failed ($*); its output ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
}

jobs=()
[ -n "${MODCTX_JOBS:-}" ] && jobs=(-j "$MODCTX_JOBS")
[ -f build/build.ninja ] || step "configuring build/" meson setup build
# The executable and the C ABI's library are both named modctx: name the type.
step "building the checker" meson compile -C build "${jobs[@]}" modctx:executable

example=${1:-examples/contexts/mot.json}
echo "\$ build/cli/modctx check $example"
build/cli/modctx check "$example"
