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
  EXPECT_STR(modctx_status_name(MODCTX_ERR_LENGTH), "MODCTX_ERR_LENGTH");
  EXPECT_STR(modctx_status_name((modctx_status)21), "MODCTX_ERR_UNKNOWN");
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
  /* ABI version 2, appended */
  EXPECT(offsetof(modctx_api, status_class_of) == base + 32 * p);
  EXPECT(offsetof(modctx_api, check_request) == base + 33 * p);
  EXPECT(offsetof(modctx_api, model_from_config) == base + 34 * p);
  EXPECT(offsetof(modctx_api, model_from_config_string) == base + 35 * p);
  EXPECT(sizeof(modctx_api) == base + 36 * p);
  /* The versioned structs: version 1's fields never move; version 2's start at version 1's end. */
  EXPECT(offsetof(modctx_model, arch) == 4 && offsetof(modctx_model, hidden_size) == 8 &&
         offsetof(modctx_model, num_modalities) == 16 && offsetof(modctx_model, num_image_tokens) == 24 &&
         offsetof(modctx_model, text_dtype) == 32);
  EXPECT(MODCTX_MODEL_SIZE_V1 == 40 && offsetof(modctx_model, vocab_size) == 40 &&
         offsetof(modctx_model, max_seq_len) == 48 && offsetof(modctx_model, cross_attention_blocks) == 56 &&
         offsetof(modctx_model, modalities) == 64 && sizeof(modctx_model) == 192);
  EXPECT(offsetof(modctx_forward_args, tokens_shape) == 16 && offsetof(modctx_forward_args, has_kv_caches) == 272);
  EXPECT(MODCTX_FORWARD_ARGS_SIZE_V1 == 280 && offsetof(modctx_forward_args, kv_capacity) == 288 &&
         offsetof(modctx_forward_args, kv_batch) == 296 && offsetof(modctx_forward_args, kv_state_present) == 304 &&
         sizeof(modctx_forward_args) == 312);
  EXPECT(offsetof(modctx_request, kv_caches) == 4 && offsetof(modctx_request, tokens) == 8 &&
         offsetof(modctx_request, doc_ids) == 8 + p && offsetof(modctx_request, kv_seq_len) == 8 + 2 * p &&
         offsetof(modctx_request, kv_batch) == 24 + 2 * p && sizeof(modctx_request) == 32 + 2 * p);
  EXPECT(MODCTX_CHECK_MODALITY_ID_VALUES == 1u && MODCTX_CHECK_TOKEN_ID_VALUES == 2u);
  EXPECT(MODCTX_KV_NONE == 0 && MODCTX_KV_GIVEN == 1 && MODCTX_KV_STATE == 2);
  EXPECT(MODCTX_CLASS_OK == 0 && MODCTX_CLASS_REQUEST == 1 && MODCTX_CLASS_SERVER == 2 &&
         sizeof(modctx_status_class) == sizeof(int) && sizeof(modctx_kv_caches) == sizeof(int));
  EXPECT(MODCTX_ERR_LENGTH == 20);
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
    EXPECT(api->check_model == modctx_check_model && api->context_load_safetensors_from_memory ==
                                                         modctx_context_load_safetensors_from_memory);
    EXPECT(api->status_class_of == modctx_status_class_of && api->check_request == modctx_check_request &&
           api->model_from_config == modctx_model_from_config &&
           api->model_from_config_string == modctx_model_from_config_string);
  }
  EXPECT(modctx_get_api(1) == api); /* version 1's table is the prefix of the same table */
  EXPECT(modctx_get_api(2) == api);
  EXPECT(modctx_get_api(0) == NULL);
  EXPECT(modctx_get_api(MODCTX_ABI_VERSION + 1) == NULL);
  EXPECT_STR(modctx_last_error(), "modctx_get_api: ABI version 3 is not served (this library serves 1 to 2)");
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

/* ------------------------------------------------------------------ ABI version 2 */

