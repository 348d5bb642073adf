/* The C ABI, exercised from C99: every function, every status the reference
 * checks produce with their exact messages, DLPack ownership (a counting
 * deleter on every path), zero copy, and NULL for every pointer argument. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modctx.h"
#include "test_tensors.h"

static int failures = 0;
static int checks = 0;

#define EXPECT(cond)                                                     \
  do {                                                                   \
    ++checks;                                                            \
    if (!(cond)) {                                                       \
      ++failures;                                                        \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                    \
  } while (0)

#define EXPECT_STATUS(expr, want)                                                             \
  do {                                                                                        \
    modctx_status got_ = (expr);                                                              \
    ++checks;                                                                                 \
    if (got_ != (want)) {                                                                     \
      ++failures;                                                                             \
      fprintf(stderr, "%s:%d: FAILED: %s gave %s, wanted %s (last error: %s)\n", __FILE__, __LINE__, \
              #expr, modctx_status_name(got_), modctx_status_name(want), modctx_last_error());  \
    }                                                                                         \
  } while (0)

#define EXPECT_STR(got, want)                                                                           \
  do {                                                                                                  \
    const char *g_ = (got);                                                                             \
    ++checks;                                                                                           \
    if (!g_ || strcmp(g_, (want)) != 0) {                                                               \
      ++failures;                                                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #got,        \
              g_ ? g_ : "(null)", (want));                                                              \
    }                                                                                                   \
  } while (0)

static const char *const ROUTES =
    "ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
    "(mutually exclusive residual-stream routes)";
static const char *const IMAGE_MASK = "ModalityContext: image_mask requires image_features to be set";
static const char *const MODALITY_IDS =
    "ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
    "(routing without a residual extension is meaningless)";
static const char *const KEY_PADDING =
    "ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
    "(it masks the residual sequence; Cross-Attention uses image_mask)";

static float prefix_data[2 * 4 * 8];
static int64_t ids_data[2 * 10];
static uint8_t mask_data[2 * 10];

static void test_names_and_versions(void) {
  EXPECT_STR(modctx_status_name(MODCTX_OK), "MODCTX_OK");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_INVALID_ARGUMENT), "MODCTX_ERR_INVALID_ARGUMENT");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_ROUTES), "MODCTX_ERR_ROUTES");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_IMAGE_MASK), "MODCTX_ERR_IMAGE_MASK");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_MODALITY_IDS), "MODCTX_ERR_MODALITY_IDS");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_KEY_PADDING_MASK), "MODCTX_ERR_KEY_PADDING_MASK");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_FORWARD_INPUTS), "MODCTX_ERR_FORWARD_INPUTS");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_KV_CACHE), "MODCTX_ERR_KV_CACHE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_DTYPE), "MODCTX_ERR_DTYPE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_SHAPE), "MODCTX_ERR_SHAPE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_DEVICE), "MODCTX_ERR_DEVICE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_MISSING_FIELD), "MODCTX_ERR_MISSING_FIELD");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_UNSUPPORTED), "MODCTX_ERR_UNSUPPORTED");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_OUT_OF_MEMORY), "MODCTX_ERR_OUT_OF_MEMORY");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_INTERNAL), "MODCTX_ERR_INTERNAL");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_SLICE), "MODCTX_ERR_SLICE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_UNUSED_FIELD), "MODCTX_ERR_UNUSED_FIELD");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_VALUE), "MODCTX_ERR_VALUE");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_FORMAT), "MODCTX_ERR_FORMAT");
  EXPECT_STR(modctx_status_name(MODCTX_ERR_IO), "MODCTX_ERR_IO");
  EXPECT_STR(modctx_status_name((modctx_status)12345), "MODCTX_ERR_UNKNOWN");
  EXPECT_STR(modctx_status_name((modctx_status)-1), "MODCTX_ERR_UNKNOWN");

  EXPECT_STR(modctx_field_name(MODCTX_FIELD_INPUTS_EMBEDS), "inputs_embeds");
  EXPECT_STR(modctx_field_name(MODCTX_FIELD_KEY_PADDING_MASK), "key_padding_mask");
  EXPECT(modctx_field_name((modctx_field)6) == NULL);

  {
    const char *v = modctx_version();
    int major = -1, minor = -1, patch = -1;
    EXPECT(v != NULL && sscanf(v, "%d.%d.%d", &major, &minor, &patch) == 3);
  }
  EXPECT(modctx_abi_version() == MODCTX_ABI_VERSION);
  EXPECT(modctx_last_error() != NULL);
}

static void test_construction_checks(void) {
  struct {
    unsigned mask; /* bit i: field i set */
    modctx_status status;
    const char *message;
  } cases[] = {
      {0x00, MODCTX_OK, NULL},
      {0x01, MODCTX_OK, NULL},
      {0x02 | 0x10 | 0x20, MODCTX_OK, NULL},
      {0x04 | 0x08, MODCTX_OK, NULL},
      {0x01 | 0x02, MODCTX_ERR_ROUTES, NULL},
      {0x02 | 0x04, MODCTX_ERR_ROUTES, NULL},
      {0x01 | 0x04 | 0x08 | 0x10, MODCTX_ERR_ROUTES, NULL},
      {0x08, MODCTX_ERR_IMAGE_MASK, NULL},
      {0x08 | 0x10 | 0x20, MODCTX_ERR_IMAGE_MASK, NULL},
      {0x10, MODCTX_ERR_MODALITY_IDS, NULL},
      {0x04 | 0x10 | 0x20, MODCTX_ERR_MODALITY_IDS, NULL},
      {0x20, MODCTX_ERR_KEY_PADDING_MASK, NULL},
      {0x04 | 0x08 | 0x20, MODCTX_ERR_KEY_PADDING_MASK, NULL},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    modctx_builder *b = NULL;
    modctx_context *ctx = (modctx_context *)&cases; /* must be reset to NULL on failure */
    int deleted = 0, f;
    int expected_deletes = 0;
    EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
    for (f = 0; f < MODCTX_FIELD_COUNT; ++f) {
      if (cases[i].mask & (1u << f)) {
        int64_t shape[3] = {2, 4, 8};
        EXPECT_STATUS(modctx_builder_set_dlpack(b, (modctx_field)f,
                                                tt_dlpack(prefix_data, kDLFloat, 32, 3, shape, NULL, &deleted)),
                      MODCTX_OK);
        ++expected_deletes;
      }
    }
    EXPECT_STATUS(modctx_builder_build(b, &ctx), cases[i].status);
    switch (cases[i].status) {
      case MODCTX_ERR_ROUTES: EXPECT_STR(modctx_last_error(), ROUTES); break;
      case MODCTX_ERR_IMAGE_MASK: EXPECT_STR(modctx_last_error(), IMAGE_MASK); break;
      case MODCTX_ERR_MODALITY_IDS: EXPECT_STR(modctx_last_error(), MODALITY_IDS); break;
      case MODCTX_ERR_KEY_PADDING_MASK: EXPECT_STR(modctx_last_error(), KEY_PADDING); break;
      default: break;
    }
    if (cases[i].status == MODCTX_OK) {
      EXPECT(ctx != NULL);
    } else {
      EXPECT(ctx == NULL);
    }
    EXPECT(deleted == 0); /* the builder (and context) still hold them */
    modctx_builder_free(b);
    EXPECT(deleted == (ctx ? 0 : expected_deletes));
    modctx_context_free(ctx);
    EXPECT(deleted == expected_deletes);
  }
}

