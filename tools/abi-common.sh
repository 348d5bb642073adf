# Shared by tools/check-abi.sh and tools/update-abi.sh (sourced, not run).
# The pinned ABI of libmodctx.so.1 lives in abi/:
#   abi/symbols.txt   the exported symbols, one a line, sorted
#   abi/modctx.abi    abidw's description of the exported functions and the
#                     types they reach (abi/private.supp: what is not ABI)
#   abi/abi-version   MODCTX_ABI_VERSION of the baseline
abi_dir=abi
abi_header=include/modctx.h

abi_library() {  # BUILD_DIR -> the real file of libmodctx.so in it
  local lib
  lib=$(find "$1/capi" -maxdepth 1 -type f -name 'libmodctx.so.*' | sort | tail -1)
  [ -n "$lib" ] || { echo "abi: no libmodctx.so.* in $1/capi (build it first)" >&2; return 1; }
  echo "$lib"
}

abi_symbols() {  # LIB -> exported (defined, dynamic) symbols, sorted
  nm -D --defined-only "$1" | awk '{print $3}' | sed 's/@.*//' | sort -u
}

abi_header_version() {
  sed -n 's/^#define MODCTX_ABI_VERSION \([0-9][0-9]*\)u\{0,1\}.*/\1/p' "$abi_header"
}

abi_suppressions=abi/private.supp

abi_dump() {  # LIB OUT: the exported functions and the types they reach,
              # free of build paths and line numbers
  abidw --exported-interfaces-only --no-corpus-path --no-comp-dir-path --no-show-locs \
    --type-id-style hash --out-file "$2" "$1"
}

abi_diff() {  # BASELINE LIB: abidiff's report on stdout, its status as the return value
  abidiff --exported-interfaces-only --suppressions "$abi_suppressions" --no-default-suppression "$1" "$2"
}