static void test_status_classes(void) {
  int s;
  for (s = MODCTX_OK; s <= MODCTX_ERR_LENGTH; ++s) {
    modctx_status_class want;
    switch ((modctx_status)s) {
      case MODCTX_OK: want = MODCTX_CLASS_OK; break;
      case MODCTX_ERR_INVALID_ARGUMENT: /* the caller passed it */
      case MODCTX_ERR_UNSUPPORTED:      /* this build cannot serve it */
      case MODCTX_ERR_OUT_OF_MEMORY:
      case MODCTX_ERR_INTERNAL:
      case MODCTX_ERR_IO:               /* a file the server could not read */
        want = MODCTX_CLASS_SERVER;
        break;
      default: want = MODCTX_CLASS_REQUEST; break; /* ROUTES ... FORMAT, LENGTH: the request's */
    }
    ++checks;
    if (modctx_status_class_of((modctx_status)s) != want) {
      ++failures;
      fprintf(stderr, "%s:%d: FAILED: class of %s is %d, wanted %d\n", __FILE__, __LINE__,
              modctx_status_name((modctx_status)s), (int)modctx_status_class_of((modctx_status)s), (int)want);
    }
  }
  EXPECT(modctx_status_class_of(MODCTX_ERR_SHAPE) == MODCTX_CLASS_REQUEST);
  EXPECT(modctx_status_class_of(MODCTX_ERR_FORMAT) == MODCTX_CLASS_REQUEST);
  EXPECT(modctx_status_class_of(MODCTX_ERR_LENGTH) == MODCTX_CLASS_REQUEST);
  EXPECT(modctx_status_class_of(MODCTX_ERR_IO) == MODCTX_CLASS_SERVER);
  /* Unknown values are the server's. */
  EXPECT(modctx_status_class_of((modctx_status)21) == MODCTX_CLASS_SERVER);
  EXPECT(modctx_status_class_of((modctx_status)-1) == MODCTX_CLASS_SERVER);
  EXPECT(modctx_status_class_of((modctx_status)0x7fffffff) == MODCTX_CLASS_SERVER);
  EXPECT(modctx_status_class_of((modctx_status)(-0x7fffffff - 1)) == MODCTX_CLASS_SERVER);
}

/* A borrowed CPU tensor (a request's token ids or doc_ids). data NULL: metadata only. */
static DLTensor borrowed(void *data, int code, int bits, int ndim, int64_t *shape) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.ndim = ndim;
  t.dtype.code = (uint8_t)code;
  t.dtype.bits = (uint8_t)bits;
  t.dtype.lanes = 1;
  t.shape = shape;
  return t;
}

static modctx_request request_of(const DLTensor *tokens) {
  modctx_request r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.tokens = tokens;
  return r;
}

/* A text model of hidden size 8 with the fields a config adds. */
static modctx_model text_model(int64_t vocab_size, int64_t max_seq_len) {
  modctx_model m = model_of(MODCTX_ARCH_TEXT, 8);
  m.vocab_size = vocab_size;
  m.max_seq_len = max_seq_len;
  return m;
}

/* A context composed by the reference's strategy for arch: image tokens (2, 4, 2), text (2, 3). */
static modctx_context *composed(modctx_arch arch) {
  static float image[2 * 4 * 2];
  int64_t ishape[3] = {2, 4, 2};
  int64_t ids[2] = {2, 3};
  static int deleted = 0; /* counted when the context goes, after this returns */
  modctx_context *ctx = NULL;
  EXPECT_STATUS(modctx_compose(arch, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids, kDLCPU, 0, NULL,
                               &ctx),
                MODCTX_OK);
  return ctx;
}

/* The version-1 struct (struct_size up to text_dtype) is still accepted by
 * modctx_check_model and modctx_check_request, and what follows it is not read. */
