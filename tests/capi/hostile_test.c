/* Hostile and extreme tensor descriptors and call sequences: each must end in
 * the right status and message, with the deleter called exactly once, and
 * nothing read out of bounds (run under ASan too). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modctx.h"
#include "test_tensors.h"

static int failures = 0, cases = 0;

static float data[64];

typedef struct {
  const char *name;
  int versioned;              /* 0: DLManagedTensor, 1: versioned */
  uint32_t major;             /* versioned only */
  int code, bits, lanes;
  int ndim;
  int64_t shape[TT_MAX_NDIM];
  int use_strides;
  int64_t strides[TT_MAX_NDIM];
  int null_shape;
  int null_data;
  uint64_t byte_offset;
  intptr_t data_shift;        /* bytes added to the data pointer */
  int device_type, device_id;
  int null_deleter;
  modctx_status want;
  const char *message_part;   /* a substring of the message; NULL: not checked */
  uintptr_t address;          /* nonzero: use this data address instead (never dereferenced) */
} hostile_case;

#define BIG INT64_MAX

static const hostile_case table[] = {
    /* name, versioned, major, code, bits, lanes, ndim, shape, use_strides, strides, null_shape, null_data,
       byte_offset, data_shift, device_type, device_id, null_deleter, want, message_part */
    {"plain float32", 0, 0, kDLFloat, 32, 1, 2, {2, 3}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"negative ndim", 0, 0, kDLFloat, 32, 1, -1, {0}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "ndim -1 is out of range [0, 32]"},
    {"ndim 33", 0, 0, kDLFloat, 32, 1, 33, {0}, 0, {0}, 1, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "ndim 33 is out of range"},
    {"ndim INT32_MAX", 0, 0, kDLFloat, 32, 1, INT32_MAX, {0}, 0, {0}, 1, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "out of range"},
    {"NULL shape with ndim 2", 0, 0, kDLFloat, 32, 1, 2, {0}, 0, {0}, 1, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "shape is NULL with ndim 2"},
    {"NULL shape with ndim 0 (a scalar)", 0, 0, kDLFloat, 32, 1, 0, {0}, 0, {0}, 1, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"negative size", 0, 0, kDLFloat, 32, 1, 2, {2, -3}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "shape[1] is -3 (sizes must be >= 0)"},
    {"INT64_MIN size", 0, 0, kDLFloat, 32, 1, 1, {INT64_MIN}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "sizes must be >= 0"},
    {"size product overflows", 0, 0, kDLFloat, 32, 1, 3, {1LL << 32, 1LL << 32, 2}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "number of elements overflows 64 bits"},
    {"huge sizes with a zero size", 0, 0, kDLFloat, 32, 1, 3, {BIG, BIG, 0}, 0, {0}, 0, 1, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "number of elements overflows 64 bits"},
    {"a zero size first, then huge sizes", 0, 0, kDLFloat, 32, 1, 3, {0, BIG, BIG}, 0, {0}, 0, 1, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "number of elements overflows 64 bits"},
    {"a zero size beside large ones", 0, 0, kDLFloat, 32, 1, 3, {0, 1LL << 20, 1LL << 20}, 0, {0}, 0, 1, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"byte extent overflows", 0, 0, kDLFloat, 32, 1, 1, {BIG / 2}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "byte extent"},
    {"stride overflows", 0, 0, kDLFloat, 32, 1, 2, {3, 3}, 1, {BIG, 1}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "byte extent"},
    {"strides sum overflows", 0, 0, kDLFloat, 32, 1, 3, {3, 3, 3}, 1, {BIG / 2, BIG / 2, BIG / 2}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "byte extent"},
    {"extent past INT64_MAX", 0, 0, kDLFloat, 32, 1, 1, {1LL << 61}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "byte extent"},
    {"extent wraps the address space", 0, 0, kDLFloat, 32, 1, 1, {1024}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "wraps around the address space", UINTPTR_MAX - 63},
    {"negative stride", 0, 0, kDLFloat, 32, 1, 2, {2, 3}, 1, {3, -1}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "strides[1] is -1"},
    {"zero strides (broadcast)", 0, 0, kDLFloat, 32, 1, 2, {2, 3}, 1, {0, 0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"NULL data with elements", 0, 0, kDLFloat, 32, 1, 2, {2, 3}, 0, {0}, 0, 1, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "data is NULL but the tensor has 6 elements"},
    {"NULL data, zero elements", 0, 0, kDLFloat, 32, 1, 2, {0, 3}, 0, {0}, 0, 1, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"lanes 4", 0, 0, kDLFloat, 32, 4, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "dtype lanes 4 (only 1 is supported)"},
    {"lanes 0", 0, 0, kDLFloat, 32, 0, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "dtype lanes 0"},
    {"unknown dtype code 200", 0, 0, 200, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack dtype code 200"},
    {"float with 7 bits", 0, 0, kDLFloat, 7, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "DLPack dtype code 2 with 7 bits has no LibTorch type"},
    {"uint16", 0, 0, kDLUInt, 16, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "code 1 with 16 bits"},
    {"opaque handle", 0, 0, kDLOpaqueHandle, 64, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "code 3"},
    {"float8 (DLPack 1.1)", 0, 0, 8, 8, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "code 8 with 8 bits"},
    {"bool with 1 bit", 0, 0, MODCTX_DLPACK_BOOL, 1, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "code 6 with 1 bits"},
    {"bool", 0, 0, MODCTX_DLPACK_BOOL, 8, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"bfloat16", 0, 0, kDLBfloat, 16, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"complex128", 0, 0, kDLComplex, 128, 1, 1, {2}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"byte_offset not a multiple of the element size", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 2, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "byte_offset 2 is not a multiple of the element size 4"},
    {"misaligned data pointer", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 1, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "not aligned to 4 bytes"},
    {"byte_offset honoured", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 16, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"huge byte_offset", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, UINT64_MAX - 3, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "wraps around the address space"},
    {"device type 256", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 256, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack device type 256"},
    {"empty tensor whose byte_offset wraps the pointer", 0, 0, kDLFloat, 32, 1, 1, {0}, 0, {0}, 0, 0, UINT64_MAX - 7, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "data + byte_offset wraps around the address space"},
    {"unknown device type 99", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 99, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack device type 99"},
    {"device type 0", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 0, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack device type 0"},
    {"ExtDev", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 12, 0, 0, MODCTX_ERR_UNSUPPORTED, "device type 12 has no LibTorch device"},
    {"negative device id", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCUDA, -1, 0, MODCTX_ERR_INVALID_ARGUMENT, "device_id -1 is negative"},
    {"device id 128", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCUDA, 128, 0, MODCTX_ERR_UNSUPPORTED, "above LibTorch's limit 127"},
    {"CUDA memory as metadata", 0, 0, kDLFloat, 32, 1, 1, {1LL << 40}, 0, {0}, 0, 0, 0, 0, kDLCUDA, 3, 0, MODCTX_OK, NULL},
    {"ROCm memory", 0, 0, kDLFloat, 16, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLROCM, 1, 0, MODCTX_OK, NULL},
    {"CUDA host memory", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCUDAHost, 0, 0, MODCTX_OK, NULL},
    {"NULL deleter", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 1, MODCTX_OK, NULL},
    {"NULL deleter, rejected", 0, 0, kDLFloat, 32, 4, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 1, MODCTX_ERR_UNSUPPORTED, NULL},
    {"versioned 1.x", 1, 1, kDLFloat, 32, 1, 2, {2, 3}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"versioned 0.x", 1, 0, kDLFloat, 32, 1, 2, {2, 3}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "DLPack version 0.7 is not supported (modctx reads major version 1)"},
    {"versioned 2.x", 1, 2, kDLFloat, 32, 1, 2, {2, 3}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "DLPack version 2.7 is not supported"},
    {"versioned 2.x with garbage inside", 1, 2, 255, 255, 9, -7, {0}, 0, {0}, 1, 1, 3, 1, 99, -1, 0, MODCTX_ERR_UNSUPPORTED, "version 2.7"},
    {"versioned, NULL deleter, rejected", 1, 3, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 1, MODCTX_ERR_UNSUPPORTED, NULL},
    /* Every DLPack device, and the dtype codes at the edge of DLPack's list. */
    {"oneAPI memory", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLOneAPI, 2, 0, MODCTX_OK, NULL},
    {"CUDA managed memory", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCUDAManaged, 1, 0, MODCTX_OK, NULL},
    {"ROCm host memory", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLROCMHost, 0, 0, MODCTX_OK, NULL},
    {"Metal buffer: a handle, alignment not checked", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 1, kDLMetal, 0, 0, MODCTX_OK, NULL},
    {"Vulkan buffer", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 1, kDLVulkan, 0, 0, MODCTX_OK, NULL},
    {"OpenCL buffer", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 1, kDLOpenCL, 0, 0, MODCTX_OK, NULL},
    {"Metal device id 128", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLMetal, 128, 0, MODCTX_ERR_UNSUPPORTED, "above LibTorch's limit 127"},
    {"VPI", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLVPI, 0, 0, MODCTX_ERR_UNSUPPORTED, "device type 9 has no LibTorch device"},
    {"WebGPU", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 15, 0, 0, MODCTX_ERR_UNSUPPORTED, "device type 15 has no LibTorch device"},
    {"Hexagon", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 16, 0, 0, MODCTX_ERR_UNSUPPORTED, "device type 16 has no LibTorch device"},
    {"MAIA", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 17, 0, 0, MODCTX_ERR_UNSUPPORTED, "device type 17 has no LibTorch device"},
    {"device type 18", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, 18, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack device type 18"},
    {"negative device type", 0, 0, kDLFloat, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, -1, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack device type -1"},
    {"complex32", 0, 0, kDLComplex, 32, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"int16", 0, 0, kDLInt, 16, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_OK, NULL},
    {"dtype code 17 (DLPack's last)", 0, 0, 17, 8, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_UNSUPPORTED, "code 17 with 8 bits"},
    {"dtype code 18", 0, 0, 18, 8, 1, 1, {4}, 0, {0}, 0, 0, 0, 0, kDLCPU, 0, 0, MODCTX_ERR_INVALID_ARGUMENT, "unknown DLPack dtype code 18"},
};

static void run_case(const hostile_case *c) {
  modctx_builder *b = NULL;
  int deleted = 0;
  modctx_status got;
  void *unmanaged = NULL;
  const int want_deletes = c->null_deleter ? 0 : 1;
  int64_t *shape = (int64_t *)c->shape;
  char *base = c->null_data ? NULL : c->address ? (char *)c->address : (char *)data + c->data_shift;
  ++cases;
  modctx_builder_new(&b);
  if (c->versioned) {
    DLManagedTensorVersioned *t = tt_dlpack_versioned(base, c->code, c->bits, c->ndim, c->null_shape ? NULL : shape,
                                                      c->use_strides ? c->strides : NULL, c->major, 7, &deleted);
    t->dl_tensor.dtype.lanes = (uint16_t)c->lanes;
    t->dl_tensor.byte_offset = c->byte_offset;
    t->dl_tensor.device.device_type = (DLDeviceType)c->device_type;
    t->dl_tensor.device.device_id = c->device_id;
    t->flags = DLPACK_FLAG_BITMASK_READ_ONLY;
    if (c->null_deleter) {
      t->deleter = NULL; /* nothing will count it: reclaimed by hand below */
      unmanaged = t->manager_ctx;
    }
    got = modctx_builder_set_dlpack_versioned(b, MODCTX_FIELD_PREFIX_EMBEDS, t);
  } else {
    DLManagedTensor *t = tt_dlpack(base, c->code, c->bits, c->ndim, c->null_shape ? NULL : shape,
                                   c->use_strides ? c->strides : NULL, &deleted);
    t->dl_tensor.dtype.lanes = (uint16_t)c->lanes;
    t->dl_tensor.byte_offset = c->byte_offset;
    t->dl_tensor.device.device_type = (DLDeviceType)c->device_type;
    t->dl_tensor.device.device_id = c->device_id;
    if (c->null_deleter) {
      t->deleter = NULL;
      unmanaged = t->manager_ctx;
    }
    got = modctx_builder_set_dlpack(b, MODCTX_FIELD_PREFIX_EMBEDS, t);
  }
  if (got != c->want) {
    ++failures;
    fprintf(stderr, "FAILED %s: %s, wanted %s (%s)\n", c->name, modctx_status_name(got), modctx_status_name(c->want),
            modctx_last_error());
  } else if (c->message_part && !strstr(modctx_last_error(), c->message_part)) {
    ++failures;
    fprintf(stderr, "FAILED %s: message \"%s\" lacks \"%s\"\n", c->name, modctx_last_error(), c->message_part);
  } else if (got != MODCTX_OK && strncmp(modctx_last_error(), "prefix_embeds: ", 15) != 0) {
    ++failures;
    fprintf(stderr, "FAILED %s: message \"%s\" does not name the field\n", c->name, modctx_last_error());
  }
  /* On failure the deleter has run before the call returned; on success it runs with the builder. */
  if (got != MODCTX_OK && deleted != want_deletes) {
    ++failures;
    fprintf(stderr, "FAILED %s: %d deleter calls after the failed call\n", c->name, deleted);
  }
  if (got == MODCTX_OK) {
    modctx_context *ctx = NULL;
    if (modctx_builder_build(b, &ctx) != MODCTX_OK) {
      ++failures;
      fprintf(stderr, "FAILED %s: build: %s\n", c->name, modctx_last_error());
    }
    modctx_builder_free(b);
    if (deleted != 0) {
      ++failures;
      fprintf(stderr, "FAILED %s: deleted while a context holds it\n", c->name);
    }
    modctx_context_free(ctx);
  } else {
    modctx_builder_free(b);
  }
  if (deleted != want_deletes) {
    ++failures;
    fprintf(stderr, "FAILED %s: %d deleter calls in all\n", c->name, deleted);
  }
  if (unmanaged) tt_discard(unmanaged);
}

static void count_release(void *counter) { ++*(int *)counter; }

/* Call sequences: builders freed before their contexts, contexts freed in any order. */
static void sequences(void) {
  int deleted = 0;
  int64_t shape[2] = {2, 3};
  modctx_builder *b = NULL, *b2 = NULL;
  modctx_context *c1 = NULL, *c2 = NULL, *c3 = NULL, *r = NULL;
  ++cases;
  modctx_builder_new(&b);
  modctx_builder_set_dlpack(b, MODCTX_FIELD_INPUTS_EMBEDS, tt_dlpack(data, kDLFloat, 32, 2, shape, NULL, &deleted));
  modctx_builder_build(b, &c1);
  modctx_builder_build(b, &c2);
  /* Setting the same field again releases nothing still held by contexts. */
  modctx_builder_set_dlpack(b, MODCTX_FIELD_INPUTS_EMBEDS, tt_dlpack(data, kDLFloat, 32, 2, shape, NULL, &deleted));
  modctx_builder_build(b, &c3);
  modctx_builder_free(b);
  modctx_builder_new_from_context(c1, &b2);
  modctx_context_retain(c2, &r);
  modctx_context_free(c2);
  if (deleted != 0) ++failures, fprintf(stderr, "FAILED sequences: early release\n");
  modctx_context_free(c3);
  if (deleted != 1) ++failures, fprintf(stderr, "FAILED sequences: second tensor not released with its last holder\n");
  modctx_context_free(c1);
  modctx_context_free(r);
  if (deleted != 1) ++failures, fprintf(stderr, "FAILED sequences: released while a builder holds it\n");
  modctx_builder_free(b2);
  if (deleted != 2) ++failures, fprintf(stderr, "FAILED sequences: %d releases, wanted 2\n", deleted);

  /* A failed build leaves the builder usable, and a builder can be cleared and reused. */
  ++cases;
  deleted = 0;
  modctx_builder_new(&b);
  modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_MASK, tt_dlpack(data, MODCTX_DLPACK_BOOL, 8, 2, shape, NULL, &deleted));
  if (modctx_builder_build(b, &c1) != MODCTX_ERR_IMAGE_MASK || c1) ++failures, fprintf(stderr, "FAILED reuse: build\n");
  modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_FEATURES, tt_dlpack(data, kDLFloat, 32, 2, shape, NULL, &deleted));
  if (modctx_builder_build(b, &c1) != MODCTX_OK) ++failures, fprintf(stderr, "FAILED reuse: rebuild\n");
  modctx_builder_clear(b, MODCTX_FIELD_IMAGE_MASK);
  modctx_builder_clear(b, MODCTX_FIELD_IMAGE_MASK); /* clearing twice is fine */
  modctx_builder_free(b);
  modctx_context_free(c1);
  if (deleted != 2) ++failures, fprintf(stderr, "FAILED reuse: %d releases, wanted 2\n", deleted);

  /* Plain descriptors: hostile ones are consumed once too. */
  {
    int released = 0;
    modctx_tensor_desc d;
    int64_t bad_shape[1] = {-1};
    ++cases;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.dtype = MODCTX_DTYPE_FLOAT32;
    d.data = data;
    d.ndim = 1;
    d.shape = bad_shape;
    d.device_type = kDLCPU;
    d.release = count_release;
    d.release_ctx = &released;
    modctx_builder_new(&b);
    if (modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d) != MODCTX_ERR_INVALID_ARGUMENT)
      ++failures, fprintf(stderr, "FAILED desc: negative size accepted\n");
    d.shape = shape;
    d.ndim = 2;
    d.device_type = 99;
    if (modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d) != MODCTX_ERR_INVALID_ARGUMENT)
      ++failures, fprintf(stderr, "FAILED desc: bad device accepted\n");
    modctx_builder_free(b);
    if (released != 2) ++failures, fprintf(stderr, "FAILED desc: %d releases, wanted 2\n", released);
  }
}

/* A tensor's device survives the round trip (CUDA and ROCm host memory are
 * the CPU's; CUDA managed memory is CUDA's), and so does a complex32 dtype. */
static void devices(void) {
  static const struct {
    int in_type, in_id, out_type, out_id;
  } dev[] = {
      {kDLCPU, 0, kDLCPU, 0},         {kDLCUDA, 3, kDLCUDA, 3},     {kDLCUDAHost, 0, kDLCPU, 0},
      {kDLCUDAManaged, 1, kDLCUDA, 1}, {kDLROCM, 2, kDLROCM, 2},     {kDLROCMHost, 0, kDLCPU, 0},
      {kDLOneAPI, 4, kDLOneAPI, 4},   {kDLMetal, 0, kDLMetal, 0},   {kDLVulkan, 1, kDLVulkan, 1},
      {kDLOpenCL, 5, kDLOpenCL, 5},
  };
  size_t i;
  int64_t shape[3] = {1, 2, 2};
  for (i = 0; i < sizeof dev / sizeof dev[0]; ++i) {
    int deleted = 0;
    modctx_builder *b = NULL;
    modctx_context *ctx = NULL;
    DLManagedTensor *t = tt_dlpack(data, kDLComplex, 32, 3, shape, NULL, &deleted), *out = NULL;
    DLManagedTensorVersioned *outv = NULL;
    char text[256];
    ++cases;
    t->dl_tensor.device.device_type = (DLDeviceType)dev[i].in_type;
    t->dl_tensor.device.device_id = dev[i].in_id;
    modctx_builder_new(&b);
    if (modctx_builder_set_dlpack(b, MODCTX_FIELD_IMAGE_FEATURES, t) != MODCTX_OK ||
        modctx_builder_build(b, &ctx) != MODCTX_OK ||
        modctx_context_get_dlpack(ctx, MODCTX_FIELD_IMAGE_FEATURES, &out) != MODCTX_OK ||
        modctx_context_get_dlpack_versioned(ctx, MODCTX_FIELD_IMAGE_FEATURES, &outv) != MODCTX_OK ||
        modctx_context_describe(ctx, text, sizeof text, NULL) != MODCTX_OK) {
      ++failures;
      fprintf(stderr, "FAILED device %d: %s\n", dev[i].in_type, modctx_last_error());
    } else {
      if ((int)out->dl_tensor.device.device_type != dev[i].out_type || out->dl_tensor.device.device_id != dev[i].out_id ||
          (int)outv->dl_tensor.device.device_type != dev[i].out_type ||
          outv->dl_tensor.device.device_id != dev[i].out_id || out->dl_tensor.data != data) {
        ++failures;
        fprintf(stderr, "FAILED device %d: came back as (%d, %d)\n", dev[i].in_type,
                (int)out->dl_tensor.device.device_type, out->dl_tensor.device.device_id);
      }
      if (out->dl_tensor.dtype.code != kDLComplex || out->dl_tensor.dtype.bits != 32 || !strstr(text, "complex32")) {
        ++failures;
        fprintf(stderr, "FAILED device %d: complex32 came back as (%d, %d): %s\n", dev[i].in_type,
                out->dl_tensor.dtype.code, out->dl_tensor.dtype.bits, text);
      }
    }
    if (out) out->deleter(out);
    if (outv) outv->deleter(outv);
    modctx_builder_free(b);
    modctx_context_free(ctx);
    if (deleted != 1) ++failures, fprintf(stderr, "FAILED device %d: %d releases\n", dev[i].in_type, deleted);
  }
}

/* C callers may pass any int where the header has an enum: out-of-range and
 * negative values are refused, and a tensor handed in is still consumed. */
static void enum_values(void) {
  static const int bad[] = {-1, 6, 100, INT32_MIN, INT32_MAX};
  int64_t shape[2] = {2, 3};
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    int deleted = 0, has = 7;
    modctx_builder *b = NULL;
    modctx_context *ctx = NULL;
    DLManagedTensor *out = NULL;
    const modctx_field f = (modctx_field)bad[i];
    ++cases;
    modctx_builder_new(&b);
    if (modctx_builder_set_dlpack(b, f, tt_dlpack(data, kDLFloat, 32, 2, shape, NULL, &deleted)) !=
            MODCTX_ERR_INVALID_ARGUMENT ||
        deleted != 1 || !strstr(modctx_last_error(), "unknown field"))
      ++failures, fprintf(stderr, "FAILED field %d: set_dlpack (%s), %d releases\n", bad[i], modctx_last_error(), deleted);
    if (modctx_builder_set_dlpack_versioned(b, f, tt_dlpack_versioned(data, kDLFloat, 32, 2, shape, NULL, 1, 0,
                                                                       &deleted)) != MODCTX_ERR_INVALID_ARGUMENT ||
        deleted != 2)
      ++failures, fprintf(stderr, "FAILED field %d: set_dlpack_versioned\n", bad[i]);
    if (modctx_builder_clear(b, f) != MODCTX_ERR_INVALID_ARGUMENT)
      ++failures, fprintf(stderr, "FAILED field %d: clear\n", bad[i]);
    modctx_builder_build(b, &ctx);
    if (modctx_context_has(ctx, f, &has) != MODCTX_ERR_INVALID_ARGUMENT || has != 0)
      ++failures, fprintf(stderr, "FAILED field %d: has\n", bad[i]);
    if (modctx_context_get_dlpack(ctx, f, &out) != MODCTX_ERR_INVALID_ARGUMENT || out)
      ++failures, fprintf(stderr, "FAILED field %d: get_dlpack\n", bad[i]);
    if (modctx_field_name(f) != NULL) ++failures, fprintf(stderr, "FAILED field %d: has a name\n", bad[i]);
    if (strcmp(modctx_status_name((modctx_status)bad[i]), "MODCTX_ERR_UNKNOWN") != 0 && bad[i] != 6)
      ++failures, fprintf(stderr, "FAILED status %d: has a name\n", bad[i]);
    modctx_context_free(ctx);
    modctx_builder_free(b);
  }
  {
    /* An unknown plain-C dtype. */
    int released = 0;
    modctx_builder *b = NULL;
    modctx_tensor_desc d;
    ++cases;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.dtype = (modctx_dtype)-1;
    d.data = data;
    d.ndim = 2;
    d.shape = shape;
    d.device_type = kDLCPU;
    d.release = count_release;
    d.release_ctx = &released;
    modctx_builder_new(&b);
    if (modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d) != MODCTX_ERR_INVALID_ARGUMENT ||
        !strstr(modctx_last_error(), "unknown modctx_dtype -1") || released != 1)
      ++failures, fprintf(stderr, "FAILED dtype -1: %s, %d releases\n", modctx_last_error(), released);
    /* A struct_size too small to hold the release callback: refused, and the
     * callback (past struct_size) is not called. */
    d.dtype = MODCTX_DTYPE_FLOAT32;
    d.struct_size = (uint32_t)offsetof(modctx_tensor_desc, release);
    if (modctx_builder_set_tensor(b, MODCTX_FIELD_PREFIX_EMBEDS, &d) != MODCTX_ERR_INVALID_ARGUMENT ||
        !strstr(modctx_last_error(), "struct_size") || released != 1)
      ++failures, fprintf(stderr, "FAILED short struct_size: %s, %d releases\n", modctx_last_error(), released);
    modctx_builder_free(b);
  }
}

/* The largest rank, MODCTX_MAX_NDIM, with shape and strides read exactly. */
static int big_deleted = 0;
static void big_deleter(DLManagedTensor *self) {
  (void)self;
  ++big_deleted;
}
static void max_rank(void) {
  int64_t shape[MODCTX_MAX_NDIM], strides[MODCTX_MAX_NDIM];
  DLManagedTensor t;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *out = NULL;
  int i;
  ++cases;
  for (i = 0; i < MODCTX_MAX_NDIM; ++i) shape[i] = 1 + (i % 2), strides[i] = (int64_t)1 << (i % 40);
  memset(&t, 0, sizeof t);
  t.dl_tensor.data = data;
  t.dl_tensor.device.device_type = kDLCPU;
  t.dl_tensor.ndim = MODCTX_MAX_NDIM;
  t.dl_tensor.dtype.code = kDLFloat;
  t.dl_tensor.dtype.bits = 32;
  t.dl_tensor.dtype.lanes = 1;
  t.dl_tensor.shape = shape;
  t.dl_tensor.strides = strides;
  t.deleter = big_deleter;
  modctx_builder_new(&b);
  if (modctx_builder_set_dlpack(b, MODCTX_FIELD_INPUTS_EMBEDS, &t) != MODCTX_OK ||
      modctx_builder_build(b, &ctx) != MODCTX_OK ||
      modctx_context_get_dlpack(ctx, MODCTX_FIELD_INPUTS_EMBEDS, &out) != MODCTX_OK || out->dl_tensor.ndim != 32 ||
      out->dl_tensor.shape[31] != 2 || out->dl_tensor.strides[31] != ((int64_t)1 << 31)) {
    ++failures;
    fprintf(stderr, "FAILED 32 dimensions: %s\n", modctx_last_error());
  }
  if (out) out->deleter(out);
  modctx_builder_free(b);
  modctx_context_free(ctx);
  if (big_deleted != 1) ++failures, fprintf(stderr, "FAILED 32 dimensions: %d releases\n", big_deleted);
}

/* A view LibTorch itself cannot make (Metal), and forward arguments out of
 * range: a status, the tensor consumed, nothing written. */
static void refused_calls(void) {
  int64_t shape[3] = {1, 4, 2};
  int deleted = 0;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *hidden = tt_dlpack(data, kDLFloat, 32, 3, shape, NULL, &deleted), *out = NULL;
  const modctx_slice s = {1, 0, 0, MODCTX_SLICE_HAS_START};
  modctx_forward_args fwd;
  ++cases;
  hidden->dl_tensor.device.device_type = kDLMetal;
  modctx_builder_new(&b);
  modctx_builder_set_output_slice(b, &s);
  modctx_builder_build(b, &ctx);
  /* LibTorch 1.13 cannot view an MPS tensor; the C ABI computes the view on
   * the descriptor, for every device. */
  if (modctx_context_apply_output_slice(ctx, hidden, &out) != MODCTX_OK || out == NULL ||
      out->dl_tensor.device.device_type != kDLMetal || out->dl_tensor.shape[1] != 3 || deleted != 0)
    ++failures, fprintf(stderr, "FAILED Metal view: %s, %d releases\n", modctx_last_error(), deleted);
  if (out) out->deleter(out);
  if (deleted != 1) ++failures, fprintf(stderr, "FAILED Metal view: %d releases after the view's deleter\n", deleted);

  ++cases;
  memset(&fwd, 0, sizeof fwd);
  fwd.struct_size = sizeof fwd;
  fwd.present = 1;
  fwd.has_tokens = 1;
  fwd.tokens_ndim = MODCTX_MAX_NDIM + 1;
  if (modctx_context_save_safetensors(ctx, "/nonexistent-modctx-dir/never-written.safetensors", &fwd) !=
          MODCTX_ERR_INVALID_ARGUMENT ||
      !strstr(modctx_last_error(), "forward->tokens_ndim 33 is out of range [0, 32]"))
    ++failures, fprintf(stderr, "FAILED save with tokens_ndim 33: %s\n", modctx_last_error());
  modctx_context_free(ctx);
  modctx_builder_free(b);
}

/* An empty hidden state at the top of the address space (a fuzz finding):
 * the view's address is past the end, where pointer arithmetic is undefined
 * (UBSan pointer-overflow in the sanitized build). It is never read; the call
 * succeeds with an empty view. */
static void empty_view_at_address_space_end(void) {
  int64_t shape[3] = {0, 1, 2};
  int deleted = 0;
  modctx_builder *b = NULL;
  modctx_context *ctx = NULL;
  DLManagedTensor *hidden = tt_dlpack((void *)UINTPTR_MAX, kDLUInt, 8, 3, shape, NULL, &deleted), *out = NULL;
  const modctx_slice s = {4096, -2, 4096, MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STOP | MODCTX_SLICE_HAS_STEP};
  ++cases;
  modctx_builder_new(&b);
  modctx_builder_set_output_slice(b, &s);
  modctx_builder_build(b, &ctx);
  if (modctx_context_apply_output_slice(ctx, hidden, &out) != MODCTX_OK || out == NULL ||
      out->dl_tensor.ndim != 3 || out->dl_tensor.shape[0] != 0 || out->dl_tensor.shape[1] != 0 ||
      out->dl_tensor.shape[2] != 2)
    ++failures, fprintf(stderr, "FAILED empty view at the end of the address space: %s\n", modctx_last_error());
  if (out) out->deleter(out);
  if (deleted != 1) ++failures, fprintf(stderr, "FAILED empty view: %d releases\n", deleted);
  modctx_context_free(ctx);
  modctx_builder_free(b);
}

/* ------------------------------------------------------------------ requests (ABI 2) */

static modctx_model request_model(void) {
  modctx_model m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.arch = MODCTX_ARCH_TEXT;
  m.hidden_size = 8;
  m.num_image_tokens = -1;
  m.text_dtype = -1;
  return m;
}

/* The same hostile descriptors as a request's token ids and doc_ids:
 * validated as any tensor handed in (same status, same message, named
 * "tokens: " or "doc_ids: "), except that NULL data only describes the
 * tensor; borrowed, so never released. */
static void run_request_case(const hostile_case *c, int as_doc_ids) {
  static int64_t ok_shape[2] = {2, 3};
  static int64_t ids[6];
  const char *prefix = as_doc_ids ? "doc_ids: " : "tokens: ";
  int deleted = 0;
  modctx_status got, want = c->want;
  const char *part = c->message_part;
  int64_t *shape = (int64_t *)c->shape;
  char *base = c->null_data ? NULL : c->address ? (char *)c->address : (char *)data + c->data_shift;
  modctx_model m = request_model();
  modctx_request r;
  DLTensor good;
  DLManagedTensor *t;
  if (c->versioned) return; /* a request borrows DLTensors: no version to read */
  ++cases;
  t = tt_dlpack(base, c->code, c->bits, c->ndim, c->null_shape ? NULL : shape, c->use_strides ? c->strides : NULL,
                &deleted);
  t->dl_tensor.dtype.lanes = (uint16_t)c->lanes;
  t->dl_tensor.byte_offset = c->byte_offset;
  t->dl_tensor.device.device_type = (DLDeviceType)c->device_type;
  t->dl_tensor.device.device_id = c->device_id;
  memset(&good, 0, sizeof good);
  good.data = ids;
  good.device.device_type = kDLCPU;
  good.ndim = 2;
  good.dtype.code = kDLInt;
  good.dtype.bits = 64;
  good.dtype.lanes = 1;
  good.shape = ok_shape;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.tokens = as_doc_ids ? &good : &t->dl_tensor;
  r.doc_ids = as_doc_ids ? &t->dl_tensor : NULL;
  if (c->null_data && part && strstr(part, "data is NULL")) want = MODCTX_OK, part = NULL; /* metadata only */
  got = modctx_check_request(NULL, &m, &r, 0);
  if (want != MODCTX_OK) {
    if (got != want) {
      ++failures;
      fprintf(stderr, "FAILED request %s %s: %s, wanted %s (%s)\n", prefix, c->name, modctx_status_name(got),
              modctx_status_name(want), modctx_last_error());
    } else if (strncmp(modctx_last_error(), prefix, strlen(prefix)) != 0 ||
               (part && !strstr(modctx_last_error(), part))) {
      ++failures;
      fprintf(stderr, "FAILED request %s %s: message \"%s\"\n", prefix, c->name, modctx_last_error());
    }
  } else if (got != MODCTX_OK && strncmp(modctx_last_error(), prefix, strlen(prefix)) == 0) {
    /* Imported: the checks may refuse the request (a float, a wrong shape), the import may not. */
    ++failures;
    fprintf(stderr, "FAILED request %s %s: refused on import: %s\n", prefix, c->name, modctx_last_error());
  }
  if (deleted != 0) {
    ++failures;
    fprintf(stderr, "FAILED request %s %s: a borrowed tensor was released\n", prefix, c->name);
  }
  t->deleter(t);
}

/* Every field of a request and of a model out of range: a status and a message. */
static void request_garbage(void) {
  static const int kv_values[] = {-1, 3, 100, INT32_MIN, INT32_MAX};
  static const uint32_t sizes[] = {0, 1, 4, (uint32_t)sizeof(modctx_request) - 1};
  static const int64_t big[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
  static int64_t ids[6];
  int64_t shape[2] = {2, 3};
  DLTensor t;
  modctx_request r;
  modctx_model m = request_model();
  size_t i, j, k;
  memset(&t, 0, sizeof t);
  t.data = ids;
  t.device.device_type = kDLCPU;
  t.ndim = 2;
  t.dtype.code = kDLInt;
  t.dtype.bits = 64;
  t.dtype.lanes = 1;
  t.shape = shape;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.tokens = &t;
  ++cases;
  if (modctx_check_request(NULL, &m, &r, MODCTX_CHECK_TOKEN_ID_VALUES | MODCTX_CHECK_MODALITY_ID_VALUES) != MODCTX_OK)
    ++failures, fprintf(stderr, "FAILED request baseline: %s\n", modctx_last_error());
  for (i = 0; i < sizeof kv_values / sizeof kv_values[0]; ++i) {
    ++cases;
    r.kv_caches = (modctx_kv_caches)kv_values[i];
    if (modctx_check_request(NULL, &m, &r, 0) != MODCTX_ERR_INVALID_ARGUMENT ||
        !strstr(modctx_last_error(), "request->kv_caches"))
      ++failures, fprintf(stderr, "FAILED kv_caches %d: %s\n", kv_values[i], modctx_last_error());
  }
  r.kv_caches = MODCTX_KV_NONE;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    ++cases;
    r.struct_size = sizes[i];
    if (modctx_check_request(NULL, &m, &r, 0) != MODCTX_ERR_INVALID_ARGUMENT ||
        !strstr(modctx_last_error(), "request->struct_size"))
      ++failures, fprintf(stderr, "FAILED request struct_size %u: %s\n", sizes[i], modctx_last_error());
  }
  r.struct_size = UINT32_MAX; /* a newer caller's larger struct: what this library knows is read */
  ++cases;
  if (modctx_check_request(NULL, &m, &r, 0) != MODCTX_OK)
    ++failures, fprintf(stderr, "FAILED request struct_size UINT32_MAX: %s\n", modctx_last_error());
  r.struct_size = sizeof r;
  /* Any KV state: refused as impossible (the caller's) or checked, never a crash or an overflow. */
  r.kv_caches = MODCTX_KV_STATE;
  m.max_seq_len = INT64_MAX;
  for (i = 0; i < 5; ++i)
    for (j = 0; j < 5; ++j)
      for (k = 0; k < 5; ++k) {
        modctx_status got;
        ++cases;
        r.kv_seq_len = big[i];
        r.kv_capacity = big[j];
        r.kv_batch = big[k];
        got = modctx_check_request(NULL, &m, &r, 0);
        if (got != MODCTX_OK && got != MODCTX_ERR_INVALID_ARGUMENT && got != MODCTX_ERR_KV_CACHE &&
            got != MODCTX_ERR_LENGTH)
          ++failures, fprintf(stderr, "FAILED KV state (%lld, %lld, %lld): %s\n", (long long)big[i], (long long)big[j],
                              (long long)big[k], modctx_last_error());
        if (big[i] < 0 || big[j] < 0 || big[k] < 0 || big[i] > big[j]) {
          if (got != MODCTX_ERR_INVALID_ARGUMENT)
            ++failures, fprintf(stderr, "FAILED KV state (%lld, %lld, %lld): %s, wanted INVALID_ARGUMENT\n",
                                (long long)big[i], (long long)big[j], (long long)big[k], modctx_status_name(got));
        }
      }
  r.kv_caches = MODCTX_KV_NONE;
  /* Model fields: values out of range are refused or mean "not given". */
  {
    static const struct {
      const char *name;
      int64_t vocab, max_seq_len, blocks;
      const char *modalities;
      modctx_status want;
    } models[] = {
        {"vocab INT64_MIN (not given)", INT64_MIN, 0, 0, "", MODCTX_OK},
        {"max_seq_len INT64_MIN (not given)", 0, INT64_MIN, 0, "", MODCTX_OK},
        {"max_seq_len INT64_MAX", 0, INT64_MAX, 0, "", MODCTX_OK},
        {"blocks INT64_MIN (none)", 0, 0, INT64_MIN, "", MODCTX_OK},
        {"blocks INT64_MAX", 0, 0, INT64_MAX, "", MODCTX_OK},
        {"vocab 1 (values not asked for)", 1, 0, 0, "", MODCTX_OK},
        {"a name list starting with a comma", 0, 0, 0, ",text", MODCTX_ERR_INVALID_ARGUMENT},
        {"a name list ending with a comma", 0, 0, 0, "image,", MODCTX_ERR_INVALID_ARGUMENT},
        {"a comma alone", 0, 0, 0, ",", MODCTX_ERR_INVALID_ARGUMENT},
        {"one name for num_modalities 0", 0, 0, 0, "image", MODCTX_OK},
    };
    for (i = 0; i < sizeof models / sizeof models[0]; ++i) {
      modctx_status got;
      modctx_model mm = request_model();
      ++cases;
      mm.vocab_size = models[i].vocab;
      mm.max_seq_len = models[i].max_seq_len;
      mm.cross_attention_blocks = models[i].blocks;
      strcpy(mm.modalities, models[i].modalities);
      got = modctx_check_request(NULL, &mm, &r, 0);
      if (got != models[i].want)
        ++failures, fprintf(stderr, "FAILED model %s: %s (%s)\n", models[i].name, modctx_status_name(got),
                            modctx_last_error());
    }
  }
  {
    /* 128 bytes without a NUL: refused, nothing read past the array (ASan). */
    modctx_model *mm = (modctx_model *)malloc(sizeof(modctx_model));
    ++cases;
    if (mm) {
      *mm = request_model();
      memset(mm->modalities, 'x', sizeof mm->modalities);
      if (modctx_check_request(NULL, mm, &r, 0) != MODCTX_ERR_INVALID_ARGUMENT ||
          !strstr(modctx_last_error(), "model->modalities is not NUL-terminated"))
        ++failures, fprintf(stderr, "FAILED modalities without a NUL: %s\n", modctx_last_error());
      free(mm);
    }
  }
  {
    /* Value checks beyond the known bits. */
    static const uint32_t bits[] = {4, 8, 0x80000000u, UINT32_MAX};
    for (i = 0; i < sizeof bits / sizeof bits[0]; ++i) {
      ++cases;
      if (modctx_check_request(NULL, &m, &r, bits[i]) != MODCTX_ERR_INVALID_ARGUMENT ||
          modctx_check_model(NULL, &m, shape, 2, 0, bits[i]) != MODCTX_ERR_INVALID_ARGUMENT)
        ++failures, fprintf(stderr, "FAILED value_checks 0x%x accepted\n", bits[i]);
    }
  }
}

/* Config text that is not a usable config: a status and a message, never a
 * crash, and the struct untouched. */
static void config_garbage(void) {
  static char deep[4096 + 16];
  static const char binary[] = "\x00\xff\xfe[model]\n\x01dim = 3\n";
  const char *texts[] = {
      "[model]\ndim = 99999999999999999999999\n",
      "[model]\ndim = -64\n",
      "[model]\nvocab_size = -1\n",
      "[model]\nmax_seq_len = 0\n",
      "[model]\ndim = 1e400\n",
      "[model]\ndim = 64\ndim = 64\n",
      "[model\n",
      "[vlm]\narch = \"unknown\"\n",
      "[nonsense]\nkey = 1\n",
      "[model]\n\"dim\" = { a = { b = { c = 1 } } }\n",
      "[vision_encoder]\ntype = \"siglip2\"\nnum_tokens = 0\n[vlm]\narch = \"mot\"\n",
      deep,
  };
  size_t i, n = 0;
  modctx_model m, before;
  memcpy(deep, "x = ", 4);
  for (i = 0; i < 4096; ++i) deep[4 + i] = '[';
  deep[4 + 4096] = '\0';
  memset(&m, 0x33, sizeof m);
  m.struct_size = sizeof m;
  before = m;
  for (i = 0; i < sizeof texts / sizeof texts[0]; ++i) {
    modctx_status got = modctx_model_from_config_string(texts[i], strlen(texts[i]), &m);
    ++cases;
    if (got != MODCTX_ERR_FORMAT || modctx_last_error()[0] == '\0' || memcmp(&m, &before, sizeof m) != 0)
      ++failures, fprintf(stderr, "FAILED config %.40s...: %s (%s)\n", texts[i], modctx_status_name(got),
                          modctx_last_error());
  }
  ++cases;
  n = sizeof binary - 1; /* with its NUL bytes */
  if (modctx_model_from_config_string(binary, n, &m) != MODCTX_ERR_FORMAT || memcmp(&m, &before, sizeof m) != 0)
    ++failures, fprintf(stderr, "FAILED binary config: %s\n", modctx_last_error());
  ++cases;
  m.struct_size = 0;
  if (modctx_model_from_config_string("", 0, &m) != MODCTX_ERR_INVALID_ARGUMENT)
    ++failures, fprintf(stderr, "FAILED config into struct_size 0: %s\n", modctx_last_error());
  ++cases;
  if (modctx_model_from_config("/", &before) == MODCTX_OK) /* a folder */
    ++failures, fprintf(stderr, "FAILED a folder read as a config\n");
}

int main(void) {
  size_t i;
  for (i = 0; i < sizeof table / sizeof table[0]; ++i) run_case(&table[i]);
  for (i = 0; i < sizeof table / sizeof table[0]; ++i) run_request_case(&table[i], 0);
  for (i = 0; i < sizeof table / sizeof table[0]; ++i) run_request_case(&table[i], 1);
  request_garbage();
  config_garbage();
  sequences();
  devices();
  enum_values();
  max_rank();
  refused_calls();
  empty_view_at_address_space_end();
  if (tt_live_allocations() != 0) {
    ++failures;
    fprintf(stderr, "FAILED: %d test tensors were never released\n", tt_live_allocations());
  }
  printf("%d passed, %d failed\n", cases - failures, failures);
  return failures ? 1 : 0;
}
