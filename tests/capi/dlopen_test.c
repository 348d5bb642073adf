/* A server's way in: dlopen(RTLD_NOW | RTLD_LOCAL), one dlsym of
 * modctx_get_api, then everything through the table.
 * usage: dlopen_test PATH/TO/libmodctx.so */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "modctx.h"
#include "test_tensors.h"

static int failures = 0, checks = 0;
#define EXPECT(cond)                                                     \
  do {                                                                   \
    ++checks;                                                            \
    if (!(cond)) {                                                       \
      ++failures;                                                        \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                    \
  } while (0)

int main(int argc, char **argv) {
  void *lib;
  modctx_get_api_fn get_api;
  const modctx_api *api;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  static float prefix[2 * 4 * 8];
  int64_t shape[3] = {2, 4, 8};
  int64_t mshape[2] = {2, 5};
  int deleted = 0;
  char buf[256];
  if (argc != 2) {
    fprintf(stderr, "usage: dlopen_test LIBMODCTX\n");
    return 2;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  /* POSIX's way to turn a dlsym result into a function pointer. */
  *(void **)(&get_api) = dlsym(lib, "modctx_get_api");
  EXPECT(get_api != NULL);
  if (!get_api) return 1;
  EXPECT(get_api(MODCTX_ABI_VERSION + 1) == NULL);
  api = get_api(MODCTX_ABI_VERSION);
  EXPECT(api != NULL);
  if (!api) return 1;
  EXPECT(api->served_abi_version == MODCTX_ABI_VERSION);
  EXPECT(api->abi_version() == MODCTX_ABI_VERSION);
  EXPECT(strcmp(api->last_error(), "modctx_get_api: ABI version 3 is not served (this library serves 1 to 2)") == 0);
  /* A program built for version 1 gets a table whose version-1 entries are these. */
  {
    const modctx_api *v1 = get_api(1);
    EXPECT(v1 != NULL && v1->served_abi_version >= 1 && v1->struct_size >= offsetof(modctx_api, status_class_of));
    EXPECT(v1 && v1->builder_new == api->builder_new && v1->check_model == api->check_model &&
           v1->context_load_safetensors_from_memory == api->context_load_safetensors_from_memory);
  }
  /* Version 2's entries, through the table. */
  EXPECT(api->struct_size >= offsetof(modctx_api, model_from_config_string) + sizeof api->model_from_config_string);
  EXPECT(api->status_class_of(MODCTX_ERR_LENGTH) == MODCTX_CLASS_REQUEST);
  EXPECT(api->status_class_of(MODCTX_ERR_OUT_OF_MEMORY) == MODCTX_CLASS_SERVER);
  {
    const char *config = "[model]\ndim = 8\nn_heads = 2\nn_kv_heads = 2\nvocab_size = 50\nmax_seq_len = 5\n";
    modctx_model m;
    modctx_request r;
    DLTensor tokens;
    int64_t ids[2 * 5] = {0, 1, 2, 3, 49, 0, 1, 2, 3, 50};
    int64_t tshape[2] = {2, 5};
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    EXPECT(api->model_from_config_string(config, strlen(config), &m) == MODCTX_OK);
    EXPECT(m.arch == MODCTX_ARCH_TEXT && m.hidden_size == 8 && m.vocab_size == 50 && m.max_seq_len == 5);
    EXPECT(api->model_from_config("/nonexistent/modctx.toml", &m) == MODCTX_ERR_IO);
    memset(&tokens, 0, sizeof tokens);
    tokens.data = ids;
    tokens.device.device_type = kDLCPU;
    tokens.ndim = 2;
    tokens.dtype.code = kDLInt;
    tokens.dtype.bits = 64;
    tokens.dtype.lanes = 1;
    tokens.shape = tshape;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.tokens = &tokens;
    EXPECT(api->check_request(NULL, &m, &r, 0) == MODCTX_OK);
    EXPECT(api->check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES) == MODCTX_ERR_VALUE);
    EXPECT(strcmp(api->last_error(), "tokens values must be in [0, 50) (the model's vocab_size), found 50") == 0);
    ids[9] = 49;
    EXPECT(api->check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES) == MODCTX_OK);
  }

  /* A Joint-Decoder context, checked for a training forward. */
  EXPECT(api->builder_new(&b) == MODCTX_OK);
  EXPECT(api->builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS,
                                 tt_dlpack(prefix, kDLFloat, 32, 3, shape, NULL, &deleted)) == MODCTX_OK);
  {
    modctx_slice s = {4, 0, 0, MODCTX_SLICE_HAS_START};
    EXPECT(api->builder_set_output_slice(b, &s) == MODCTX_OK);
  }
  EXPECT(api->builder_build(b, &ctx) == MODCTX_OK);
  EXPECT(api->check_forward(ctx, 1, 0) == MODCTX_OK);
  EXPECT(api->check_forward(ctx, 1, 1) == MODCTX_ERR_KV_CACHE);
  EXPECT(strcmp(api->last_error(), "modality.output_slice is training-only; cannot be combined with kv_caches") == 0);
  EXPECT(strcmp(api->status_name(MODCTX_ERR_KV_CACHE), "MODCTX_ERR_KV_CACHE") == 0);
  EXPECT(api->context_describe(ctx, buf, sizeof buf, NULL) == MODCTX_OK);
  EXPECT(strcmp(buf, "ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cpu, output_slice=slice(4, None, None))") == 0);
  api->context_free(ctx);

  /* image_mask without image_features: the reference's second check. */
  EXPECT(api->builder_set_dlpack_versioned(b, MODCTX_FIELD_IMAGE_MASK,
                                           tt_dlpack_versioned(prefix, MODCTX_DLPACK_BOOL, 8, 2, mshape, NULL, 1, 0,
                                                               &deleted)) == MODCTX_OK);
  EXPECT(api->builder_build(b, &ctx) == MODCTX_ERR_IMAGE_MASK && ctx == NULL);
  EXPECT(strcmp(api->last_error(), "ModalityContext: image_mask requires image_features to be set") == 0);
  api->builder_free(b);
  EXPECT(deleted == 2);
  EXPECT(tt_live_allocations() == 0);
  EXPECT(api->version() != NULL && strchr(api->version(), '.') != NULL);
  dlclose(lib);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
