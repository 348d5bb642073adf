/*
 * joint_decoder.c: modctx from C, top to bottom.
 *
 * A Joint-Decoder vision-language model prepends image tokens to the text
 * and computes the loss on the text positions only. Its ModalityContext
 * holds:
 *   prefix_embeds     (B, N, D) float32: the projected image tokens
 *   key_padding_mask  (B, N + T) bool:   which positions are real
 *   output_slice      slice(N, None, None): the LM head sees the text only
 *
 * This program
 *   1. wraps memory it owns as DLPack tensors (modctx copies nothing),
 *   2. builds the context (the reference's construction checks run),
 *   3. checks it against the model and the forward arguments,
 *   4. prints describe(),
 *   5. makes two mistakes on purpose and prints the status and message
 *      (modctx_last_error()),
 *   6. slices a final hidden state for the LM head, without a copy,
 *   7. frees everything and shows each tensor was released exactly once.
 *
 * Build and run (after `meson setup build && ninja -C build`):
 *   cc -std=c99 -Iinclude examples/c/joint_decoder.c -Lbuild/capi -lmodctx \
 *      -Wl,-rpath,$PWD/build/capi -o joint_decoder && ./joint_decoder
 * or with an installed modctx:
 *   cc -std=c99 joint_decoder.c $(pkg-config --cflags --libs modctx) -o joint_decoder
 * (examples/c/README.md has the Meson way too.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modctx.h" /* declares the DLPack types itself when no dlpack.h came first */

enum { B = 2, N = 4, T = 3, D = 8 }; /* batch, image tokens, text tokens, hidden size */

/* ---------------------------------------------------------------- 1. DLPack tensors
 * A DLManagedTensor describes memory (data, shape, dtype, device) and carries
 * a deleter. modctx ALWAYS takes ownership of a tensor handed to it: it calls
 * the deleter exactly once, when the last builder or context holding the
 * tensor is freed, or before the call returns if the call fails. So after
 * handing a tensor in, never touch or delete it again. */

typedef struct {
  DLManagedTensor managed; /* first: modctx sees only this part */
  int64_t shape[3];
} Tensor;

static int handed_in = 0; /* tensors given to modctx */
static int released = 0;  /* deleter calls */

static void release(DLManagedTensor *self) {
  ++released;
  free(self->manager_ctx); /* the Tensor; the data itself is static here */
}

/* A tensor of `ndim` sizes over `data`, contiguous, on the CPU. */
static DLManagedTensor *wrap(void *data, uint8_t code, uint8_t bits, int ndim, const int64_t *shape) {
  Tensor *t = (Tensor *)calloc(1, sizeof *t);
  if (!t) abort();
  memcpy(t->shape, shape, (size_t)ndim * sizeof shape[0]);
  t->managed.dl_tensor.data = data;
  t->managed.dl_tensor.device.device_type = kDLCPU; /* kDLCUDA with a device pointer works the same */
  t->managed.dl_tensor.device.device_id = 0;
  t->managed.dl_tensor.ndim = ndim;
  t->managed.dl_tensor.dtype.code = code;
  t->managed.dl_tensor.dtype.bits = bits;
  t->managed.dl_tensor.dtype.lanes = 1;
  t->managed.dl_tensor.shape = t->shape;
  t->managed.dl_tensor.strides = NULL; /* contiguous */
  t->managed.dl_tensor.byte_offset = 0;
  t->managed.manager_ctx = t;
  t->managed.deleter = release;
  ++handed_in;
  return &t->managed;
}

/* Every modctx call that can fail returns a modctx_status (MODCTX_OK is 0);
 * the message of the last failure on this thread is modctx_last_error(). */
static int ok(modctx_status status, const char *call) {
  if (status == MODCTX_OK) return 1;
  fprintf(stderr, "%s failed: %s: %s\n", call, modctx_status_name(status), modctx_last_error());
  return 0;
}

/* The memory the tensors describe: in a real server, the vision encoder's
 * output and the batch's padding information. */
static float image_tokens[B][N][D];
static uint8_t key_valid[B][N + T]; /* bool, one byte each: 1 = a real position */
static float hidden[B][N + T][D];   /* the final hidden state, before the LM head */

