#!/usr/bin/env bash
# meson install into a temporary root, then a C program built against it with
# nothing but `pkg-config --cflags --libs modctx`, and run.
# usage: install_test.sh BUILD_DIR SOURCE_DIR SCRATCH
set -euo pipefail
build=$1
src=$2
scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch"
meson install -C "$build" --destdir "$scratch/root" --no-rebuild >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log"; exit 1; }
pc=$(find "$scratch/root" -name modctx.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no modctx.pc installed"; exit 1; }
[ -f "$(dirname "$pc")/modctx-cxx.pc" ] || { echo "FAIL: no modctx-cxx.pc installed"; exit 1; }
find "$scratch/root" -name modctx.h | grep -q . || { echo "FAIL: modctx.h not installed"; exit 1; }
find "$scratch/root" -path '*modctx/context.hpp' | grep -q . || { echo "FAIL: C++ headers not installed"; exit 1; }
# Every header an installed header includes is installed beside it.
incdir=$(dirname "$(find "$scratch/root" -path '*modctx/context.hpp' | head -n 1)")
for header in "$incdir"/*.hpp; do
  for included in $(sed -n 's|^#include "modctx/\(.*\)"$|\1|p' "$header"); do
    [ -f "$incdir/$included" ] || { echo "FAIL: $(basename "$header") includes modctx/$included, which is not installed"; exit 1; }
  done
done
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$scratch/root
flags=$(pkg-config --cflags --libs modctx)
cat >"$scratch/hello.c" <<'C'
#include <stdio.h>
#include <modctx.h>
int main(void) {
  modctx_builder *b = NULL;
  modctx_context *c = NULL;
  char buf[64];
  if (modctx_builder_new(&b) || modctx_builder_build(b, &c)) return 1;
  modctx_builder_free(b);
  if (modctx_check_forward(c, 0, 0) != MODCTX_ERR_FORWARD_INPUTS) return 1;
  modctx_context_describe(c, buf, sizeof buf, NULL);
  printf("%s %s %s\n", modctx_version(), buf, modctx_last_error());
  modctx_context_free(c);
  return 0;
}
C
cc -std=c99 -Wall -Wextra -Werror "$scratch/hello.c" -o "$scratch/hello" $flags
libdir=$(dirname "$(find "$scratch/root" -name libmodctx.so.1 | head -n 1)")
out=$(LD_LIBRARY_PATH="$libdir" "$scratch/hello")
expected="ModalityContext() Transformer.forward requires exactly one of tokens or modality.inputs_embeds"
case "$out" in
  *"$expected") echo "installed, built with '$flags', ran: 1 passed, 0 failed" ;;
  *) echo "FAIL: unexpected output: $out"; exit 1 ;;
esac