static void test_model_struct_growth(void) {
  int64_t tokens_shape[2] = {2, 40};
  DLTensor tokens = borrowed(NULL, kDLInt, 64, 2, tokens_shape);
  modctx_request r = request_of(&tokens);
  modctx_model m = text_model(10, 16); /* vocab 10, 16 positions: (2, 40) is too long */
  void *v1;
  m.cross_attention_blocks = -1;
  strcpy(m.modalities, "a,,b"); /* malformed: refused when read */
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: model->modalities \"a,,b\" has an empty name");
  strcpy(m.modalities, "");
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_LENGTH);
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens_shape, 2, 0, 0), MODCTX_ERR_LENGTH);
  /* The same struct declared as version 1: max_seq_len and the rest are not read. */
  strcpy(m.modalities, "a,,b");
  m.struct_size = (uint32_t)MODCTX_MODEL_SIZE_V1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens_shape, 2, 0, 0), MODCTX_OK);
  m.arch = MODCTX_ARCH_CROSS_ATTENTION; /* blocks -1 (none fire) is not read: a block fires */
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_MISSING_FIELD);
  m.struct_size = sizeof m;
  strcpy(m.modalities, "");
  m.max_seq_len = 0;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK); /* no block fires */
  /* Exactly a version-1 struct in memory (an old caller's): nothing past it is touched (ASan). */
  v1 = malloc(MODCTX_MODEL_SIZE_V1);
  if (v1) {
    modctx_model old = m;
    old.struct_size = (uint32_t)MODCTX_MODEL_SIZE_V1;
    old.arch = MODCTX_ARCH_TEXT;
    memcpy(v1, &old, MODCTX_MODEL_SIZE_V1);
    EXPECT_STATUS(modctx_check_request(NULL, (const modctx_model *)v1, &r, 0), MODCTX_OK);
    EXPECT_STATUS(modctx_check_model(NULL, (const modctx_model *)v1, tokens_shape, 2, 0, 0), MODCTX_OK);
    free(v1);
  }
  /* Smaller than version 1: refused. */
  m.struct_size = (uint32_t)MODCTX_MODEL_SIZE_V1 - 1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: model->struct_size 39 is smaller than modctx_model (40)");
  EXPECT_STATUS(modctx_check_model(NULL, &m, tokens_shape, 2, 0, 0), MODCTX_ERR_INVALID_ARGUMENT);
  /* A struct between the versions: the fields it covers are read. */
  m = text_model(10, 16);
  m.struct_size = (uint32_t)offsetof(modctx_model, cross_attention_blocks);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_LENGTH);
  m.struct_size = (uint32_t)offsetof(modctx_model, max_seq_len);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
}