/* A context with prefix_embeds (2, 4, 8) float32 on CUDA 0 (metadata only),
 * modality_ids (2, 12) of the given dtype bits, and output slice 4:. */
static modctx_context *make_mot(int ids_code, int ids_bits, int *deleted) {
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  int64_t prefix_shape[3] = {2, 4, 8};
  int64_t ids_shape[2] = {2, 12};
  modctx_slice slice = {4, 0, 0, MODCTX_SLICE_HAS_START};
  DLManagedTensor *prefix = tt_dlpack(prefix_data, kDLFloat, 32, 3, prefix_shape, NULL, deleted);
  prefix->dl_tensor.device.device_type = kDLCUDA;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, prefix), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_MODALITY_IDS,
                                          tt_dlpack(ids_data, ids_code, ids_bits, 2, ids_shape, NULL, deleted)),
                MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_output_slice(b, &slice), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  modctx_builder_free(b);
  return ctx;
}

static void test_forward_checks(void) {
  int deleted = 0;
  modctx_context *mot = make_mot(kDLInt, 64, &deleted);
  modctx_context *mot32 = make_mot(kDLInt, 32, &deleted);
  modctx_context *empty = NULL;
  modctx_builder *b = NULL;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &empty), MODCTX_OK);
  modctx_builder_free(b);

  EXPECT_STATUS(modctx_check_forward(mot, 1, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_forward(NULL, 1, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_forward(empty, 1, 1), MODCTX_OK);
  EXPECT_STATUS(modctx_check_forward(NULL, 0, 0), MODCTX_ERR_FORWARD_INPUTS);
  EXPECT_STR(modctx_last_error(), "Transformer.forward requires exactly one of tokens or modality.inputs_embeds");
  EXPECT_STATUS(modctx_check_forward(mot, 0, 1), MODCTX_ERR_FORWARD_INPUTS);
  EXPECT_STATUS(modctx_check_forward(mot, 7, 1), MODCTX_ERR_KV_CACHE); /* any nonzero is "given" */
  EXPECT_STR(modctx_last_error(), "modality.output_slice is training-only; cannot be combined with kv_caches");
  EXPECT_STATUS(modctx_check_forward(mot32, 1, 0), MODCTX_ERR_DTYPE);
  EXPECT_STR(modctx_last_error(), "modality.modality_ids.dtype must be torch.long, got torch.int32");

  /* Success leaves the last message alone. */
  EXPECT_STATUS(modctx_check_forward(mot, 1, 0), MODCTX_OK);
  EXPECT_STR(modctx_last_error(), "modality.modality_ids.dtype must be torch.long, got torch.int32");

  modctx_context_free(mot);
  modctx_context_free(mot32);
  modctx_context_free(empty);
  EXPECT(deleted == 4);
}

static void test_describe(void) {
  int deleted = 0;
  modctx_context *mot = make_mot(kDLInt, 64, &deleted);
  const char *want =
      "ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cuda:0, output_slice=slice(4, None, None), "
      "modality_ids=Tensor[2, 12] int64 cpu)";
  char buf[256];
  char small[10];
  size_t len = 0;
  memset(small, 'x', sizeof small);
  EXPECT_STATUS(modctx_context_describe(mot, buf, sizeof buf, &len), MODCTX_OK);
  EXPECT_STR(buf, want);
  EXPECT(len == strlen(want));
  EXPECT_STATUS(modctx_context_describe(mot, NULL, 0, &len), MODCTX_OK); /* size query */
  EXPECT(len == strlen(want));
  EXPECT_STATUS(modctx_context_describe(mot, small, sizeof small, &len), MODCTX_OK); /* truncates */
  EXPECT_STR(small, "ModalityC");
  EXPECT(len == strlen(want));
  EXPECT_STATUS(modctx_context_describe(mot, buf, 1, NULL), MODCTX_OK);
  EXPECT(buf[0] == '\0');
  EXPECT_STATUS(modctx_context_describe(mot, NULL, 5, &len), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_describe(NULL, buf, sizeof buf, &len), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(buf[0] == '\0' && len == 0);
  modctx_context_free(mot);
  EXPECT(deleted == 2);
}

static void test_slices(void) {
  modctx_slice s = {-3, 0, 0, MODCTX_SLICE_HAS_START};
  int64_t start = 0, stop = 0, step = 0, count = 0;
  EXPECT_STATUS(modctx_slice_indices(&s, 10, &start, &stop, &step, &count), MODCTX_OK);
  EXPECT(start == 7 && stop == 10 && step == 1 && count == 3);
  s.flags = MODCTX_SLICE_HAS_STEP;
  s.step = -1;
  EXPECT_STATUS(modctx_slice_indices(&s, 10, &start, &stop, &step, &count), MODCTX_OK);
  EXPECT(start == 9 && stop == -1 && step == -1 && count == 10);
  s.step = 0;
  EXPECT_STATUS(modctx_slice_indices(&s, 10, &start, &stop, &step, &count), MODCTX_ERR_SLICE);
  EXPECT_STR(modctx_last_error(), "slice step cannot be zero");
  s.flags = 0;
  EXPECT_STATUS(modctx_slice_indices(&s, -1, &start, &stop, &step, &count), MODCTX_ERR_SLICE);
  EXPECT_STR(modctx_last_error(), "length should not be negative");
  s.flags = MODCTX_SLICE_HAS_STEP; /* step 0 and a negative length: the length is reported, as in CPython */
  EXPECT_STATUS(modctx_slice_indices(&s, -1, &start, &stop, &step, &count), MODCTX_ERR_SLICE);
  EXPECT_STR(modctx_last_error(), "length should not be negative");
  s.flags = 8;
  EXPECT_STATUS(modctx_slice_indices(&s, 1, &start, &stop, &step, &count), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_slice_indices(NULL, 1, &start, &stop, &step, &count), MODCTX_ERR_INVALID_ARGUMENT);
  s.flags = 0;
  EXPECT_STATUS(modctx_slice_indices(&s, 1, NULL, &stop, &step, &count), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_slice_indices(&s, 1, &start, NULL, &step, &count), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_slice_indices(&s, 1, &start, &stop, NULL, &count), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_slice_indices(&s, 1, &start, &stop, &step, NULL), MODCTX_ERR_INVALID_ARGUMENT);

  {
    /* Output slice round trip and unset. */
    modctx_builder *b = NULL;
    modctx_context *ctx = NULL;
    modctx_slice in = {1, -2, 3, MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STOP | MODCTX_SLICE_HAS_STEP};
    modctx_slice out;
    int has = -1;
    EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
    EXPECT_STATUS(modctx_builder_set_output_slice(b, &in), MODCTX_OK);
    EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
    EXPECT_STATUS(modctx_context_get_output_slice(ctx, &has, &out), MODCTX_OK);
    EXPECT(has == 1 && out.start == 1 && out.stop == -2 && out.step == 3 && out.flags == in.flags);
    modctx_context_free(ctx);
    in.flags = 0x10;
    EXPECT_STATUS(modctx_builder_set_output_slice(b, &in), MODCTX_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(modctx_builder_set_output_slice(b, NULL), MODCTX_OK);
    EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
    EXPECT_STATUS(modctx_context_get_output_slice(ctx, &has, &out), MODCTX_OK);
    EXPECT(has == 0 && out.flags == 0);
    modctx_context_free(ctx);
    modctx_builder_free(b);
  }
}

static void test_dlpack_round_trip(void) {
  int deleted = 0;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  DLManagedTensorVersioned *vout = NULL;
  int64_t shape[3] = {2, 4, 8};
  int64_t strides[3] = {64, 16, 2}; /* a strided view: every other float */
  static float storage[2 * 64];
  int has = -1;

  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_INPUTS_EMBEDS,
                                          tt_dlpack(storage, kDLFloat, 32, 3, shape, strides, &deleted)),
                MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  modctx_builder_free(b);
  EXPECT_STATUS(modctx_context_has(ctx, MODCTX_FIELD_INPUTS_EMBEDS, &has), MODCTX_OK);
  EXPECT(has == 1);
  EXPECT_STATUS(modctx_context_has(ctx, MODCTX_FIELD_PREFIX_EMBEDS, &has), MODCTX_OK);
  EXPECT(has == 0);

  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_INPUTS_EMBEDS, &out), MODCTX_OK);
  EXPECT(out != NULL && out->dl_tensor.data == (void *)storage); /* zero copy */
  EXPECT(out->dl_tensor.ndim == 3 && out->dl_tensor.shape[0] == 2 && out->dl_tensor.shape[2] == 8);
  EXPECT(out->dl_tensor.strides != NULL && out->dl_tensor.strides[0] == 64 && out->dl_tensor.strides[2] == 2);
  EXPECT(out->dl_tensor.dtype.code == kDLFloat && out->dl_tensor.dtype.bits == 32 && out->dl_tensor.dtype.lanes == 1);
  EXPECT(out->dl_tensor.device.device_type == kDLCPU && out->dl_tensor.byte_offset == 0);

  EXPECT_STATUS(modctx_context_get_dlpack_versioned(ctx, MODCTX_FIELD_INPUTS_EMBEDS, &vout), MODCTX_OK);
  EXPECT(vout != NULL && vout->version.major == 1 && (vout->flags & DLPACK_FLAG_BITMASK_READ_ONLY));
  EXPECT(vout->dl_tensor.data == (void *)storage);

  out->deleter(out);
  EXPECT(deleted == 0);
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_PREFIX_EMBEDS, &out), MODCTX_ERR_MISSING_FIELD);
  EXPECT(out == NULL);
  EXPECT_STR(modctx_last_error(), "modctx_context_get_dlpack: modality.prefix_embeds is not set");
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_INPUTS_EMBEDS, &out), MODCTX_OK);

  /* The exported tensors keep the memory alive after the context goes. */
  modctx_context_free(ctx);
  EXPECT(deleted == 0);
  out->deleter(out);
  EXPECT(deleted == 0);
  vout->deleter(vout);
  EXPECT(deleted == 1);
}

