#!/usr/bin/env bash
# libmodctx.so.1 and the modctx checker need LibTorch's core library (libc10)
# and nothing else of LibTorch; a program that uses only the C ABI maps none
# of what libtorch_cpu brings (OpenCV, FFmpeg, libjxl, libhwy).
# usage: needed_test.sh LIBMODCTX CHECKER C_TEST_PROGRAM
set -uo pipefail
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

for binary in "$1" "$2"; do
  needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  [ -n "$needed" ] || fail "$binary: readelf -d shows no NEEDED entry"
  echo "$binary needs: $(echo $needed)"
  grep -q '^libc10\.so' <<<"$needed" || fail "$binary does not need libc10"
  # Any LibTorch library but c10: torch, torch_cpu, torch_cuda, c10_cuda, ...
  others=$(grep -E '^lib(torch|c10_|caffe2|shm)' <<<"$needed" || true)
  [ -z "$others" ] || fail "$binary needs $(echo $others)"
done

mapped=$(ldd "$3") || fail "ldd $3 failed"
echo "$3 maps $(wc -l <<<"$mapped") libraries"
heavy=$(grep -E 'libtorch|libhwy|libopencv|libav(codec|format|util)|libjxl' <<<"$mapped" || true)
[ -z "$heavy" ] || fail "$3 maps: $(echo $heavy)"

[ $failed -eq 0 ] && echo "needed: only libc10 of LibTorch" || exit 1
