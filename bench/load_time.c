/*
 * Load cost, one measurement per process (the caller runs it many times and
 * takes medians; the page cache is warm after the first run):
 *
 *   load_time torch  PATH/libtorch_cpu.so   dlopen of LibTorch alone
 *   load_time modctx PATH/libmodctx.so.1    dlopen of modctx (LibTorch comes with it),
 *                                           then the first and second MoT contexts
 *
 * Prints one line of key=seconds pairs. C99, no LibTorch headers.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modctx.h"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall time, and this process's CPU time (user + system, all threads):
 * the second is what other processes on a shared machine disturb least. */
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static void no_release(DLManagedTensor *self) { (void)self; }

/* This process's peak resident memory in KiB (VmHWM: since exec, unlike
 * getrusage, whose figure a child inherits from the parent it forked from). */
static long peak_rss_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* The MoT context of bench/contexts.hpp: prefix_embeds, modality_ids,
 * key_padding_mask on cuda:0 (described, never touched), slice(576, None). */
static int mot_request(const modctx_api *api) {
  static int64_t prefix_shape[3] = {2, 576, 4096};
  static int64_t ids_shape[2] = {2, 600};
  static DLManagedTensor t[3];
  const DLDataType dtypes[3] = {{kDLBfloat, 16, 1}, {kDLInt, 64, 1}, {MODCTX_DLPACK_BOOL, 8, 1}};
  const modctx_field fields[3] = {MODCTX_FIELD_PREFIX_EMBEDS, MODCTX_FIELD_MODALITY_IDS,
                                  MODCTX_FIELD_KEY_PADDING_MASK};
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  modctx_slice slice = {576, 0, 0, MODCTX_SLICE_HAS_START};
  modctx_status s;
  int i;
  for (i = 0; i < 3; ++i) {
    memset(&t[i], 0, sizeof t[i]);
    t[i].dl_tensor.data = (void *)((size_t)1 << 40);
    t[i].dl_tensor.device.device_type = kDLCUDA;
    t[i].dl_tensor.device.device_id = 0;
    t[i].dl_tensor.ndim = i == 0 ? 3 : 2;
    t[i].dl_tensor.dtype = dtypes[i];
    t[i].dl_tensor.shape = i == 0 ? prefix_shape : ids_shape;
    t[i].deleter = no_release;
  }
  s = api->builder_new(&b);
  for (i = 0; i < 3 && s == MODCTX_OK; ++i) s = api->builder_set_dlpack(b, fields[i], &t[i]);
  if (s == MODCTX_OK) s = api->builder_set_output_slice(b, &slice);
  if (s == MODCTX_OK) s = api->builder_build(b, &ctx);
  if (s == MODCTX_OK) s = api->check_forward(ctx, 1, 0);
  if (s != MODCTX_OK) fprintf(stderr, "load_time: %s\n", api->last_error());
  api->builder_free(b);
  api->context_free(ctx);
  return s == MODCTX_OK;
}

int main(int argc, char **argv) {
  double t0, t1, t2, t3, c0, c1, c2, c3;
  void *lib;
  if (argc != 3 || (strcmp(argv[1], "torch") != 0 && strcmp(argv[1], "modctx") != 0)) {
    fprintf(stderr, "usage: load_time torch|modctx LIBRARY\n");
    return 2;
  }
  c0 = cpu();
  t0 = now();
  lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  t1 = now();
  c1 = cpu();
  if (!lib) {
    fprintf(stderr, "load_time: %s\n", dlerror());
    return 1;
  }
  if (strcmp(argv[1], "torch") == 0) {
    printf("dlopen=%.6f dlopen_cpu=%.6f peak_rss_kib=%ld\n", t1 - t0, c1 - c0, peak_rss_kib());
    return 0;
  } else {
    modctx_get_api_fn get_api;
    const modctx_api *api;
    *(void **)(&get_api) = dlsym(lib, "modctx_get_api");
    api = get_api ? get_api(MODCTX_ABI_VERSION) : NULL;
    if (!api) {
      fprintf(stderr, "load_time: no modctx_get_api\n");
      return 1;
    }
    if (!mot_request(api)) return 1;
    t2 = now();
    c2 = cpu();
    if (!mot_request(api)) return 1;
    t3 = now();
    c3 = cpu();
    printf("dlopen=%.6f first_context=%.6f second_context=%.6f dlopen_cpu=%.6f first_context_cpu=%.6f "
           "second_context_cpu=%.6f peak_rss_kib=%ld\n",
           t1 - t0, t2 - t0, t3 - t2, c1 - c0, c2 - c0, c3 - c2, peak_rss_kib());
  }
  return 0;
}