/* Whole requests through C, end to end: each rule at its boundary both ways. */
static void test_request_checks(void) {
  int64_t shape16[2] = {2, 16}, shape17[2] = {2, 17}, shape12[2] = {2, 12}, shape13[2] = {2, 13};
  int64_t shape6[2] = {2, 6}, shape7[2] = {2, 7}, shape1[2] = {2, 1}, shape3[2] = {2, 3};
  int64_t ids_shape[2] = {2, 3}, doc_shape[2] = {2, 3}, bad_doc_shape[2] = {2, 4}, flat[1] = {6};
  int64_t ids[6] = {0, 5, 99, 1, 2, 3};
  int32_t ids32[6] = {0, 5, 99, 1, 2, 3};
  int64_t docs[6] = {0, 0, 1, 0, 1, 1};
  modctx_model m = text_model(100, 16);
  DLTensor t;
  DLTensor d;
  modctx_request r;
  modctx_context *joint = composed(MODCTX_ARCH_JOINT_DECODER); /* prefix (2, 4, 2), kpm (2, 7), slice 4: */
  modctx_context *mot = composed(MODCTX_ARCH_MOT);             /* the same and modality_ids (2, 7) */

  /* The RoPE budget: exactly max_seq_len positions run, one more does not. */
  t = borrowed(NULL, kDLInt, 64, 2, shape16);
  r = request_of(&t);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  t.shape = shape17;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_LENGTH);
  EXPECT_STR(modctx_last_error(),
             "sequence of 17 positions exceeds the model's max_seq_len 16 (the length of its RoPE table)");
  /* With the caches' fill. */
  r.kv_caches = MODCTX_KV_STATE;
  r.kv_seq_len = 4;
  r.kv_capacity = 64;
  r.kv_batch = 2;
  t.shape = shape12;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  t.shape = shape13;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_LENGTH);
  EXPECT_STR(modctx_last_error(), "KV caches at position 4 plus 13 new positions exceed the model's max_seq_len 16 "
                                  "(the length of its RoPE table)");
  /* The caches' room and batch. */
  r.kv_capacity = 10;
  t.shape = shape6;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  t.shape = shape7;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_KV_CACHE);
  EXPECT_STR(modctx_last_error(), "kv_caches hold 4 of 10 positions; 7 new positions do not fit");
  t.shape = shape1;
  r.kv_batch = 3;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_KV_CACHE);
  EXPECT_STR(modctx_last_error(), "kv_caches have batch size 3, but tokens has batch size 2");
  r.kv_batch = 2;
  r.kv_seq_len = 11; /* a state that cannot exist: the caller's mistake */
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(modctx_status_class_of(MODCTX_ERR_INVALID_ARGUMENT) == MODCTX_CLASS_SERVER);
  /* MODCTX_KV_GIVEN ignores the state's fields. */
  r.kv_caches = MODCTX_KV_GIVEN;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  /* ... and the training-only fields still clash with caches (the reference's forward check). */
  EXPECT_STATUS(modctx_check_request(joint, &m, &r, 0), MODCTX_ERR_KV_CACHE);
  EXPECT_STR(modctx_last_error(), "modality.output_slice is training-only; cannot be combined with kv_caches");

  /* Joint-Decoder: the budget is over N + T. */
  r = request_of(&t);
  t.shape = shape3;
  m = text_model(100, 7);
  m.arch = MODCTX_ARCH_JOINT_DECODER;
  m.hidden_size = 2;
  EXPECT_STATUS(modctx_check_request(joint, &m, &r, 0), MODCTX_OK);
  m.max_seq_len = 6;
  EXPECT_STATUS(modctx_check_request(joint, &m, &r, 0), MODCTX_ERR_LENGTH);
  /* MoT: each modality counts from 0, split at the model's image tokens. */
  m.arch = MODCTX_ARCH_MOT;
  m.num_image_tokens = 4;
  m.max_seq_len = 4;
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_OK);
  m.max_seq_len = 3;
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_ERR_LENGTH);
  EXPECT_STR(modctx_last_error(), "MoT image stream of 4 positions exceeds the model's max_seq_len 3 "
                                  "(each modality counts its positions from 0)");
  /* MoT's modalities, given by name. */
  m.max_seq_len = 0;
  strcpy(m.modalities, "image,text");
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_OK);
  strcpy(m.modalities, "image,video");
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "MoTBlock.forward: streams keys ['image', 'text'] do not match construction-time "
                                  "modalities ['image', 'video']");
  strcpy(m.modalities, "image,text,video"); /* num_modalities 0: the three names */
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_ERR_SHAPE);
  m.num_modalities = 2; /* two for three names: an impossible model */
  EXPECT_STATUS(modctx_check_request(mot, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  strcpy(m.modalities, "");
  m.num_modalities = 0;

  /* doc_ids: over the residual (B, N + T); not with MoT; not with KV caches. */
  d = borrowed(docs, kDLInt, 64, 2, bad_doc_shape);
  r.doc_ids = &d;
  m = text_model(100, 16);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "doc_ids shape (2, 4) does not match residual shape (2, 3)");
  d.shape = doc_shape;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  r.kv_caches = MODCTX_KV_GIVEN;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_KV_CACHE);
  EXPECT_STR(modctx_last_error(), "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an "
                                  "incorrect causal mask).");
  r.kv_caches = MODCTX_KV_NONE;
  {
    int64_t residual[2] = {2, 7};
    modctx_model mm = model_of(MODCTX_ARCH_MOT, 2);
    d.shape = residual;
    d.data = NULL; /* described only */
    EXPECT_STATUS(modctx_check_request(mot, &mm, &r, 0), MODCTX_ERR_UNUSED_FIELD);
    EXPECT_STR(modctx_last_error(), "doc_ids is not used by a mot model");
    mm.arch = MODCTX_ARCH_MOMA;
    EXPECT_STATUS(modctx_check_request(mot, &mm, &r, 0), MODCTX_OK);
    d.device.device_type = kDLCUDA; /* one device for all, the request's tensors too */
    EXPECT_STATUS(modctx_check_request(mot, &mm, &r, 0), MODCTX_ERR_DEVICE);
    EXPECT_STR(modctx_last_error(), "doc_ids is on cuda:0, but modality.prefix_embeds is on cpu");
    d.device.device_type = kDLCPU;
    d.data = docs;
  }
  r.doc_ids = NULL;

  /* The token ids' dtype: what nn.Embedding takes. */
  t = borrowed(ids, kDLInt, 64, 2, ids_shape);
  r = request_of(&t);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  t.dtype.bits = 32;
  t.data = ids32;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  t.dtype.code = kDLFloat;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_DTYPE);
  EXPECT_STR(modctx_last_error(),
             "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got torch.float32");
  t.dtype.code = kDLInt;
  t.dtype.bits = 16;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_DTYPE);
  t.dtype.code = MODCTX_DLPACK_BOOL;
  t.dtype.bits = 8;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_DTYPE);
  t.dtype.code = kDLInt;
  t.dtype.bits = 64;
  t.data = ids;
  t.ndim = 1;
  t.shape = flat;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_SHAPE);
  EXPECT_STR(modctx_last_error(), "tokens must have shape (B, T), got (6,)");
  t.ndim = 2;
  t.shape = ids_shape;

  /* Token id values: vocab_size - 1 runs, vocab_size does not (asked for by name). */
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_OK); /* max 99 */
  m.vocab_size = 99;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK); /* values not read unless asked */
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_VALUE);
  EXPECT_STR(modctx_last_error(), "tokens values must be in [0, 99) (the model's vocab_size), found 99");
  EXPECT(modctx_status_class_of(MODCTX_ERR_VALUE) == MODCTX_CLASS_REQUEST);
  m.vocab_size = 100;
  t.data = ids32;
  t.dtype.bits = 32;
  ids32[3] = -1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_VALUE);
  EXPECT_STR(modctx_last_error(), "tokens values must be in [0, 100) (the model's vocab_size), found -1");
  ids32[3] = 1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_OK);
  {
    /* A strided view: only the elements it covers are read (the 99s are skipped). */
    int64_t strided[8] = {1, 99, 2, 99, 3, 99, 4, 99};
    int64_t shape2[2] = {2, 2}, strides[2] = {4, 2};
    DLTensor v = borrowed(strided, kDLInt, 64, 2, shape2);
    modctx_request rv = request_of(&v);
    m.vocab_size = 5;
    v.strides = strides;
    EXPECT_STATUS(modctx_check_request(NULL, &m, &rv, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_OK);
    v.byte_offset = 8; /* now the view starts at the first 99 */
    EXPECT_STATUS(modctx_check_request(NULL, &m, &rv, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_VALUE);
    m.vocab_size = 100;
  }
  /* Without data, or off the host, values cannot be checked: the server's problem. */
  t.data = NULL;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_UNSUPPORTED);
  EXPECT(modctx_status_class_of(MODCTX_ERR_UNSUPPORTED) == MODCTX_CLASS_SERVER);
  t.data = ids32;
  t.device.device_type = kDLCUDA;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_UNSUPPORTED);
  t.device.device_type = kDLCPU;
  /* A shape alone (modctx_check_model) has no values. */
  EXPECT_STATUS(modctx_check_model(NULL, &m, ids_shape, 2, 0, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_UNSUPPORTED);
  EXPECT_STR(modctx_last_error(), "tokens are given as a shape only; their values were not checked");
  /* The modality_ids value check through a request too. */
  {
    modctx_model mm = model_of(MODCTX_ARCH_MOMA, 2);
    t.shape = shape3;
    t.data = NULL;
    EXPECT_STATUS(modctx_check_request(mot, &mm, &r, MODCTX_CHECK_MODALITY_ID_VALUES | MODCTX_CHECK_TOKEN_ID_VALUES),
                  MODCTX_OK); /* no vocab_size: no token check */
    mm.num_modalities = 1;
    EXPECT_STATUS(modctx_check_request(mot, &mm, &r, MODCTX_CHECK_MODALITY_ID_VALUES), MODCTX_ERR_VALUE);
  }
  /* Cross-Attention: blocks that fire need image_features; with none, nothing is required. */
  m = text_model(0, 0);
  m.arch = MODCTX_ARCH_CROSS_ATTENTION;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_MISSING_FIELD);
  m.cross_attention_blocks = 3;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_MISSING_FIELD);
  m.cross_attention_blocks = -1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  /* No tokens: the reference's first forward check. */
  r.tokens = NULL;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_FORWARD_INPUTS);

  /* Arguments. */
  r = request_of(&t);
  EXPECT_STATUS(modctx_check_request(NULL, NULL, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: model is NULL");
  EXPECT_STATUS(modctx_check_request(NULL, &m, NULL, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: request is NULL");
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 4), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: unknown value_checks bits 0x4");
  r.kv_caches = (modctx_kv_caches)3;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_check_request: request->kv_caches 3 is not MODCTX_KV_NONE (0), "
                                  "MODCTX_KV_GIVEN (1) or MODCTX_KV_STATE (2)");
  r.kv_caches = MODCTX_KV_NONE;
  r.struct_size = sizeof r - 1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(strstr(modctx_last_error(), "request->struct_size") != NULL);
  r.struct_size = sizeof r;
  t.ndim = 33;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "tokens: ndim 33 is out of range [0, 32]");
  t.ndim = 2;
  t.dtype.code = 200;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "tokens: unknown DLPack dtype code 200");
  t.dtype.code = kDLInt;
  d = borrowed(docs, kDLInt, 64, 2, doc_shape);
  d.device.device_type = (DLDeviceType)99;
  r.doc_ids = &d;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "doc_ids: unknown DLPack device type 99");
  modctx_context_free(joint);
  modctx_context_free(mot);
}

