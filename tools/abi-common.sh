# Shared by tools/check-abi.sh and tools/update-abi.sh (sourced, not run).
# The pinned ABI of libmodctx.so.1 lives in abi/:
#   abi/symbols.txt   the exported symbols, one a line, sorted
#   abi/modctx.abi    abidw's description of the library's public interface
#                     (functions and the types of capi/modctx.h they reach)
#   abi/abi-version   MODCTX_ABI_VERSION of the baseline
abi_dir=abi
abi_header=capi/modctx.h

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

abi_dump() {  # LIB OUT: the abidw baseline, free of build paths and line numbers
  abidw --header-file "$abi_header" --drop-private-types --no-corpus-path --no-comp-dir-path \
    --no-show-locs --type-id-style hash --out-file "$2" "$1"
}
