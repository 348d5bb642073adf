#!/usr/bin/env bash
# Proves the libtorch_dir option: lays out a LibTorch folder (include/, lib/)
# made of links to the system install, configures a second build against it,
# builds the checker, and checks that it runs and that its run path names
# the folder.
#
# usage: libtorch_dir_test.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
src=$1
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch/libtorch/lib"
multiarch=$(dirname "$(c++ -print-file-name=libstdc++.so)")
for candidate in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib "$multiarch"; do
  if [ -e "$candidate/libtorch_cpu.so" ]; then libdir=$candidate; break; fi
done
: "${libdir:?no system libtorch_cpu.so found}"
ln -s /usr/include "$scratch/libtorch/include"
for lib in "$libdir"/libtorch_cpu.so* "$libdir"/libc10.so* "$libdir"/libtorch.so*; do
  ln -s "$lib" "$scratch/libtorch/lib/"
done

# A folder that is not LibTorch is refused with a clear message.
mkdir -p "$scratch/empty"
if meson setup "$scratch/bad" "$src" -Dlibtorch_dir="$scratch/empty" >"$scratch/bad.log" 2>&1; then
  echo "FAIL: configuring against an empty folder succeeded"; exit 1
fi
grep -q "is not a LibTorch folder" "$scratch/bad.log" || { echo "FAIL: unclear error:"; cat "$scratch/bad.log"; exit 1; }

meson setup "$scratch/build" "$src" -Dlibtorch_dir="$scratch/libtorch" -Dtests=false \
  -Dbuild_self_test=false --buildtype=plain >"$scratch/setup.log" 2>&1 || { cat "$scratch/setup.log"; exit 1; }
ninja -C "$scratch/build" cli/modctx >"$scratch/build.log" 2>&1 || { tail -50 "$scratch/build.log"; exit 1; }

runpath=$(readelf -d "$scratch/build/cli/modctx" | grep -E 'RUNPATH|RPATH' || true)
[[ "$runpath" == *"$scratch/libtorch/lib"* ]] ||
  { echo "FAIL: the checker's run path does not name libtorch_dir/lib"; readelf -d "$scratch/build/cli/modctx"; exit 1; }
out=$("$scratch/build/cli/modctx" check "$src/examples/contexts/mot.json")
case "$out" in
  OK*) echo "built and ran against libtorch_dir=$scratch/libtorch: 1 passed, 0 failed" ;;
  *) echo "FAIL: unexpected output: $out"; exit 1 ;;
esac
