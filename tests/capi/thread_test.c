/* Threads: several threads build, check, describe and free contexts at once,
 * share one context, and each sees only its own error messages. Run under
 * ThreadSanitizer too. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "modctx.h"
#include "test_tensors.h"

#define THREADS 8
#define ROUNDS 300

static modctx_context *shared_ctx;
static int shared_deleted = 0;
static int deleted = 0;
static int failures = 0;
static float data[2 * 4 * 8];

static void fail(const char *what, int thread, int round) {
  __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
  fprintf(stderr, "thread %d round %d: FAILED: %s (last error: %s)\n", thread, round, what, modctx_last_error());
}

static const char *const messages[4] = {
    "ModalityContext: at most one of inputs_embeds, prefix_embeds, image_features may be set "
    "(mutually exclusive residual-stream routes)",
    "ModalityContext: image_mask requires image_features to be set",
    "ModalityContext: modality_ids requires prefix_embeds OR inputs_embeds to be set "
    "(routing without a residual extension is meaningless)",
    "ModalityContext: key_padding_mask requires prefix_embeds OR inputs_embeds to be set "
    "(it masks the residual sequence; Cross-Attention uses image_mask)",
};

static void *worker(void *arg) {
  int id = (int)(size_t)arg;
  int round;
  int64_t shape[3] = {2, 4, 8};
  for (round = 0; round < ROUNDS; ++round) {
    modctx_builder *b = NULL;
    modctx_context *ctx = NULL, *mine = NULL;
    DLManagedTensor *out = NULL;
    char buf[256];
    int kind = (id + round) % 4;
    /* This thread's own failure: one of the four construction checks. */
    if (modctx_builder_new(&b) != MODCTX_OK) fail("builder_new", id, round);
    switch (kind) {
      case 0:
        modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted));
        modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_FEATURES, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted));
        break;
      case 1:
        modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_MASK, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted));
        break;
      case 2:
        modctx_builder_set_dlpack(b, MODCTX_FIELD_MODALITY_IDS, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted));
        break;
      default:
        modctx_builder_set_dlpack(b, MODCTX_FIELD_KEY_PADDING_MASK, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted));
        break;
    }
    if (modctx_builder_build(b, &ctx) == MODCTX_OK || ctx != NULL) fail("invalid context built", id, round);

    /* Meanwhile, use the shared context: reads only. */
    if (modctx_check_forward(shared_ctx, 1, 0) != MODCTX_OK) fail("shared check", id, round);
    if (modctx_context_describe(shared_ctx, buf, sizeof buf, NULL) != MODCTX_OK ||
        strncmp(buf, "ModalityContext(prefix_embeds=", 30) != 0)
      fail("shared describe", id, round);
    if (modctx_context_get_dlpack(shared_ctx, MODCTX_FIELD_PREFIX_EMBEDS, &out) != MODCTX_OK) fail("export", id, round);
    else out->deleter(out);
    if (modctx_context_retain(shared_ctx, &mine) != MODCTX_OK) fail("retain", id, round);
    modctx_context_free(mine);
    /* A whole request against it, with this thread's own token ids (borrowed). */
    {
      int64_t ids[2 * 3] = {id, round % 7, 1, 2, 3, 4};
      int64_t tshape[2] = {2, 3};
      DLTensor tokens;
      modctx_request r;
      modctx_model m;
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
      memset(&m, 0, sizeof m);
      m.struct_size = sizeof m;
      m.arch = MODCTX_ARCH_JOINT_DECODER;
      m.hidden_size = 8;
      m.num_image_tokens = 4;
      m.text_dtype = -1;
      m.vocab_size = THREADS;
      m.max_seq_len = 7;
      if (modctx_check_request(shared_ctx, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES) != MODCTX_OK)
        fail("shared request", id, round);
    }

    /* The message is still this thread's own. */
    if (strcmp(modctx_last_error(), messages[kind]) != 0) fail("last error was overwritten", id, round);

    /* A valid context of this thread's, built and freed. */
    modctx_builder_clear(b, MODCTX_FIELD_IMAGE_FEATURES);
    modctx_builder_clear(b, MODCTX_FIELD_IMAGE_MASK);
    modctx_builder_clear(b, MODCTX_FIELD_MODALITY_IDS);
    modctx_builder_clear(b, MODCTX_FIELD_KEY_PADDING_MASK);
    if (modctx_builder_build(b, &ctx) != MODCTX_OK) fail("valid build", id, round);
    modctx_builder_free(b);
    if (modctx_check_forward(ctx, 1, 1) != (kind == 0 ? MODCTX_ERR_KV_CACHE : MODCTX_OK)) fail("own check", id, round);
    modctx_context_free(ctx);
  }
  return NULL;
}

int main(void) {
  pthread_t threads[THREADS];
  modctx_builder *b = NULL;
  int64_t shape[3] = {2, 4, 8};
  int i;
  int expected;
  modctx_builder_new(&b);
  modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &shared_deleted));
  if (modctx_builder_build(b, &shared_ctx) != MODCTX_OK) return 1;
  modctx_builder_free(b);
  for (i = 0; i < THREADS; ++i) pthread_create(&threads[i], NULL, worker, (void *)(size_t)i);
  for (i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
  modctx_context_free(shared_ctx);
  /* Kind 0 makes two tensors, the others one each. */
  expected = 0;
  for (i = 0; i < THREADS; ++i) {
    int round;
    for (round = 0; round < ROUNDS; ++round) expected += (i + round) % 4 == 0 ? 2 : 1;
  }
  if (deleted != expected) {
    fprintf(stderr, "FAILED: %d deleter calls, expected %d\n", deleted, expected);
    ++failures;
  }
  if (shared_deleted != 1 || tt_live_allocations() != 0) {
    fprintf(stderr, "FAILED: shared tensor deleted %d times, %d tensors live\n", shared_deleted, tt_live_allocations());
    ++failures;
  }
  printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
  return failures ? 1 : 0;
}
