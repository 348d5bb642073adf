#!/usr/bin/env bash
# The main job: builds modctx and runs the checker on a bundled example.
# usage: tools/run-example.sh [EXAMPLE.json]   (default: the MoT example)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build modctx >/dev/null
example=${1:-examples/contexts/mot.json}
echo "\$ build/modctx check $example"
build/modctx check "$example"