static void test_byte_offset_and_bool(void) {
  int deleted = 0;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  DLManagedTensor *mask;
  DLManagedTensorVersioned *features;
  int64_t fshape[3] = {2, 10, 1};
  int64_t mshape[2] = {2, 10};
  char buf[256];

  features = tt_dlpack_versioned(prefix_data, kDLBfloat, 16, 3, fshape, NULL, 1, 3, &deleted);
  features->dl_tensor.byte_offset = 6;
  features->flags = DLPACK_FLAG_BITMASK_READ_ONLY;
  mask = tt_dlpack(mask_data, MODCTX_DLPACK_BOOL, 8, 2, mshape, NULL, &deleted);
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack_versioned(b, MODCTX_FIELD_IMAGE_FEATURES, features), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_MASK, mask), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  EXPECT_STATUS(modctx_context_describe(ctx, buf, sizeof buf, NULL), MODCTX_OK);
  EXPECT_STR(buf, "ModalityContext(image_features=Tensor[2, 10, 1] bfloat16 cpu, image_mask=Tensor[2, 10] bool cpu)");
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_IMAGE_FEATURES, &out), MODCTX_OK);
  EXPECT(out->dl_tensor.data == (void *)((char *)prefix_data + 6)); /* byte_offset honoured */
  EXPECT(out->dl_tensor.dtype.code == kDLBfloat && out->dl_tensor.dtype.bits == 16);
  out->deleter(out);
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_IMAGE_MASK, &out), MODCTX_OK);
  EXPECT(out->dl_tensor.dtype.code == MODCTX_DLPACK_BOOL && out->dl_tensor.dtype.bits == 8);
  EXPECT(out->dl_tensor.data == (void *)mask_data);
  out->deleter(out);
  modctx_context_free(ctx);
  EXPECT(deleted == 0);
  modctx_builder_free(b);
  EXPECT(deleted == 2);
}

static int plain_released = 0;
static void plain_release(void *ctx) { plain_released += ctx ? *(int *)ctx : 100; }

static void test_plain_descriptor(void) {
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  int64_t shape[2] = {2, 10};
  int one = 1;
  modctx_tensor_desc d;
  char buf[256];
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.dtype = MODCTX_DTYPE_INT64;
  d.data = ids_data;
  d.ndim = 2;
  d.shape = shape;
  d.device_type = kDLROCM;
  d.device_id = 2;
  d.release = plain_release;
  d.release_ctx = &one;

  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_INPUTS_EMBEDS, &d), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_MODALITY_IDS, &d), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  EXPECT_STATUS(modctx_context_describe(ctx, buf, sizeof buf, NULL), MODCTX_OK);
  EXPECT_STR(buf, "ModalityContext(inputs_embeds=Tensor[2, 10] int64 hip:2, modality_ids=Tensor[2, 10] int64 hip:2)");
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_MODALITY_IDS, &out), MODCTX_OK);
  EXPECT(out->dl_tensor.device.device_type == kDLROCM && out->dl_tensor.device.device_id == 2);
  EXPECT(out->dl_tensor.strides[0] == 10 && out->dl_tensor.strides[1] == 1); /* full strides */
  out->deleter(out);
  modctx_builder_free(b);
  modctx_context_free(ctx);
  EXPECT(plain_released == 2);

  /* Failure paths release too. */
  d.dtype = (modctx_dtype)99;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "prefix_embeds: unknown modctx_dtype 99");
  EXPECT(plain_released == 3);
  d.dtype = MODCTX_DTYPE_FLOAT32;
  d.struct_size = 8;
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(plain_released == 3); /* too small to read the release pointer: it is not called */
  d.struct_size = sizeof d;
  EXPECT_STATUS(modctx_builder_set_tensor(NULL, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(plain_released == 4);
  /* A NULL release_ctx is passed back as NULL, exactly once, on success and failure. */
  d.release_ctx = NULL;
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_OK);
  EXPECT(plain_released == 4);
  EXPECT_STATUS(modctx_builder_clear(b, MODCTX_FIELD_PREFIX_EMBEDS), MODCTX_OK);
  EXPECT(plain_released == 104);
  d.ndim = -1;
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(plain_released == 204);
  d.ndim = 2;
  d.release = NULL;
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d), MODCTX_OK);
  modctx_builder_free(b);
  EXPECT(plain_released == 204);
}