/* Borrowed, not consumed: the deleter of a managed tensor whose DLTensor a
 * request points at never runs, on success or failure; nothing is written. */
static void test_borrowed_tensors(void) {
  int64_t ids[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3};
  int deleted = 0, i;
  modctx_model m = text_model(5, 16);
  DLManagedTensor *tokens = tt_dlpack(ids, kDLInt, 64, 2, shape, NULL, &deleted);
  DLManagedTensor *docs = tt_dlpack(ids, kDLInt, 64, 2, shape, NULL, &deleted);
  modctx_request r = request_of(&tokens->dl_tensor);
  r.doc_ids = &docs->dl_tensor;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES), MODCTX_ERR_VALUE);
  docs->dl_tensor.shape[1] = -1;
  EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "doc_ids: shape[1] is -1 (sizes must be >= 0)");
  docs->dl_tensor.shape[1] = 3;
  EXPECT_STATUS(modctx_check_request(NULL, NULL, &r, 0), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(deleted == 0);
  for (i = 0; i < 6; ++i) EXPECT(ids[i] == i + 1);
  EXPECT(tokens->dl_tensor.shape[0] == 2 && tokens->dl_tensor.data == (void *)ids);
  tokens->deleter(tokens);
  docs->deleter(docs);
  EXPECT(deleted == 2);
}

