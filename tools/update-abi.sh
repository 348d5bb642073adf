#!/usr/bin/env bash
# Records an intended ABI change: rebuilds the library in BUILD_DIR and
# rewrites the baseline in abi/ (symbols.txt, modctx.abi, abi-version).
# Within one SONAME (libmodctx.so.1) the ABI may only grow: it refuses a
# removed symbol, an incompatible change (abidiff's verdict), a member of
# struct modctx_api moved or removed, and new symbols without a higher
# MODCTX_ABI_VERSION. --allow-break skips those checks (for a new SONAME:
# change soname_version in capi/meson.build first).
# usage: tools/update-abi.sh [--allow-break] [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/abi-common.sh
allow_break=0
if [ "${1:-}" = "--allow-break" ]; then allow_break=1; shift; fi
build=${1:-build}
# Configure and compile output goes to a log, printed when the step fails.
. tools/quietly.sh
[ -f "$build/build.ninja" ] || quietly "$build/setup.log" meson setup "$build"
quietly "$build/update-abi-compile.log" meson compile -C "$build" capi/modctx:shared_library
lib=$(abi_library "$build")
current=$(abi_header_version)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abi_symbols "$lib" > "$tmp/symbols.txt"
abi_dump "$lib" "$tmp/modctx.abi"

refuse() {
  echo "update-abi: REFUSED: $*" >&2
  [ $allow_break -eq 1 ] && { echo "update-abi: (--allow-break: recorded anyway)" >&2; return 0; }
  exit 1
}

if [ -f "$abi_dir/symbols.txt" ]; then
  removed=$(comm -23 "$abi_dir/symbols.txt" "$tmp/symbols.txt")
  added=$(comm -13 "$abi_dir/symbols.txt" "$tmp/symbols.txt")
  recorded=$(cat "$abi_dir/abi-version")
  [ -z "$removed" ] || refuse "symbols removed (breaks every user of libmodctx.so.1):
$removed"
  if [ -n "$added" ] && [ "$current" -le "$recorded" ]; then
    refuse "symbols added but MODCTX_ABI_VERSION is still $current (baseline: $recorded): bump it in $abi_header:
$added"
  fi
  set +e
  abi_diff "$abi_dir/modctx.abi" "$lib" > "$tmp/abidiff.txt" 2>&1
  rc=$?
  set -e
  [ $((rc & 1)) -eq 0 ] || { cat "$tmp/abidiff.txt"; echo "update-abi: abidiff failed" >&2; exit 1; }
  [ $((rc & 8)) -eq 0 ] || refuse "abidiff calls the change incompatible:
$(cat "$tmp/abidiff.txt")"
  # Appending to struct modctx_api grows it; moving or dropping a member breaks dlopen users.
  if grep -qE "offset changed|data member .* (was removed|deleted)|'[^']*' was removed|has been removed" "$tmp/abidiff.txt"; then
    refuse "a member moved or was removed (only appending is allowed):
$(cat "$tmp/abidiff.txt")"
  fi
  echo "update-abi: changes against the old baseline:"
  if [ $rc -eq 0 ]; then echo "  none"; else sed 's/^/  /' "$tmp/abidiff.txt"; fi
  [ -z "$added" ] || { echo "update-abi: symbols added:"; echo "$added" | sed 's/^/  /'; }
fi

mkdir -p "$abi_dir"
cp "$tmp/symbols.txt" "$abi_dir/symbols.txt"
cp "$tmp/modctx.abi" "$abi_dir/modctx.abi"
echo "$current" > "$abi_dir/abi-version"
echo "update-abi: baseline written to $abi_dir/ ($(wc -l < "$abi_dir/symbols.txt") symbols, ABI version $current); commit it"