static void test_replace_and_retain(void) {
  int deleted = 0;
  modctx_context *mot = make_mot(kDLInt, 64, &deleted);
  modctx_context *again = NULL, *changed = NULL;
  modctx_builder *b = NULL;
  int64_t shape[3] = {2, 4, 8};
  int has = 0;

  EXPECT_STATUS(modctx_context_retain(mot, &again), MODCTX_OK);
  EXPECT(again == mot);
  modctx_context_free(again);

  EXPECT_STATUS(modctx_builder_new_from_context(mot, &b), MODCTX_OK);
  /* Adding image_features beside prefix_embeds: the checks run again. */
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_FEATURES,
                                          tt_dlpack(prefix_data, kDLFloat, 32, 3, shape, NULL, &deleted)),
                MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &changed), MODCTX_ERR_ROUTES);
  EXPECT_STR(modctx_last_error(), ROUTES);
  EXPECT_STATUS(modctx_builder_clear(b, MODCTX_FIELD_IMAGE_FEATURES), MODCTX_OK);
  EXPECT(deleted == 1);
  EXPECT_STATUS(modctx_builder_clear(b, MODCTX_FIELD_PREFIX_EMBEDS), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &changed), MODCTX_ERR_MODALITY_IDS);
  EXPECT_STATUS(modctx_builder_clear(b, MODCTX_FIELD_MODALITY_IDS), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &changed), MODCTX_OK);
  EXPECT_STATUS(modctx_context_has(changed, MODCTX_FIELD_PREFIX_EMBEDS, &has), MODCTX_OK);
  EXPECT(has == 0);
  EXPECT_STATUS(modctx_context_has(mot, MODCTX_FIELD_PREFIX_EMBEDS, &has), MODCTX_OK);
  EXPECT(has == 1); /* the original is unchanged */
  EXPECT_STATUS(modctx_builder_clear(b, (modctx_field)6), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_clear(b, (modctx_field)-1), MODCTX_ERR_INVALID_ARGUMENT);
  modctx_builder_free(b);
  modctx_context_free(changed);
  EXPECT(deleted == 1);
  modctx_context_free(mot);
  EXPECT(deleted == 3);
}

