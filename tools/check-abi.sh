#!/usr/bin/env bash
# Fails on any change of libmodctx.so's ABI against the baseline in abi/:
# an exported symbol added or removed, or any change abidiff sees in the
# functions and the types of include/modctx.h (a struct member added, moved or
# retyped, an enum value changed, a function's signature changed).
# An intended change (functions appended) is recorded with tools/update-abi.sh.
# usage: tools/check-abi.sh [BUILD_DIR]   (default: build; the library must be built)
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/abi-common.sh
build=${1:-build}
lib=$(abi_library "$build")
failed=0

if ! diff -u "$abi_dir/symbols.txt" <(abi_symbols "$lib") > "$build/abi-symbols.diff"; then
  echo "abi: the exported symbols differ from $abi_dir/symbols.txt (- baseline, + now):"
  grep '^[-+][^-+]' "$build/abi-symbols.diff" || true
  failed=1
fi

recorded=$(cat "$abi_dir/abi-version")
current=$(abi_header_version)
if [ "$recorded" != "$current" ]; then
  echo "abi: MODCTX_ABI_VERSION is $current in $abi_header, $recorded in the baseline"
  failed=1
fi

set +e
abi_diff "$abi_dir/modctx.abi" "$lib" > "$build/abidiff.txt" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "abi: abidiff $abi_dir/modctx.abi $lib: exit $rc ($( [ $((rc & 8)) -ne 0 ] && echo incompatible || echo changed))"
  cat "$build/abidiff.txt"
  failed=1
fi

if [ $failed -ne 0 ]; then
  cat <<MSG
abi: FAILED: libmodctx.so's ABI is not the one pinned in $abi_dir/.
  Unintended? Undo the change. Functions appended on purpose? Bump MODCTX_ABI_VERSION
  in $abi_header, append the functions to the end of struct modctx_api, then run
  tools/update-abi.sh and commit $abi_dir/.
MSG
  exit 1
fi
echo "abi: $(wc -l < "$abi_dir/symbols.txt") symbols and their types match the baseline (ABI version $current)"
