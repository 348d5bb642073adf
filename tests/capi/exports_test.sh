#!/usr/bin/env bash
# libmodctx.so exports the C ABI and nothing else, under SONAME libmodctx.so.1.
# usage: exports_test.sh LIBMODCTX
set -uo pipefail
lib=$1
failed=0
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)
others=$(echo "$symbols" | grep -v '^modctx_' || true)
if [ -n "$others" ]; then
  echo "FAIL: symbols outside the C ABI are exported:"; echo "$others" | head -20; failed=$((failed + 1))
fi
for f in modctx_builder_new modctx_builder_free modctx_builder_set_dlpack modctx_builder_set_dlpack_versioned \
         modctx_builder_clear modctx_builder_set_output_slice modctx_builder_build modctx_context_free \
         modctx_context_has modctx_context_get_dlpack modctx_context_get_dlpack_versioned \
         modctx_context_get_output_slice modctx_context_describe modctx_check_forward modctx_slice_indices \
         modctx_last_error modctx_status_name modctx_version modctx_abi_version modctx_get_api \
         modctx_builder_new_from_context modctx_builder_set_tensor modctx_context_retain \
         modctx_context_apply_output_slice modctx_field_name modctx_check_model modctx_arch_name modctx_compose \
         modctx_context_residual_length modctx_context_compose_residual modctx_context_save_safetensors \
         modctx_context_load_safetensors modctx_context_load_safetensors_from_memory \
         modctx_status_class_of modctx_check_request modctx_model_from_config modctx_model_from_config_string; do
  # a here-string, not a pipe: grep -q exits at the first match and, under pipefail,
  # the SIGPIPE of the writer would turn a found symbol into a failure.
  grep -qx "$f" <<<"$symbols" || { echo "FAIL: $f is not exported"; failed=$((failed + 1)); }
done
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libmodctx.so.1" ] || { echo "FAIL: SONAME is '$soname', wanted libmodctx.so.1"; failed=$((failed + 1)); }
# The file's name carries the SONAME's version first (libmodctx.so.1.MINOR.PATCH).
file=$(basename "$(readlink -f "$lib")")
case "$file" in
  "$soname" | "$soname".*) ;;
  *) echo "FAIL: the library file is $file, which does not start with its SONAME $soname"; failed=$((failed + 1)) ;;
esac
count=$(echo "$symbols" | wc -l)
echo "$count symbols exported, all modctx_*; SONAME $soname, file $file"
echo "$((4 - (failed > 0 ? 1 : 0))) passed, $failed failed"
[ $failed -eq 0 ]