static void test_apply_output_slice(void) {
  int deleted = 0, hidden_deleted = 0;
  modctx_context *mot = make_mot(kDLInt, 64, &deleted);
  static float h[2 * 12 * 8];
  int64_t shape[3] = {2, 12, 8};
  int64_t shape2[2] = {2, 12};
  DLManagedTensor *out = NULL;
  EXPECT_STATUS(modctx_context_apply_output_slice(mot, tt_dlpack(h, kDLFloat, 32, 3, shape, NULL, &hidden_deleted), &out),
                MODCTX_OK);
  EXPECT(out != NULL && out->dl_tensor.shape[1] == 8 && out->dl_tensor.data == (void *)(h + 4 * 8));
  EXPECT(hidden_deleted == 0);
  out->deleter(out);
  EXPECT(hidden_deleted == 1);
  EXPECT_STATUS(modctx_context_apply_output_slice(mot, tt_dlpack(h, kDLFloat, 32, 2, shape2, NULL, &hidden_deleted), &out),
                MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "too many indices for tensor of dimension 2");
  EXPECT(hidden_deleted == 2 && out == NULL);
  {
    /* The rank error comes before the step's (PyTorch's order). */
    modctx_builder *b = NULL;
    modctx_context *zero_step = NULL;
    modctx_slice s0 = {0, 0, 0, MODCTX_SLICE_HAS_STEP};
    modctx_builder_new(&b);
    modctx_builder_set_output_slice(b, &s0);
    modctx_builder_build(b, &zero_step);
    modctx_builder_free(b);
    EXPECT_STATUS(modctx_context_apply_output_slice(zero_step, tt_dlpack(h, kDLFloat, 32, 2, shape2, NULL, &hidden_deleted), &out),
                  MODCTX_ERR_SHAPE);
    EXPECT_STATUS(modctx_context_apply_output_slice(zero_step, tt_dlpack(h, kDLFloat, 32, 3, shape, NULL, &hidden_deleted), &out),
                  MODCTX_ERR_SLICE);
    EXPECT_STR(modctx_last_error(), "slice step cannot be zero");
    modctx_context_free(zero_step);
    EXPECT(hidden_deleted == 4 && out == NULL);
  }
  EXPECT_STATUS(modctx_context_apply_output_slice(NULL, tt_dlpack(h, kDLFloat, 32, 3, shape, NULL, &hidden_deleted), &out),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(hidden_deleted == 5);
  EXPECT_STATUS(modctx_context_apply_output_slice(mot, tt_dlpack(h, kDLFloat, 32, 3, shape, NULL, &hidden_deleted), NULL),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(hidden_deleted == 6);
  modctx_context_free(mot);
}

/* The view of a strided hidden state with a byte_offset, and of an empty one
 * given without strides: PyTorch's shape, strides and address, exactly. */
static modctx_context *sliced_context(const modctx_slice *s) {
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  if (s) EXPECT_STATUS(modctx_builder_set_output_slice(b, s), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  modctx_builder_free(b);
  return ctx;
}

static void test_apply_output_slice_layouts(void) {
  static float hs[128];
  int64_t shape[3] = {2, 6, 4}, strides[3] = {48, 8, 2}, empty_shape[3] = {2, 0, 3};
  int deleted = 0;
  const modctx_slice from_4 = {4, 0, 0, MODCTX_SLICE_HAS_START};
  const modctx_slice odd = {1, 0, 2, MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STEP};
  modctx_context *a = sliced_context(&from_4), *c = sliced_context(&odd), *none = sliced_context(NULL);
  DLManagedTensor *in, *out = NULL;

  /* h[:, 4:, :] of a (2, 6, 4) view with strides (48, 8, 2), 8 bytes in. */
  in = tt_dlpack(hs, kDLFloat, 32, 3, shape, strides, &deleted);
  in->dl_tensor.byte_offset = 8;
  EXPECT_STATUS(modctx_context_apply_output_slice(a, in, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data == (void *)(hs + 2 + 4 * 8) && out->dl_tensor.byte_offset == 0);
  EXPECT(out && out->dl_tensor.ndim == 3 && out->dl_tensor.shape[0] == 2 && out->dl_tensor.shape[1] == 2 &&
         out->dl_tensor.shape[2] == 4);
  EXPECT(out && out->dl_tensor.strides[0] == 48 && out->dl_tensor.strides[1] == 8 && out->dl_tensor.strides[2] == 2);
  EXPECT(out && out->dl_tensor.dtype.code == kDLFloat && out->dl_tensor.dtype.bits == 32 &&
         out->dl_tensor.dtype.lanes == 1 && out->dl_tensor.device.device_type == kDLCPU);
  if (out) out->deleter(out);
  EXPECT(deleted == 1);

  /* h[:, 1::2, :]: rows 1, 3, 5; the stride doubles. Pinned host memory comes back as kDLCPU. */
  in = tt_dlpack(hs, kDLFloat, 32, 3, shape, strides, &deleted);
  in->dl_tensor.byte_offset = 8;
  in->dl_tensor.device.device_type = kDLCUDAHost;
  in->dl_tensor.device.device_id = 3;
  EXPECT_STATUS(modctx_context_apply_output_slice(c, in, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data == (void *)(hs + 2 + 8) && out->dl_tensor.shape[1] == 3 &&
         out->dl_tensor.strides[1] == 16);
  EXPECT(out && out->dl_tensor.device.device_type == kDLCPU && out->dl_tensor.device.device_id == 0);
  if (out) out->deleter(out);
  EXPECT(deleted == 2);

  /* An empty hidden state without strides: LibTorch's contiguous strides (3, 3, 1). */
  in = tt_dlpack(hs, kDLFloat, 32, 3, empty_shape, NULL, &deleted);
  in->dl_tensor.device.device_type = kDLCUDA;
  in->dl_tensor.device.device_id = 1;
  EXPECT_STATUS(modctx_context_apply_output_slice(c, in, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.shape[1] == 0 && out->dl_tensor.strides[0] == 3 && out->dl_tensor.strides[1] == 6 &&
         out->dl_tensor.strides[2] == 1);
  EXPECT(out && out->dl_tensor.device.device_type == kDLCUDA && out->dl_tensor.device.device_id == 1);
  if (out) out->deleter(out);
  EXPECT(deleted == 3);

  /* A step so large that LibTorch's arithmetic would overflow selects one row;
   * modctx bounds the step to the length, as modctx::apply_output_slice does. */
  {
    const modctx_slice huge = {2, 0, INT64_MAX, MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STEP};
    modctx_context *h = sliced_context(&huge);
    in = tt_dlpack(hs, kDLFloat, 32, 3, shape, strides, &deleted);
    EXPECT_STATUS(modctx_context_apply_output_slice(h, in, &out), MODCTX_OK);
    EXPECT(out && out->dl_tensor.data == (void *)(hs + 2 * 8) && out->dl_tensor.shape[1] == 1 &&
           out->dl_tensor.strides[1] == 8 * 6);
    if (out) out->deleter(out);
    modctx_context_free(h);
  }
  EXPECT(deleted == 4);

  /* No output slice: the hidden state as it is, byte_offset folded into the address. */
  in = tt_dlpack(hs, kDLFloat, 32, 3, shape, strides, &deleted);
  in->dl_tensor.byte_offset = 8;
  EXPECT_STATUS(modctx_context_apply_output_slice(none, in, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data == (void *)(hs + 2) && out->dl_tensor.byte_offset == 0 &&
         out->dl_tensor.shape[1] == 6 && out->dl_tensor.strides[1] == 8);
  if (out) out->deleter(out);
  EXPECT(deleted == 5);

  /* A descriptor the import refuses is refused here, with the import's message, and released. */
  in = tt_dlpack(hs, kDLFloat, 32, 3, shape, strides, &deleted);
  in->dl_tensor.byte_offset = 2;
  EXPECT_STATUS(modctx_context_apply_output_slice(none, in, &out), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "hidden: byte_offset 2 is not a multiple of the element size 4");
  EXPECT(out == NULL && deleted == 6);
  modctx_context_free(a);
  modctx_context_free(c);
  modctx_context_free(none);
}

/* Contexts make their LibTorch tensors on first use. Two contexts built from
 * one builder, used after the builder is gone, in any order: both see the
 * caller's memory, and the tensor is released once, after the last of them. */
static void test_contexts_share_tensors_made_late(void) {
  static float p[2 * 4 * 8];
  int64_t shape[3] = {2, 4, 8};
  int deleted = 0;
  char text[256];
  modctx_builder *b = NULL, *again = NULL;
  modctx_context *first = NULL, *second = NULL, *third = NULL;
  DLManagedTensor *out = NULL;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS,
                                          tt_dlpack(p, kDLFloat, 32, 3, shape, NULL, &deleted)),
                MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &first), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &second), MODCTX_OK);
  modctx_builder_free(b);
  EXPECT_STATUS(modctx_check_forward(second, 1, 0), MODCTX_OK); /* no tensor needed */
  EXPECT_STATUS(modctx_context_get_dlpack(second, MODCTX_FIELD_PREFIX_EMBEDS, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data == (void *)p && out->dl_tensor.shape[2] == 8);
  modctx_context_free(second);
  EXPECT(deleted == 0); /* the export and the first context still hold it */
  /* A builder from a context that never made its tensors, and a third context from it. */
  EXPECT_STATUS(modctx_builder_new_from_context(first, &again), MODCTX_OK);
  modctx_context_free(first);
  EXPECT_STATUS(modctx_builder_build(again, &third), MODCTX_OK);
  modctx_builder_free(again);
  EXPECT_STATUS(modctx_context_describe(third, text, sizeof text, NULL), MODCTX_OK);
  EXPECT_STR(text, "ModalityContext(prefix_embeds=Tensor[2, 4, 8] float32 cpu)");
  EXPECT(deleted == 0);
  if (out) out->deleter(out);
  EXPECT(deleted == 0);
  modctx_context_free(third);
  EXPECT(deleted == 1);
}

/* The table is append-only: its first entries never move. */
static void test_api_layout(void) {
  size_t p = sizeof(void (*)(void));
  size_t base = offsetof(modctx_api, builder_new);
  EXPECT(offsetof(modctx_api, served_abi_version) == 0);
  EXPECT(offsetof(modctx_api, struct_size) == 4);
  EXPECT(base == 8);
  EXPECT(offsetof(modctx_api, builder_free) == base + 1 * p);
  EXPECT(offsetof(modctx_api, builder_set_dlpack) == base + 2 * p);
  EXPECT(offsetof(modctx_api, builder_set_dlpack_versioned) == base + 3 * p);
  EXPECT(offsetof(modctx_api, builder_clear) == base + 4 * p);
  EXPECT(offsetof(modctx_api, builder_set_output_slice) == base + 5 * p);
  EXPECT(offsetof(modctx_api, builder_build) == base + 6 * p);
  EXPECT(offsetof(modctx_api, context_free) == base + 7 * p);
  EXPECT(offsetof(modctx_api, context_has) == base + 8 * p);
  EXPECT(offsetof(modctx_api, context_get_dlpack) == base + 9 * p);
  EXPECT(offsetof(modctx_api, context_get_dlpack_versioned) == base + 10 * p);
  EXPECT(offsetof(modctx_api, context_get_output_slice) == base + 11 * p);
  EXPECT(offsetof(modctx_api, context_describe) == base + 12 * p);
  EXPECT(offsetof(modctx_api, check_forward) == base + 13 * p);
  EXPECT(offsetof(modctx_api, slice_indices) == base + 14 * p);
  EXPECT(offsetof(modctx_api, last_error) == base + 15 * p);
  EXPECT(offsetof(modctx_api, status_name) == base + 16 * p);
  EXPECT(offsetof(modctx_api, version) == base + 17 * p);
  EXPECT(offsetof(modctx_api, abi_version) == base + 18 * p);
  EXPECT(offsetof(modctx_api, builder_new_from_context) == base + 19 * p);
  EXPECT(offsetof(modctx_api, builder_set_tensor) == base + 20 * p);
  EXPECT(offsetof(modctx_api, context_retain) == base + 21 * p);
  EXPECT(offsetof(modctx_api, context_apply_output_slice) == base + 22 * p);
  EXPECT(offsetof(modctx_api, field_name) == base + 23 * p);
  EXPECT(offsetof(modctx_api, check_model) == base + 24 * p);
  EXPECT(offsetof(modctx_api, arch_name) == base + 25 * p);
  EXPECT(offsetof(modctx_api, compose) == base + 26 * p);
  EXPECT(offsetof(modctx_api, context_residual_length) == base + 27 * p);
  EXPECT(offsetof(modctx_api, context_compose_residual) == base + 28 * p);
  EXPECT(offsetof(modctx_api, context_save_safetensors) == base + 29 * p);
  EXPECT(offsetof(modctx_api, context_load_safetensors) == base + 30 * p);
  EXPECT(offsetof(modctx_api, context_load_safetensors_from_memory) == base + 31 * p);
  EXPECT(sizeof(modctx_api) == base + 32 * p);
  EXPECT(MODCTX_ARCH_TEXT == 0 && MODCTX_ARCH_JOINT_DECODER == 1 && MODCTX_ARCH_CROSS_ATTENTION == 2 &&
         MODCTX_ARCH_MOT == 3 && MODCTX_ARCH_MOMA == 4);
  /* The fixed values of the enums and structs users code against. */
  EXPECT(MODCTX_FIELD_INPUTS_EMBEDS == 0 && MODCTX_FIELD_PREFIX_EMBEDS == 1 && MODCTX_FIELD_IMAGE_FEATURES == 2 &&
         MODCTX_FIELD_IMAGE_MASK == 3 && MODCTX_FIELD_MODALITY_IDS == 4 && MODCTX_FIELD_KEY_PADDING_MASK == 5);
  EXPECT(MODCTX_SLICE_HAS_START == 1 && MODCTX_SLICE_HAS_STOP == 2 && MODCTX_SLICE_HAS_STEP == 4);
  EXPECT(sizeof(modctx_status) == sizeof(int) && sizeof(modctx_field) == sizeof(int));
  EXPECT(offsetof(modctx_slice, stop) == 8 && offsetof(modctx_slice, step) == 16 && offsetof(modctx_slice, flags) == 24);
}

static void test_get_api(void) {
  const modctx_api *api = modctx_get_api(MODCTX_ABI_VERSION);
  EXPECT(api != NULL);
  if (api) {
    EXPECT(api->served_abi_version == MODCTX_ABI_VERSION && api->struct_size == sizeof(modctx_api));
    EXPECT(api->builder_new == modctx_builder_new);
    EXPECT(api->field_name == modctx_field_name);
    EXPECT(api->abi_version() == MODCTX_ABI_VERSION);
  }
  EXPECT(modctx_get_api(1) == api);
  EXPECT(modctx_get_api(0) == NULL);
  EXPECT(modctx_get_api(MODCTX_ABI_VERSION + 1) == NULL);
  EXPECT_STR(modctx_last_error(), "modctx_get_api: ABI version 2 is not served (this library serves 1 to 1)");
}

static modctx_model model_of(modctx_arch arch, int64_t hidden) {
  modctx_model m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.arch = arch;
  m.hidden_size = hidden;
  m.num_image_tokens = -1;
  m.text_dtype = -1;
  return m;
}

static void test_model_check(void) {
  int deleted = 0;
  modctx_context *mot = make_mot(kDLInt, 64, &deleted); /* prefix (2, 4, 8) on cuda:0, ids (2, 12) on cpu, 4: */
  modctx_model m = model_of(MODCTX_ARCH_MOT, 8);
  int64_t tokens[2] = {2, 8};
  int64_t short_tokens[2] = {2, 6};
  EXPECT_STATUS(modctx_check_model(mot, &m, tokens, 2, 0, 0), MODCTX_ERR_DEVICE); /* everything else holds */
  EXPECT_STR(modctx_last_error(), "modality.modality_ids is on cpu, but modality.prefix_embeds is on cuda:0");
  EXPECT_STATUS(modctx_check_model(mot, &m, short_tokens, 2, 0, 0), MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "modality.modality_ids shape (2, 12) does not match residual shape (2, 10)");
  EXPECT_STATUS(modctx_check_model(mot, &m, tokens, 2, 1, 0), MODCTX_ERR_KV_CACHE);
  EXPECT_STATUS(modctx_check_model(mot, &m, NULL, 0, 0, 0), MODCTX_ERR_FORWARD_INPUTS);
  m.arch = MODCTX_ARCH_JOINT_DECODER;
  EXPECT_STATUS(modctx_check_model(mot, &m, tokens, 2, 0, 0), MODCTX_ERR_UNUSED_FIELD);
  EXPECT_STR(modctx_last_error(), "modality.modality_ids is not used by a joint_decoder model");
  m.arch = MODCTX_ARCH_CROSS_ATTENTION;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_MISSING_FIELD);
  EXPECT_STR(modctx_last_error(), "Cross-Attention block fired but modality.image_features is None. "
                                  "Cross-Attention models require image_features in the ModalityContext.");
  m.arch = MODCTX_ARCH_MOMA;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_MISSING_FIELD);
  EXPECT_STR(modctx_last_error(), "MoMa model requires modality.modality_ids (got None). Build the ModalityContext "
                                  "via MoMaStrategy or set modality_ids explicitly.");
  m.arch = MODCTX_ARCH_TEXT;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 1, 0, 0), MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "tokens must have shape (B, T), got (2,)");
  /* Bad models and arguments. */
  m.hidden_size = 0;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "model: hidden_size must be > 0, got 0");
  m.hidden_size = 8;
  m.arch = (modctx_arch)9;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  m.arch = MODCTX_ARCH_TEXT;
  m.text_dtype = 77;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  m.text_dtype = MODCTX_DTYPE_BFLOAT16;
  m.struct_size = 8;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  m.struct_size = sizeof m;
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, -1, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens, 2, 0, 0x80), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_check_model(NULL, NULL, tokens, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_arch_name(MODCTX_ARCH_CROSS_ATTENTION), "cross_attention");
  EXPECT(modctx_arch_name((modctx_arch)5) == NULL);
  modctx_context_free(mot);
  EXPECT(deleted == 2);
}

