#!/usr/bin/env bash
# modctx.h compiles standalone as strict C99 and as C++ under gcc and clang,
# alone, after DLPack 0.6 (Debian's libdlpack-dev, LibTorch's ATen/dlpack.h),
# after a DLPack 1.x header, and before DLPack.
# usage: header_test.sh SOURCE_DIR
set -uo pipefail
src=$1
inc=(-I"$src/include")
use=$src/tests/capi/header_use.c
passed=0
failed=0
try() {
  local name=$1; shift
  if "$@" -fsyntax-only "$use" 2>/tmp/modctx_header_test.$$; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $name: $*"; cat /tmp/modctx_header_test.$$
  fi
}
for cc in gcc clang; do
  command -v $cc >/dev/null || { echo "FAIL: $cc not found"; failed=$((failed + 1)); continue; }
  cxx=$([ $cc = gcc ] && echo g++ || echo clang++)
  strict_c=($cc -std=c99 -Wall -Wextra -Wpedantic -Werror "${inc[@]}")
  strict_cxx=($cxx -x c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror "${inc[@]}")
  try "$cc alone" "${strict_c[@]}"
  try "$cxx alone" "${strict_cxx[@]}"
  try "$cxx as C++11" $cxx -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror "${inc[@]}"
  if [ -f /usr/include/dlpack/dlpack.h ]; then
    try "$cc after dlpack 0.6" "${strict_c[@]}" -DUSE_DLPACK_FIRST
    try "$cxx after dlpack 0.6" "${strict_cxx[@]}" -DUSE_DLPACK_FIRST
    try "$cc before dlpack 0.6" "${strict_c[@]}" -DUSE_DLPACK_AFTER
  else
    echo "FAIL: /usr/include/dlpack/dlpack.h missing (libdlpack-dev)"; failed=$((failed + 1))
  fi
  try "$cxx after ATen/dlpack.h" "${strict_cxx[@]}" -DUSE_ATEN_DLPACK_FIRST
  try "$cc after dlpack 1.x" "${strict_c[@]}" -I"$src/tests/capi/dlpack1" -DUSE_DLPACK_FIRST
  try "$cxx after dlpack 1.x" "${strict_cxx[@]}" -I"$src/tests/capi/dlpack1" -DUSE_DLPACK_FIRST
  try "$cc before dlpack 1.x" "${strict_c[@]}" -I"$src/tests/capi/dlpack1" -DUSE_DLPACK_AFTER
done
rm -f /tmp/modctx_header_test.$$
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