/* A model from its own config: a file and a string. */
static const char *const MOT_CONFIG =
    "# a small MoT model\n"
    "[model]\n"
    "dim = 64\n"
    "n_layers = 4\n"
    "n_heads = 4\nn_kv_heads = 4\n"
    "vocab_size = 1000\n"
    "max_seq_len = 80\n"
    "\n"
    "[vision_encoder]\n"
    "type = \"random\"\n"
    "feature_dim = 32\n"
    "num_tokens = 16\n"
    "\n"
    "[vlm]\n"
    "arch = \"mot\"\n"
    "max_text_len = 64\n"
    "\n"
    "[train]\n"
    "mixed_precision = \"bf16\"\n";

static void test_config(void) {
  const char *path = "capi_test_config.toml";
  const char *text_config = "[model]\ndim = 32\nn_heads = 4\nn_kv_heads = 4\nvocab_size = 100\nmax_seq_len = 16\n";
  modctx_model m, v1;
  FILE *f = fopen(path, "wb");
  EXPECT(f != NULL);
  if (!f) return;
  fputs(MOT_CONFIG, f);
  fclose(f);

  memset(&m, 0x5a, sizeof m);
  m.struct_size = sizeof m;
  EXPECT_STATUS(modctx_model_from_config(path, &m), MODCTX_OK);
  EXPECT(m.struct_size == sizeof m);
  EXPECT(m.arch == MODCTX_ARCH_MOT && m.hidden_size == 64 && m.vocab_size == 1000 && m.max_seq_len == 80);
  EXPECT(m.num_image_tokens == 16 && m.num_modalities == 2 && m.text_dtype == MODCTX_DTYPE_BFLOAT16);
  EXPECT(m.cross_attention_blocks == 0);
  EXPECT_STR(m.modalities, "image,text");
  {
    /* The model checks a request: a MoT context of 16 image tokens, text up to 64. */
    static float image[1 * 16 * 64];
    int64_t ishape[3] = {1, 16, 64};
    int64_t ids[2] = {1, 64}, long_ids[2] = {1, 81};
    int deleted = 0;
    modctx_context *ctx = NULL;
    DLTensor t = borrowed(NULL, kDLInt, 64, 2, ids);
    modctx_request r = request_of(&t);
    EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), ids,
                                 kDLCPU, 0, NULL, &ctx),
                  MODCTX_OK);
    EXPECT_STATUS(modctx_check_request(ctx, &m, &r, 0), MODCTX_OK);
    modctx_context_free(ctx);
    /* 81 text positions: the text stream overflows the RoPE table. */
    EXPECT_STATUS(modctx_compose(MODCTX_ARCH_MOT, tt_dlpack(image, kDLFloat, 32, 3, ishape, NULL, &deleted), long_ids,
                                 kDLCPU, 0, NULL, &ctx),
                  MODCTX_OK);
    t.shape = long_ids;
    EXPECT_STATUS(modctx_check_request(ctx, &m, &r, 0), MODCTX_ERR_LENGTH);
    modctx_context_free(ctx);
    EXPECT(deleted == 2);
  }

  /* A version-1 struct: only its fields are written (the bytes after it stay). */
  memset(&v1, 0x5a, sizeof v1);
  v1.struct_size = (uint32_t)MODCTX_MODEL_SIZE_V1;
  EXPECT_STATUS(modctx_model_from_config(path, &v1), MODCTX_OK);
  EXPECT(v1.arch == MODCTX_ARCH_MOT && v1.hidden_size == 64 && v1.num_image_tokens == 16);
  EXPECT(v1.vocab_size == 0x5a5a5a5a5a5a5a5aLL && (unsigned char)v1.modalities[0] == 0x5a);
  v1.struct_size = (uint32_t)MODCTX_MODEL_SIZE_V1 - 8;
  EXPECT_STATUS(modctx_model_from_config(path, &v1), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_model_from_config: out->struct_size 32 is smaller than modctx_model (40)");
  remove(path);

  /* From a string: a text model. */
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  EXPECT_STATUS(modctx_model_from_config_string(text_config, strlen(text_config), &m), MODCTX_OK);
  EXPECT(m.arch == MODCTX_ARCH_TEXT && m.hidden_size == 32 && m.vocab_size == 100 && m.max_seq_len == 16);
  EXPECT(m.num_image_tokens < 0 && m.text_dtype == MODCTX_DTYPE_BFLOAT16 && m.cross_attention_blocks == 0 && m.modalities[0] == '\0');
  {
    int64_t shape16[2] = {2, 16}, shape17[2] = {2, 17};
    DLTensor t = borrowed(NULL, kDLInt, 64, 2, shape16);
    modctx_request r = request_of(&t);
    EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_OK);
    t.shape = shape17;
    EXPECT_STATUS(modctx_check_request(NULL, &m, &r, 0), MODCTX_ERR_LENGTH);
  }
  /* Only len bytes are read: the text past them (here a broken line) is not. */
  {
    char buf[128];
    size_t n = strlen(text_config);
    memcpy(buf, text_config, n);
    strcpy(buf + n, "dim = \"oops");
    EXPECT_STATUS(modctx_model_from_config_string(buf, n, &m), MODCTX_OK);
    EXPECT_STATUS(modctx_model_from_config_string(buf, strlen(buf), &m), MODCTX_ERR_FORMAT);
  }
  /* Configs that cannot be used: a message naming the key; *out unchanged. */
  {
    const char *bad = "[model]\ndim = \"big\"\n";
    modctx_model before = m;
    EXPECT_STATUS(modctx_model_from_config_string(bad, strlen(bad), &m), MODCTX_ERR_FORMAT);
    EXPECT(strstr(modctx_last_error(), "<config>") != NULL && strstr(modctx_last_error(), "model.dim") != NULL);
    EXPECT(memcmp(&before, &m, sizeof m) == 0);
    EXPECT(modctx_status_class_of(MODCTX_ERR_FORMAT) == MODCTX_CLASS_REQUEST);
  }
  /* Names the struct cannot carry: a comma, or more than its 127 bytes. */
  {
    const char *comma = "[model]\nn_heads = 4\nn_kv_heads = 4\ndim = 32\n[vision_encoder]\n"
                        "[vlm]\narch = \"mot\"\nmot_modalities = [\"image\", \"text\", \"a,b\"]\n";
    modctx_model before = m;
    EXPECT_STATUS(modctx_model_from_config_string(comma, strlen(comma), &m), MODCTX_ERR_UNSUPPORTED);
    EXPECT_STR(modctx_last_error(),
               "modctx_model_from_config_string: the modality name \"a,b\" holds a comma "
               "(modctx_model.modalities separates names with commas)");
    EXPECT(memcmp(&before, &m, sizeof m) == 0);
    char long_config[512];
    snprintf(long_config, sizeof long_config,
             "[model]\nn_heads = 4\nn_kv_heads = 4\ndim = 32\n[vision_encoder]\n[vlm]\narch = \"mot\"\n"
             "mot_modalities = [\"image\", \"text\", \"%0100d\", \"%0100d\"]\n", 1, 2);
    EXPECT_STATUS(modctx_model_from_config_string(long_config, strlen(long_config), &m), MODCTX_ERR_UNSUPPORTED);
    EXPECT(strstr(modctx_last_error(), "do not fit modctx_model.modalities (127 bytes)") != NULL);
  }
  EXPECT_STATUS(modctx_model_from_config_string("", 0, &m), MODCTX_OK); /* every default: a text model */
  EXPECT(m.arch == MODCTX_ARCH_TEXT && m.hidden_size == 4096 && m.vocab_size == 32000 && m.max_seq_len == 2048);
  EXPECT_STATUS(modctx_model_from_config("/nonexistent/modctx/train.toml", &m), MODCTX_ERR_IO);
  EXPECT(strstr(modctx_last_error(), "/nonexistent/modctx/train.toml") != NULL);
  /* Arguments. */
  EXPECT_STATUS(modctx_model_from_config(NULL, &m), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_model_from_config: path is NULL");
  EXPECT_STATUS(modctx_model_from_config(path, NULL), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(modctx_model_from_config_string(NULL, 3, &m), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT_STR(modctx_last_error(), "modctx_model_from_config_string: text (with len > 0) is NULL");
  EXPECT_STATUS(modctx_model_from_config_string(NULL, 0, &m), MODCTX_OK);
  EXPECT_STATUS(modctx_model_from_config_string(text_config, strlen(text_config), NULL), MODCTX_ERR_INVALID_ARGUMENT);
}

/* The KV caches' state saved with a context and loaded back; a version-1
 * modctx_forward_args still saves and loads (without the state). */
static void test_forward_args_kv_state(void) {
  const char *path = "capi_test_kv.safetensors";
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL, *loaded = NULL;
  modctx_forward_args fw, back;
  unsigned char v1[sizeof(modctx_forward_args)];
  modctx_forward_args *old = (modctx_forward_args *)v1;
  EXPECT_STATUS(modctx_builder_new(&b), MODCTX_OK);
  EXPECT_STATUS(modctx_builder_build(b, &ctx), MODCTX_OK);
  modctx_builder_free(b);
  memset(&fw, 0, sizeof fw);
  fw.struct_size = sizeof fw;
  fw.present = 1;
  fw.has_tokens = 1;
  fw.tokens_ndim = 2;
  fw.tokens_shape[0] = 2;
  fw.tokens_shape[1] = 1;
  fw.kv_state_present = 1; /* implies has_kv_caches */
  fw.kv_seq_len = 37;
  fw.kv_capacity = 1024;
  fw.kv_batch = 2;
  EXPECT_STATUS(modctx_context_save_safetensors(ctx, path, &fw), MODCTX_OK);
  memset(&back, 0x5a, sizeof back);
  back.struct_size = sizeof back;
  EXPECT_STATUS(modctx_context_load_safetensors(path, &loaded, &back), MODCTX_OK);
  EXPECT(back.present == 1 && back.has_kv_caches == 1 && back.kv_state_present == 1 && back.kv_seq_len == 37 &&
         back.kv_capacity == 1024 && back.kv_batch == 2 && back.tokens_shape[1] == 1);
  modctx_context_free(loaded);
  /* A version-1 struct: loaded without the state, nothing written past it. */
  memset(v1, 0x5a, sizeof v1);
  old->struct_size = (uint32_t)MODCTX_FORWARD_ARGS_SIZE_V1;
  EXPECT_STATUS(modctx_context_load_safetensors(path, &loaded, old), MODCTX_OK);
  EXPECT(old->present == 1 && old->has_kv_caches == 1 && old->has_tokens == 1);
  EXPECT(v1[MODCTX_FORWARD_ARGS_SIZE_V1] == 0x5a && v1[sizeof v1 - 1] == 0x5a);
  modctx_context_free(loaded);
  /* ... and saves without it: the state fields past struct_size are not read. */
  old->kv_state_present = 1;
  old->kv_seq_len = -5;
  old->has_kv_caches = 0;
  EXPECT_STATUS(modctx_context_save_safetensors(ctx, path, old), MODCTX_OK);
  EXPECT_STATUS(modctx_context_load_safetensors(path, &loaded, &back), MODCTX_OK);
  EXPECT(back.present == 1 && back.has_kv_caches == 0 && back.kv_state_present == 0);
  modctx_context_free(loaded);
  old->struct_size = (uint32_t)MODCTX_FORWARD_ARGS_SIZE_V1 - 8;
  EXPECT_STATUS(modctx_context_load_safetensors(path, &loaded, old), MODCTX_ERR_INVALID_ARGUMENT);
  EXPECT(loaded == NULL);
  remove(path);
  modctx_context_free(ctx);
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
  test_status_classes();
  test_model_struct_growth();
  test_request_checks();
  test_borrowed_tensors();
  test_config();
  test_forward_args_kv_state();
  if (tt_live_allocations() != 0) {
    ++failures;
    fprintf(stderr, "FAILED: %d test tensors were never released\n", tt_live_allocations());
  }
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