int main(void) {
  modctx_builder *builder = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *for_lm_head = NULL;
  int result = 1;
  int b, i;

  for (b = 0; b < B; ++b)
    for (i = 0; i < N + T; ++i) key_valid[b][i] = 1;
  key_valid[0][N - 1] = 0; /* the first image's last token is padding */

  /* ---------------------------------------------------------------- 2. build */
  {
    const int64_t prefix_shape[3] = {B, N, D};
    const int64_t mask_shape[2] = {B, N + T};
    const modctx_slice text_only = {N, 0, 0, MODCTX_SLICE_HAS_START}; /* slice(N, None, None) */

    if (!ok(modctx_builder_new(&builder), "modctx_builder_new")) goto done;
    if (!ok(modctx_builder_set_dlpack(builder, MODCTX_FIELD_PREFIX_EMBEDS,
                                      wrap(image_tokens, kDLFloat, 32, 3, prefix_shape)),
            "modctx_builder_set_dlpack(prefix_embeds)"))
      goto done;
    if (!ok(modctx_builder_set_dlpack(builder, MODCTX_FIELD_KEY_PADDING_MASK,
                                      wrap(key_valid, MODCTX_DLPACK_BOOL, 8, 2, mask_shape)),
            "modctx_builder_set_dlpack(key_padding_mask)"))
      goto done;
    if (!ok(modctx_builder_set_output_slice(builder, &text_only), "modctx_builder_set_output_slice")) goto done;
    if (!ok(modctx_builder_build(builder, &ctx), "modctx_builder_build")) goto done;
  }

  /* ---------------------------------------------------------------- 3. check */
  {
    const int64_t tokens_shape[2] = {B, T}; /* the text token ids of this step */
    modctx_model model;
    memset(&model, 0, sizeof model);
    model.struct_size = sizeof model; /* lets the struct grow in later versions */
    model.arch = MODCTX_ARCH_JOINT_DECODER;
    model.hidden_size = D;
    model.num_modalities = 0;    /* 0: the default (image, text) */
    model.num_image_tokens = -1; /* not fixed by the model */
    model.text_dtype = -1;       /* not given */
    /* The reference's forward checks, the residual's shapes, the model's own
     * checks, unused fields, dtypes and devices: metadata only. */
    if (!ok(modctx_check_model(ctx, &model, tokens_shape, 2, /*has_kv_caches=*/0, /*value_checks=*/0), "modctx_check_model"))
      goto done;
  }

  /* ---------------------------------------------------------------- 4. describe */
  {
    char line[256];
    size_t length = 0;
    if (!ok(modctx_context_describe(ctx, line, sizeof line, &length), "modctx_context_describe")) goto done;
    printf("OK %s\n", line); /* length > sizeof line - 1 would mean it was cut */
  }

  /* ---------------------------------------------------------------- 5. errors */
  {
    /* Decoding with KV caches: the output slice is training-only. */
    modctx_status status = modctx_check_forward(ctx, /*has_tokens=*/1, /*has_kv_caches=*/1);
    printf("decoding step: %s: %s\n", modctx_status_name(status), modctx_last_error());
    if (status != MODCTX_ERR_KV_CACHE) goto done;
  }
  {
    /* An image mask without image features: the builder refuses to build. */
    const int64_t mask_shape[2] = {B, N};
    modctx_builder *wrong = NULL;
    modctx_context *never = NULL;
    modctx_status status;
    if (!ok(modctx_builder_new(&wrong), "modctx_builder_new")) goto done;
    if (!ok(modctx_builder_set_dlpack(wrong, MODCTX_FIELD_IMAGE_MASK, wrap(key_valid, MODCTX_DLPACK_BOOL, 8, 2, mask_shape)),
            "modctx_builder_set_dlpack(image_mask)")) {
      modctx_builder_free(wrong);
      goto done;
    }
    status = modctx_builder_build(wrong, &never); /* never stays NULL */
    printf("image_mask alone: %s: %s\n", modctx_status_name(status), modctx_last_error());
    modctx_builder_free(wrong); /* releases the mask */
    if (status != MODCTX_ERR_IMAGE_MASK || never != NULL) goto done;
  }

  /* ---------------------------------------------------------------- 6. the output slice */
  {
    const int64_t hidden_shape[3] = {B, N + T, D};
    /* h[:, N:, :] as a view of `hidden`; the hidden-state tensor is consumed,
     * the result is a new tensor that this program must delete once. */
    if (!ok(modctx_context_apply_output_slice(ctx, wrap(hidden, kDLFloat, 32, 3, hidden_shape), &for_lm_head),
            "modctx_context_apply_output_slice"))
      goto done;
    printf("for the LM head: (%lld, %lld, %lld), a view: %s\n", (long long)for_lm_head->dl_tensor.shape[0],
           (long long)for_lm_head->dl_tensor.shape[1], (long long)for_lm_head->dl_tensor.shape[2],
           for_lm_head->dl_tensor.data == (void *)&hidden[0][N][0] ? "yes" : "no");
  }
  result = 0;

  /* ---------------------------------------------------------------- 7. free */
done:
  if (for_lm_head) for_lm_head->deleter(for_lm_head); /* a tensor handed out: delete it once */
  modctx_builder_free(builder);                        /* NULL is fine */
  modctx_context_free(ctx);                            /* the last holder: the tensors are released now */
  printf("tensors handed in: %d, released: %d\n", handed_in, released);
  if (released != handed_in) result = 1;
  return result;
}