static void test_compose_and_residual(void) {
  static float image[2 * 4 * 2];
  static uint8_t frames[2 * 2] = {1, 0, 1, 1};
  static float text[2 * 3 * 2];
  int64_t ishape[3] = {2, 4, 2};
  int64_t fshape[2] = {2, 2};
  int64_t tshape[3] = {2, 3, 2};
  int64_t ids[2] = {2, 3};
  int deleted = 0, i;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  modctx_slice s;
  int has = 0;
  int64_t len = 0;
  modctx_model m = model_of(MODCTX_ARCH_MOT, 2);
  for (i = 0; i < 2 * 4 * 2; ++i) image[i] = (float)i;
  for (i = 0; i < 2 * 3 * 2; ++i) text[i] = 100.0f + (float)i;

  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, kDLCPU, 0,
                               tt_dlpack(frames, MODCTX_DLPACK_BOOL, 8, 2, fshape, NULL, &deleted), &ctx),
                MODCTX_OK);
  EXPECT(deleted == 1); /* the frame mask was only read */
  EXPECT_STATUS(modctx_check_model(ctx, &m, ids, 2, 0, MODCTX_CHECK_MODALITY_ID_VALUES), MODCTX_OK);
  EXPECT_STATUS(modctx_context_get_output_slice(ctx, &has, &s), MODCTX_OK);
  EXPECT(has == 1 && s.flags == MODCTX_SLICE_HAS_START && s.start == 4);
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_MODALITY_IDS, &out), MODCTX_OK);
  if (out) {
    const int64_t *v = (const int64_t *)out->dl_tensor.data;
    EXPECT(out->dl_tensor.shape[0] == 2 && out->dl_tensor.shape[1] == 7);
    EXPECT(v[0] == 0 && v[3] == 0 && v[4] == 1 && v[6] == 1 && v[7] == 0 && v[13] == 1);
    out->deleter(out);
  }
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_KEY_PADDING_MASK, &out), MODCTX_OK);
  if (out) {
    const uint8_t *v = (const uint8_t *)out->dl_tensor.data;
    const uint8_t want[14] = {1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    EXPECT(out->dl_tensor.dtype.code == MODCTX_DLPACK_BOOL && memcmp(v, want, sizeof want) == 0);
    out->deleter(out);
  }
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_PREFIX_EMBEDS, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data == (void *)image); /* held, not copied */
  if (out) out->deleter(out);

  EXPECT_STATUS(modctx_context_residual_length(ctx, 3, &len), MODCTX_OK);
  EXPECT(len == 7);
  EXPECT_STATUS(modctx_context_compose_residual(ctx, tt_dlpack(text, kDLFloat, 32, 3, tshape, NULL, &deleted), &out),
                MODCTX_OK);
  if (out) {
    const float *v = (const float *)out->dl_tensor.data;
    EXPECT(out->dl_tensor.shape[1] == 7 && v[0] == 0.0f && v[7] == 7.0f && v[8] == 100.0f && v[14] == 8.0f);
    out->deleter(out);
  }
  EXPECT(deleted == 2);
  modctx_context_free(ctx);
  EXPECT(deleted == 3);

  /* The reference's error for frames that do not divide the image tokens; both tensors consumed. */
  fshape[1] = 3;
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_CROSS_ATTENTION, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids,
                               kDLCPU, 0, tt_dlpack(frames, MODCTX_DLPACK_BOOL, 8, 2, fshape, NULL, &deleted), &ctx),
                MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "_visual_token_mask: num_visual_tokens (4) is not a multiple of num_frames (3); "
                                  "the per-frame expansion assumes frame-contiguous visual tokens.");
  EXPECT(ctx == NULL && deleted == 5);
  /* modality_ids on a device this LibTorch cannot allocate on. */
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOMA, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, kDLCUDA,
                               0, NULL, &ctx),
                MODCTX_ERR_UNSUPPORTED);
  EXPECT(deleted == 6);
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_TEXT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, kDLCPU, 0,
                               NULL, &ctx),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 7);
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, NULL, ids, kDLCPU, 0,
                               tt_dlpack(frames, MODCTX_DLPACK_BOOL, 8, 2, fshape, NULL, &deleted), &ctx),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 8);
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), NULL, kDLCPU, 0,
                               NULL, &ctx),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, 99, 0,
                               NULL, &ctx),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, kDLCPU, 0,
                               NULL, NULL),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 11);
  EXPECT_STATUS(modctx_context_residual_length(NULL, 3, &len), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_residual_length(ctx, 3, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_compose_residual(NULL, tt_dlpack(text, kDLFloat, 32, 3, tshape, NULL, &deleted), &out),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 12);
}

/* A safetensors file written by hand: 8-byte little-endian header length, JSON, data. */
static size_t handmade_file(char *buf, const char *header, const void *data, size_t data_len) {
  size_t n = strlen(header), i;
  for (i = 0; i < 8; ++i) buf[i] = (char)((n >> (8 * i)) & 0xff);
  memcpy(buf + 8, header, n);
  memcpy(buf + 8 + n, data, data_len);
  return 8 + n + data_len;
}

static void test_safetensors(void) {
  static float prefix[2 * 4 * 8];
  static int64_t ids[2 * 7];
  int64_t pshape[3] = {2, 4, 8};
  int64_t ishape[2] = {2, 7};
  const char *path = "capi_test_context.safetensors";
  int deleted = 0, i;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL, *loaded = NULL;
  modctx_forward_args fw, back;
  modctx_slice s = {4, 0, 0, MODCTX_SLICE_HAS_START};
  char d1[512], d2[512];
  DLManagedTensor *out = NULL;
  char file[1024];
  size_t len;
  FILE *f;
  for (i = 0; i < 2 * 4 * 8; ++i) prefix[i] = (float)i / 4.0f;
  for (i = 0; i < 2 * 7; ++i) ids[i] = i % 7 < 4 ? 0 : 1;

  modctx_builder_new(&b);
  modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, tt_dlpack(prefix, kDLFloat, 32, 3, pshape, NULL, &deleted));
  modctx_builder_set_dlpack(b, MODCTX_FIELD_MODALITY_IDS, tt_dlpack(ids, kDLInt, 64, 2, ishape, NULL, &deleted));
  modctx_builder_set_output_slice(b, &s);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  modctx_builder_free(b);

  memset(&fw, 0, sizeof fw);
  fw.struct_size = sizeof fw;
  fw.present = 1;
  fw.has_tokens = 1;
  fw.tokens_ndim = 2;
  fw.tokens_shape[0] = 2;
  fw.tokens_shape[1] = 3;
  EXPECT_STATUS(modctx_context_save_safetensors(ctx, path, &fw), MODCTX_OK);
  memset(&back, 0x5a, sizeof back);
  back.struct_size = sizeof back;
  EXPECT_STATUS(modctx_context_load_safetensors(path, &loaded, &back), MODCTX_OK);
  EXPECT(back.present == 1 && back.has_tokens == 1 && back.tokens_ndim == 2 && back.tokens_shape[0] == 2 &&
         back.tokens_shape[1] == 3 && back.has_kv_caches == 0);
  modctx_context_describe(ctx, d1, sizeof d1, NULL);
  modctx_context_describe(loaded, d2, sizeof d2, NULL);
  EXPECT_STR(d2, d1);
  EXPECT_STATUS(modctx_context_get_dlpack(loaded, MODCTX_FIELD_PREFIX_EMBEDS, &out), MODCTX_OK);
  EXPECT(out && out->dl_tensor.data != (void *)prefix && memcmp(out->dl_tensor.data, prefix, sizeof prefix) == 0);
  if (out) out->deleter(out);
  remove(path); /* the mapping outlives the name */
  EXPECT_STATUS(modctx_context_get_dlpack(loaded, MODCTX_FIELD_MODALITY_IDS, &out), MODCTX_OK);
  EXPECT(out && memcmp(out->dl_tensor.data, ids, sizeof ids) == 0);
  if (out) out->deleter(out);
  modctx_context_free(loaded);

  /* Without forward arguments, then from memory. */
  EXPECT_STATUS(modctx_context_save_safetensors(ctx, path, NULL), MODCTX_OK);
  f = fopen(path, "rb");
  len = f ? fread(file, 1, sizeof file, f) : 0;
  if (f) fclose(f);
  EXPECT(len > 8 && len < sizeof file);
  EXPECT_STATUS(modctx_context_load_safetensors_from_memory(file, len, &loaded, &back), MODCTX_OK);
  EXPECT(back.present == 0 && back.has_tokens == 0);
  memset(file, 0, sizeof file); /* the context owns a copy */
  EXPECT_STATUS(modctx_context_get_dlpack(loaded, MODCTX_FIELD_MODALITY_IDS, &out), MODCTX_OK);
  EXPECT(out && memcmp(out->dl_tensor.data, ids, sizeof ids) == 0);
  if (out) out->deleter(out);
  modctx_context_free(loaded);
  remove(path);
  modctx_context_free(ctx);
  EXPECT(deleted == 2);

  /* Files that are not contexts. */
  EXPECT_STATUS(modctx_context_load_safetensors("/nonexistent/ctx.safetensors", &loaded, NULL), MODCTX_ERR_IO);
  EXPECT_STR(modctx_last_error(), "/nonexistent/ctx.safetensors: cannot open: No such file or directory");
  EXPECT_STATUS(modctx_context_load_safetensors_from_memory("\x05\0\0\0\0\0\0\0{}", 10, &loaded, NULL), MODCTX_ERR_FORMAT);
  EXPECT(loaded == NULL);
  {
    /* Valid safetensors, invalid context: the reference's construction message. */
    const char *two_routes =
        "{\"prefix_embeds\":{\"dtype\":\"F32\",\"shape\":[1,1,1],\"data_offsets\":[0,4]},"
        "\"inputs_embeds\":{\"dtype\":\"F32\",\"shape\":[1,1,1],\"data_offsets\":[4,8]}}";
    float two[2] = {1.0f, 2.0f};
    len = handmade_file(file, two_routes, two, sizeof two);
    EXPECT_STATUS(modctx_context_load_safetensors_from_memory(file, len, &loaded, NULL), MODCTX_ERR_ROUTES);
    EXPECT_STR(modctx_last_error(), ROUTES);
  }
  /* Saving what cannot be saved. */
  {
    modctx_context *cuda = make_mot(kDLInt, 64, &deleted); /* prefix on cuda:0 */
    EXPECT_STATUS(modctx_context_save_safetensors(cuda, path, NULL), MODCTX_ERR_UNSUPPORTED);
    fw.struct_size = 4;
    EXPECT_STATUS(modctx_context_save_safetensors(cuda, path, &fw), MODCTX_ERR_INVALID_ARGUMENT);
    fw.struct_size = sizeof fw;
    modctx_context_free(cuda);
  }
  EXPECT_STATUS(modctx_context_save_safetensors(NULL, path, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  {
    modctx_context *empty = NULL;
    modctx_builder_new(&b);
    modctx_builder_build(b, &empty);
    modctx_builder_free(b);
    EXPECT_STATUS(modctx_context_save_safetensors(empty, NULL, NULL), MODCTX_ERR_INVALID_ARGUMENT);
    EXPECT_STR(modctx_last_error(), "modctx_context_save_safetensors: path is NULL");
    modctx_context_free(empty);
  }
  EXPECT_STATUS(modctx_context_load_safetensors(NULL, &loaded, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_load_safetensors(path, NULL, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_load_safetensors_from_memory(NULL, 5, &loaded, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_load_safetensors_from_memory(file, len, NULL, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  back.struct_size = 0;
  EXPECT_STATUS(modctx_context_load_safetensors_from_memory(file, len, &loaded, &back), MODCTX_ERR_INVALID_ARGUMENT);
}

/* NULL for every pointer argument of every function: a status and a message. */
static void test_nulls(void) {
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  DLManagedTensorVersioned *vout = NULL;
  modctx_slice s;
  int has = 0;
  int deleted = 0;
  int64_t shape[1] = {3};
  EXPECT_STATUS(modctx_builder_new(NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_builder_new: out is NULL");
  EXPECT_STATUS(modctx_builder_new_from_context(NULL, &b), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(b == NULL);
  EXPECT_STATUS(modctx_builder_new_from_context(NULL, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  modctx_builder_free(NULL);
  modctx_context_free(NULL);
  EXPECT_STATUS(modctx_builder_set_dlpack(NULL, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_set_dlpack_versioned(NULL, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_set_tensor(NULL, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_builder_set_dlpack: tensor is NULL");
  EXPECT_STATUS(modctx_builder_set_dlpack_versioned(b, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  /* NULL builder with a real tensor: the tensor is still consumed. */
  EXPECT_STATUS(modctx_builder_set_dlpack(NULL, MODCTX_FIELD_PREFIX_EMBEDS,
                                          tt_dlpack(prefix_data, kDLFloat, 32, 1, shape, NULL, &deleted)),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_builder_set_dlpack: builder is NULL");
  EXPECT(deleted == 1);
  EXPECT_STATUS(modctx_builder_set_dlpack_versioned(NULL, MODCTX_FIELD_PREFIX_EMBEDS,
                                                    tt_dlpack_versioned(prefix_data, kDLFloat, 32, 1, shape, NULL, 1, 0, &deleted)),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 2);
  /* Unknown field: consumed too. */
  EXPECT_STATUS(modctx_builder_set_dlpack(b, (modctx_field)6, tt_dlpack(prefix_data, kDLFloat, 32, 1, shape, NULL, &deleted)),
                MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_builder_set_dlpack: unknown field 6 (expected 0 to 5)");
  EXPECT(deleted == 3);
  EXPECT_STATUS(modctx_builder_clear(NULL, MODCTX_FIELD_PREFIX_EMBEDS), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_set_output_slice(NULL, &s), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_build(NULL, &ctx), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_build(b, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_new_from_context(ctx, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  {
    modctx_context *other = ctx; /* must be reset to NULL */
    EXPECT_STATUS(modctx_context_retain(NULL, &other), MODCTX_ERR_INVALID_ARGUMENT);
    EXPECT(other == NULL);
  }
  modctx_context_free(ctx);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  EXPECT_STATUS(modctx_context_retain(ctx, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_has(NULL, MODCTX_FIELD_PREFIX_EMBEDS, &has), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_has(ctx, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_has(ctx, (modctx_field)77, &has), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_dlpack(NULL, MODCTX_FIELD_PREFIX_EMBEDS, &out), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_dlpack(ctx, (modctx_field)-5, &out), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_dlpack_versioned(NULL, MODCTX_FIELD_PREFIX_EMBEDS, &vout), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_dlpack_versioned(ctx, MODCTX_FIELD_PREFIX_EMBEDS, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_output_slice(NULL, &has, &s), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_output_slice(ctx, NULL, &s), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_get_output_slice(ctx, &has, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_apply_output_slice(ctx, NULL, &out), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_context_apply_output_slice(ctx, NULL, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(modctx_status_name(MODCTX_OK) != NULL);
  modctx_context_free(ctx);
  modctx_builder_free(b);
}

int main(void) {
  /* tools/run-tests.sh's valgrind probe: start-up only (libraries loaded, constructors run). */
  if (getenv("MODCTX_TEST_EXIT_AT_START")) return 0;
  test_names_and_versions();
  test_construction_checks();
  test_forward_checks();
  test_describe();
  test_slices();
  test_dlpack_round_trip();
  test_byte_offset_and_bool();
  test_plain_descriptor();
  test_replace_and_retain();
  test_apply_output_slice();
  test_apply_output_slice_layouts();
  test_contexts_share_tensors_made_late();
  test_model_check();
  test_safetensors();
  test_compose_and_residual();
  test_api_layout();
  test_get_api();
  test_nulls();
  if (tt_live_allocations() != 0) {
    ++failures;
    fprintf(stderr, "FAILED: %d test tensors were never released\n", tt_live_allocations());
  }
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
