/*
 * modctx.h: the C ABI of modctx.
 *
 * modctx builds and checks the multimodal inputs of a transformer forward
 * pass (a ModalityContext) exactly as the KempnerForge reference does: same
 * accept/reject, same first error, byte-identical messages.
 *
 * Pure C99; also valid C++. Link with -lmodctx (pkg-config: modctx), or
 * dlopen libmodctx.so.1 and resolve the single symbol `modctx_get_api`.
 *
 * Conventions (libgit2's):
 *   - Every function that can fail returns a modctx_status; MODCTX_OK is 0.
 *     On failure, modctx_last_error() holds this thread's message for it.
 *     Successful calls leave the last message alone.
 *   - Objects are opaque handles: modctx_<noun>_new / _build create them,
 *     modctx_<noun>_free destroys them; free accepts NULL.
 *   - Every pointer argument may be NULL without crashing: the answer is then
 *     MODCTX_ERR_INVALID_ARGUMENT (or, where documented, "not wanted").
 *   - No C++ exception ever leaves a function of this header.
 *
 * Threads:
 *   - A modctx_builder is mutable: use it from one thread at a time.
 *   - A modctx_context is immutable: any number of threads may read, check,
 *     describe and export it at once. Freeing it must not race with its use.
 *   - modctx_last_error() is per thread.
 *
 * Tensor ownership (DLPack and modctx_tensor_desc alike):
 *   - A tensor handed to modctx is ALWAYS consumed (the one exception: the
 *     tensors a modctx_request points at are borrowed, read during the call
 *     only, never released; see modctx_request). On success modctx holds
 *     it, without copying its memory, until the last builder and context
 *     holding it is freed; then its deleter runs, exactly once. On any
 *     failure (NULL builder, unknown field, malformed descriptor,
 *     unsupported version, out of memory) its deleter runs exactly once
 *     before the call returns. A NULL deleter is allowed.
 *   - The deleter may run on whichever thread frees the last holder.
 *   - Tensors handed out (modctx_context_get_dlpack*) are new managed
 *     tensors sharing the memory; the caller calls their deleter once.
 *
 * DLPack: include your dlpack.h (0.6 or 1.x) before this header, or none:
 * then this header declares the DLPack 1.0 types it uses itself (and sets
 * DLPack's include guard, so a later #include <dlpack/dlpack.h> is skipped).
 */
#ifndef MODCTX_H
#define MODCTX_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ DLPack */

#if !defined(DLPACK_DLPACK_H_)
/* No DLPack header was included: declare the DLPack 1.0 ABI ourselves. */
#define DLPACK_DLPACK_H_
#define DLPACK_MAJOR_VERSION 1
#define DLPACK_MINOR_VERSION 0
#ifdef __cplusplus
#define DLPACK_EXTERN_C extern "C"
#else
#define DLPACK_EXTERN_C
#endif
#define DLPACK_DLL

typedef struct {
  uint32_t major;
  uint32_t minor;
} DLPackVersion;

typedef enum {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16
} DLDeviceType;

typedef struct {
  DLDeviceType device_type;
  int32_t device_id;
} DLDevice;

typedef enum {
  kDLInt = 0,
  kDLUInt = 1,
  kDLFloat = 2,
  kDLOpaqueHandle = 3,
  kDLBfloat = 4,
  kDLComplex = 5,
  kDLBool = 6
} DLDataTypeCode;

typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

typedef struct {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
  DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

#define DLPACK_FLAG_BITMASK_READ_ONLY (1UL << 0UL)
#define DLPACK_FLAG_BITMASK_IS_COPIED (1UL << 1UL)

typedef struct DLManagedTensorVersioned {
  DLPackVersion version;
  void *manager_ctx;
  void (*deleter)(struct DLManagedTensorVersioned *self);
  uint64_t flags;
  DLTensor dl_tensor;
} DLManagedTensorVersioned;

#elif !defined(DLPACK_MAJOR_VERSION)
/* A DLPack 0.x header was included (e.g. 0.6: Debian's libdlpack-dev,
 * LibTorch 1.13's ATen/dlpack.h): add the 1.0 types it lacks. */
typedef struct {
  uint32_t major;
  uint32_t minor;
} DLPackVersion;

#define DLPACK_FLAG_BITMASK_READ_ONLY (1UL << 0UL)
#define DLPACK_FLAG_BITMASK_IS_COPIED (1UL << 1UL)

typedef struct DLManagedTensorVersioned {
  DLPackVersion version;
  void *manager_ctx;
  void (*deleter)(struct DLManagedTensorVersioned *self);
  uint64_t flags;
  DLTensor dl_tensor;
} DLManagedTensorVersioned;
#endif

/* DLPack's bool type code (added in DLPack 0.8; absent from 0.6 headers). */
#define MODCTX_DLPACK_BOOL 6

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MODCTX_API
#elif defined(__GNUC__)
#define MODCTX_API __attribute__((visibility("default")))
#else
#define MODCTX_API
#endif

/* ------------------------------------------------------------------ versions */

/* The C ABI's version: modctx_abi_version() and the table of modctx_get_api.
 * It grows by one each time functions are appended; nothing is ever removed
 * or reordered within a SONAME (libmodctx.so.1). Version 2 added
 * MODCTX_ERR_LENGTH, status classes, whole requests (modctx_request,
 * modctx_check_request), models from their configs, and grew modctx_model
 * and modctx_forward_args. */
#define MODCTX_ABI_VERSION 2u

/* ------------------------------------------------------------------ status */

/* Values never change once released; new ones are appended.
 * Whose fault each is (modctx_status_class_of, below): R is the request's
 * (a server answers 400), S the server's: its own use of modctx, the
 * machine, or modctx (a server answers 500). */
typedef enum modctx_status {
  MODCTX_OK = 0,
  MODCTX_ERR_INVALID_ARGUMENT = 1,  /* S: NULL where a value is needed, unknown enum value, malformed tensor */
  MODCTX_ERR_ROUTES = 2,            /* R: construction: more than one of inputs_embeds, prefix_embeds, image_features */
  MODCTX_ERR_IMAGE_MASK = 3,        /* R: construction: image_mask without image_features */
  MODCTX_ERR_MODALITY_IDS = 4,      /* R: construction: modality_ids without prefix_embeds or inputs_embeds */
  MODCTX_ERR_KEY_PADDING_MASK = 5,  /* R: construction: key_padding_mask without prefix_embeds or inputs_embeds */
  MODCTX_ERR_FORWARD_INPUTS = 6,    /* R: forward: not exactly one of tokens and inputs_embeds */
  MODCTX_ERR_KV_CACHE = 7,          /* R: KV caches with a training-only field, without room, of another batch */
  MODCTX_ERR_DTYPE = 8,             /* R: a tensor has the wrong dtype */
  MODCTX_ERR_SHAPE = 9,             /* R: a tensor has the wrong rank or shape */
  MODCTX_ERR_DEVICE = 10,           /* R: tensors on different devices */
  MODCTX_ERR_MISSING_FIELD = 11,    /* R: a field that is needed (by the model, or asked for) is not set */
  MODCTX_ERR_UNSUPPORTED = 12,      /* S: valid but not servable here: DLPack major version, dtype width, device */
  MODCTX_ERR_OUT_OF_MEMORY = 13,    /* S: an allocation failed */
  MODCTX_ERR_INTERNAL = 14,         /* S: a bug in modctx: please report it with the message */
  MODCTX_ERR_SLICE = 15,            /* R: a slice step of zero (or, applied to a tensor, below zero) */
  MODCTX_ERR_UNUSED_FIELD = 16,     /* R: a field the model's architecture does not use */
  MODCTX_ERR_VALUE = 17,            /* R: tensor values out of range (value checks, asked for by name) */
  MODCTX_ERR_FORMAT = 18,           /* R: a file or document that is not a readable context */
  MODCTX_ERR_IO = 19,               /* S: a file that cannot be opened, read or written (see the message) */
  MODCTX_ERR_LENGTH = 20,           /* R: more positions than the model's max_seq_len holds (ABI 2) */
  MODCTX_STATUS_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not a status */
  MODCTX_STATUS_MAX_ = 0x7fffffff   /* keeps the enum int-sized; not a status */
} modctx_status;

/* Whose fault a status is, for a server's answer (ABI 2). */
typedef enum modctx_status_class {
  MODCTX_CLASS_OK = 0,      /* MODCTX_OK */
  MODCTX_CLASS_REQUEST = 1, /* the request is wrong (its tensors, shapes, dtypes, devices, values, lengths,
                               or a document it was sent as): answer 400 */
  MODCTX_CLASS_SERVER = 2,  /* the server's: a NULL or malformed argument it passed, a check this build
                               cannot serve, memory, a file it could not read, a bug: answer 500 */
  MODCTX_CLASS_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not a class */
  MODCTX_CLASS_MAX_ = 0x7fffffff
} modctx_status_class;

/* ------------------------------------------------------------------ fields */

typedef enum modctx_field {
  MODCTX_FIELD_INPUTS_EMBEDS = 0,    /* (B, S, D) floating: pre-embedded hidden state */
  MODCTX_FIELD_PREFIX_EMBEDS = 1,    /* (B, N, D) floating: image tokens prepended to the text */
  MODCTX_FIELD_IMAGE_FEATURES = 2,   /* (B, N, D) floating: cross-attention K/V */
  MODCTX_FIELD_IMAGE_MASK = 3,       /* (B, N) bool: validity of image_features tokens */
  MODCTX_FIELD_MODALITY_IDS = 4,     /* (B, N + T) int64: modality tag per residual position */
  MODCTX_FIELD_KEY_PADDING_MASK = 5, /* (B, N + T) bool: key validity over the residual */
  MODCTX_FIELD_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not a field */
  MODCTX_FIELD_MAX_ = 0x7fffffff     /* keeps the enum int-sized; not a field */
} modctx_field;

#define MODCTX_FIELD_COUNT 6

/* ------------------------------------------------------------------ slices */

/* Python's slice(start, stop, step); a part whose flag is clear is None. */
typedef struct modctx_slice {
  int64_t start, stop, step;
  uint32_t flags; /* MODCTX_SLICE_HAS_* */
} modctx_slice;

#define MODCTX_SLICE_HAS_START 1u
#define MODCTX_SLICE_HAS_STOP 2u
#define MODCTX_SLICE_HAS_STEP 4u

/* ------------------------------------------------------------------ handles */

/* Mutable: collects fields, then builds contexts. One thread at a time. */
typedef struct modctx_builder modctx_builder;
/* Immutable, validated context. Safe to share between threads. */
typedef struct modctx_context modctx_context;

/* ------------------------------------------------------------------ plain-C tensors */

/* Element types of modctx_tensor_desc (PyTorch's names). */
typedef enum modctx_dtype {
  MODCTX_DTYPE_FLOAT32 = 0,
  MODCTX_DTYPE_FLOAT64 = 1,
  MODCTX_DTYPE_FLOAT16 = 2,
  MODCTX_DTYPE_BFLOAT16 = 3,
  MODCTX_DTYPE_INT64 = 4,
  MODCTX_DTYPE_INT32 = 5,
  MODCTX_DTYPE_INT16 = 6,
  MODCTX_DTYPE_INT8 = 7,
  MODCTX_DTYPE_UINT8 = 8,
  MODCTX_DTYPE_BOOL = 9,
  MODCTX_DTYPE_COMPLEX64 = 10,
  MODCTX_DTYPE_COMPLEX128 = 11,
  MODCTX_DTYPE_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not a dtype */
  MODCTX_DTYPE_MAX_ = 0x7fffffff
} modctx_dtype;

/* A tensor without DLPack. The same rules as a DLPack tensor: validated,
 * never copied, always consumed (release runs exactly once, on success when
 * the last holder goes, on failure before the call returns).
 * shape and strides are read during the call only. */
typedef struct modctx_tensor_desc {
  uint32_t struct_size;      /* sizeof(modctx_tensor_desc): lets the struct grow */
  modctx_dtype dtype;
  void *data;                /* may be NULL only when the tensor has no elements */
  int32_t ndim;              /* 0 ... MODCTX_MAX_NDIM */
  const int64_t *shape;      /* ndim sizes, each >= 0 (NULL allowed when ndim == 0) */
  const int64_t *strides;    /* ndim strides in elements, each >= 0; NULL: contiguous */
  int32_t device_type;       /* DLPack's device codes: 1 CPU, 2 CUDA, 10 ROCm, ... */
  int32_t device_id;         /* ordinal on that device (0 for the CPU) */
  void (*release)(void *release_ctx); /* may be NULL */
  void *release_ctx;
} modctx_tensor_desc;

/* The largest ndim modctx accepts. */
#define MODCTX_MAX_NDIM 32

/* ------------------------------------------------------------------ builders */

/* A new, empty builder (its build is the text-only context). */
MODCTX_API modctx_status modctx_builder_new(modctx_builder **out);

/* A builder holding the fields and slice of an existing context (Python's
 * dataclasses.replace: change some, build again, the checks run again). */
MODCTX_API modctx_status modctx_builder_new_from_context(const modctx_context *context, modctx_builder **out);

MODCTX_API void modctx_builder_free(modctx_builder *builder); /* NULL is fine */

/* Sets a field from a DLPack tensor, replacing what was there. The tensor is
 * always consumed (see "Tensor ownership"). */
MODCTX_API modctx_status modctx_builder_set_dlpack(modctx_builder *builder, modctx_field field,
                                                   DLManagedTensor *tensor);

/* The same for a versioned DLPack tensor. Only major version 1 is read;
 * any other is MODCTX_ERR_UNSUPPORTED (the deleter still runs). The
 * read-only flag is accepted: modctx never writes. */
MODCTX_API modctx_status modctx_builder_set_dlpack_versioned(modctx_builder *builder, modctx_field field,
                                                             DLManagedTensorVersioned *tensor);

/* The same for a plain-C descriptor. */
MODCTX_API modctx_status modctx_builder_set_tensor(modctx_builder *builder, modctx_field field,
                                                   const modctx_tensor_desc *tensor);

/* Unsets a field (Python's None). */
MODCTX_API modctx_status modctx_builder_clear(modctx_builder *builder, modctx_field field);

/* Sets the output slice; NULL unsets it. Not checked here (the reference
 * does not check it at construction); unknown flag bits are invalid. */
MODCTX_API modctx_status modctx_builder_set_output_slice(modctx_builder *builder, const modctx_slice *slice);

/* Runs the construction checks (in the reference's order) and, when they
 * pass, makes a new context sharing the builder's tensors. The builder is
 * unchanged and may build again. On failure *out is set to NULL and the
 * status is MODCTX_ERR_ROUTES, _IMAGE_MASK, _MODALITY_IDS or
 * _KEY_PADDING_MASK with the reference's message. */
MODCTX_API modctx_status modctx_builder_build(const modctx_builder *builder, modctx_context **out);

/* ------------------------------------------------------------------ contexts */

/* Releases the caller's reference; the context goes when the last one does. */
MODCTX_API void modctx_context_free(modctx_context *context); /* NULL is fine */

/* Another reference to the same immutable context (no copy): free each. */
MODCTX_API modctx_status modctx_context_retain(modctx_context *context, modctx_context **out);

/* *out = 1 when the field is set, 0 when not. */
MODCTX_API modctx_status modctx_context_has(const modctx_context *context, modctx_field field, int *out);

/* A new managed tensor sharing the field's memory and keeping it alive
 * until its deleter runs; strides always filled. An unset field is
 * MODCTX_ERR_MISSING_FIELD with *out = NULL. The versioned form carries
 * version 1.0 and DLPACK_FLAG_BITMASK_READ_ONLY. bool is kDLBool (6). */
MODCTX_API modctx_status modctx_context_get_dlpack(const modctx_context *context, modctx_field field,
                                                   DLManagedTensor **out);
MODCTX_API modctx_status modctx_context_get_dlpack_versioned(const modctx_context *context, modctx_field field,
                                                             DLManagedTensorVersioned **out);

/* *has = 1 and *out filled when the context has an output slice; else
 * *has = 0 and *out zeroed. */
MODCTX_API modctx_status modctx_context_get_output_slice(const modctx_context *context, int *has,
                                                         modctx_slice *out);

/* One line for a log, e.g. "ModalityContext(prefix_embeds=Tensor[2, 576, 4096]
 * bfloat16 cuda:0, output_slice=slice(576, None, None))", with snprintf's
 * rules: writes at most cap bytes including the terminating NUL (buf may be
 * NULL when cap is 0), and *len (len may be NULL) receives the full length
 * without the NUL. Truncation is not an error. */
MODCTX_API modctx_status modctx_context_describe(const modctx_context *context, char *buf, size_t cap,
                                                 size_t *len);

/* ------------------------------------------------------------------ forward checks */

/* The checks at the top of the reference's Transformer.forward, in order:
 * MODCTX_ERR_FORWARD_INPUTS, then MODCTX_ERR_KV_CACHE (output_slice,
 * prefix_embeds, image_features, modality_ids), then MODCTX_ERR_DTYPE
 * (modality_ids not int64). context may be NULL: a missing context is an
 * empty one. has_tokens and has_kv_caches: nonzero means given. */
MODCTX_API modctx_status modctx_check_forward(const modctx_context *context, int has_tokens, int has_kv_caches);

/* ------------------------------------------------------------------ slices */

/* Python's slice.indices(length), plus *count = len(range(start, stop, step)).
 * A step of zero is MODCTX_ERR_SLICE ("slice step cannot be zero"); a negative
 * length is MODCTX_ERR_SLICE ("length should not be negative"). */
MODCTX_API modctx_status modctx_slice_indices(const modctx_slice *slice, int64_t length, int64_t *start,
                                              int64_t *stop, int64_t *step, int64_t *count);

/* h[:, output_slice, :] as PyTorch computes it, on a hidden state of at least
 * 3 dims: *out is a new managed tensor viewing h's memory (no copy), with
 * PyTorch's shape, strides and address (h's byte_offset folded into data,
 * byte_offset 0; strides always set). hidden is consumed, as every tensor
 * handed in: on success *out owns it and hidden's deleter runs when *out's
 * deleter runs; on failure it has run before the call returns. With no output
 * slice, the view is all of h. Errors in PyTorch's order: hidden's descriptor
 * (as any import), fewer than 3 dims (MODCTX_ERR_SHAPE, "too many indices for
 * tensor of dimension 2"), then a step of 0 or below (MODCTX_ERR_SLICE).
 * Computed on the descriptor, without LibTorch: any device works. */
MODCTX_API modctx_status modctx_context_apply_output_slice(const modctx_context *context, DLManagedTensor *hidden,
                                                           DLManagedTensor **out);

/* ------------------------------------------------------------------ models */

/* The reference's architectures (its names: text, joint_decoder,
 * cross_attention, mot, moma). */
typedef enum modctx_arch {
  MODCTX_ARCH_TEXT = 0,
  MODCTX_ARCH_JOINT_DECODER = 1,
  MODCTX_ARCH_CROSS_ATTENTION = 2,
  MODCTX_ARCH_MOT = 3,
  MODCTX_ARCH_MOMA = 4,
  MODCTX_ARCH_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not an architecture */
  MODCTX_ARCH_MAX_ = 0x7fffffff
} modctx_arch;

/* Versioned structs that grow (modctx_model, modctx_forward_args,
 * modctx_request): struct_size comes first; set it to sizeof(the struct) of
 * the header you compile with. Fields are only ever appended, each new
 * version's first field at the previous version's sizeof. modctx accepts any
 * struct_size from the struct's first version's size up, and reads (or
 * writes) a field only when struct_size covers it: a program built against
 * an older header keeps working, its struct simply ends before the newer
 * fields (which then mean "not given"). A struct_size below the first
 * version's size is MODCTX_ERR_INVALID_ARGUMENT. */

/* The size of modctx_model in ABI version 1 (its fields up to text_dtype). */
#define MODCTX_MODEL_SIZE_V1 offsetof(modctx_model, vocab_size)

/* What modctx needs to know of a model: typed in, or filled from the model's
 * own config (modctx_model_from_config). */
typedef struct modctx_model {
  uint32_t struct_size;     /* sizeof(modctx_model); at least MODCTX_MODEL_SIZE_V1 */
  modctx_arch arch;
  int64_t hidden_size;      /* D, > 0 */
  int64_t num_modalities;   /* MoT / MoMa: modality_ids in [0, num_modalities); 0 means the number of
                               names in `modalities`, or 2 (image, text) when there are none */
  int64_t num_image_tokens; /* N when the model fixes it (MoT splits the residual there); < 0: not fixed */
  int32_t text_dtype;       /* the token embedding's modctx_dtype; < 0: not given */
  /* ABI version 2: what a model's config fixes. Zero (a zeroed struct) is "not given" for each. */
  int64_t vocab_size;       /* token ids in [0, vocab_size) (the embedding's rows); <= 0: not given */
  int64_t max_seq_len;      /* positions one forward may use (the RoPE table's length); <= 0: not given */
  int64_t cross_attention_blocks; /* Cross-Attention: how many blocks fire; 0: not given (at least one
                                     is assumed); < 0: none, so image_features is not required */
  char modalities[128];     /* MoT / MoMa: the modality names in order, comma-separated, NUL-terminated
                               ("image,text"); "": not given (image, text) */
} modctx_model;

/* Value checks for modctx_check_model and modctx_check_request: these READ
 * tensor data (only host memory; a tensor elsewhere, or one given without
 * data, is MODCTX_ERR_UNSUPPORTED). */
#define MODCTX_CHECK_MODALITY_ID_VALUES 1u /* modality_ids within [0, num_modalities) */
#define MODCTX_CHECK_TOKEN_ID_VALUES 2u    /* token ids within [0, vocab_size) (ABI 2; modctx_check_request) */

/* Checks a context with its forward arguments against a model, in order
 * (the first failure is returned):
 *  1. the model itself and the KV caches' state: an impossible one is the
 *     caller's mistake (MODCTX_ERR_INVALID_ARGUMENT);
 *  2. the reference's forward checks (as modctx_check_forward);
 *  3. the token ids' dtype: int64 or int32, what nn.Embedding takes
 *     (MODCTX_ERR_DTYPE);
 *  4. that the residual can be built: tokens (B, T), inputs_embeds (B, S, D),
 *     prefix_embeds (B, N, D) with the tokens' B and the model's D
 *     (MODCTX_ERR_SHAPE);
 *  5. the reference's model-time checks with its messages: MoT / MoMa
 *     without modality_ids (MODCTX_ERR_MISSING_FIELD), modality_ids not of
 *     the residual's shape (MODCTX_ERR_SHAPE), MoT's streams against its
 *     modalities, Cross-Attention without image_features when a block fires
 *     (MODCTX_ERR_MISSING_FIELD), then an output slice step of 0 or below
 *     (MODCTX_ERR_SLICE);
 *  6. positions and KV caches: the RoPE budget, the caches' fill plus the
 *     residual's length within max_seq_len (MoT counts image and text
 *     positions apart) (MODCTX_ERR_LENGTH); the caches' room and batch;
 *     doc_ids or key_padding_mask with KV caches (MODCTX_ERR_KV_CACHE);
 *  7. fields the architecture does not use (doc_ids with MoT too)
 *     (MODCTX_ERR_UNUSED_FIELD); shapes with B, T, N, D bound across fields,
 *     doc_ids over the residual (MODCTX_ERR_SHAPE); dtypes
 *     (MODCTX_ERR_DTYPE); one device for all, tokens and doc_ids included
 *     (MODCTX_ERR_DEVICE);
 *  8. the value checks asked for in value_checks, token ids first
 *     (MODCTX_ERR_VALUE).
 * context may be NULL (an empty context). tokens_shape: the token ids'
 * shape, tokens_ndim entries; NULL: no tokens. Reads metadata only unless
 * value_checks asks otherwise; the token ids here are a shape without
 * values, so MODCTX_CHECK_TOKEN_ID_VALUES answers MODCTX_ERR_UNSUPPORTED
 * (modctx_check_request takes the ids themselves). */
MODCTX_API modctx_status modctx_check_model(const modctx_context *context, const modctx_model *model,
                                      const int64_t *tokens_shape, int32_t tokens_ndim, int has_kv_caches,
                                      uint32_t value_checks);

/* ------------------------------------------------------------------ requests (ABI 2) */

/* What a request says of the KV caches (modctx_request.kv_caches). */
typedef enum modctx_kv_caches {
  MODCTX_KV_NONE = 0,  /* no KV caches (a training or prefill forward) */
  MODCTX_KV_GIVEN = 1, /* KV caches are given; their state is not known */
  MODCTX_KV_STATE = 2, /* KV caches are given, in the state kv_seq_len, kv_capacity, kv_batch */
  MODCTX_KV_MIN_ = -0x7fffffff - 1, /* with _MAX_: any int is in range; not a value */
  MODCTX_KV_MAX_ = 0x7fffffff
} modctx_kv_caches;

/* A forward call's arguments besides the context: Transformer.forward(tokens,
 * modality, kv_caches, doc_ids). A versioned struct (see modctx_model): set
 * struct_size to sizeof(modctx_request); zero it first (memset) and the rest
 * means "not given".
 *
 * The tensors are BORROWED, not consumed (unlike every tensor handed to a
 * builder): modctx reads their descriptors, and their data only for the value
 * checks asked for, during the call only; it keeps no pointer, calls no
 * deleter, and never writes. They are validated as any tensor handed in
 * (rank, sizes, strides, dtype and device codes, alignment, byte extent;
 * MODCTX_ERR_INVALID_ARGUMENT or _UNSUPPORTED, the message starting with
 * "tokens: " or "doc_ids: "). data may be NULL whatever the shape: the tensor
 * is then described, not given (metadata only), and a value check on it is
 * MODCTX_ERR_UNSUPPORTED. */
typedef struct modctx_request {
  uint32_t struct_size;       /* sizeof(modctx_request) */
  modctx_kv_caches kv_caches; /* MODCTX_KV_*; any other value is MODCTX_ERR_INVALID_ARGUMENT */
  const DLTensor *tokens;     /* (B, T) token ids, int64 or int32; NULL: no tokens (inputs_embeds) */
  const DLTensor *doc_ids;    /* (B, N + T) document ids of packed sequences; NULL: none */
  int64_t kv_seq_len;         /* MODCTX_KV_STATE: positions already in the caches (>= 0) */
  int64_t kv_capacity;        /* MODCTX_KV_STATE: positions the caches hold (>= kv_seq_len) */
  int64_t kv_batch;           /* MODCTX_KV_STATE: the caches' batch size (>= 0) */
} modctx_request;

/* Checks a context with a whole forward request against a model: the checks
 * of modctx_check_model in the same order, with the token ids' dtype and
 * device, doc_ids and the KV caches' state, and the value checks asked for
 * (MODCTX_CHECK_MODALITY_ID_VALUES, MODCTX_CHECK_TOKEN_ID_VALUES: the latter
 * needs the model's vocab_size). context may be NULL (an empty context);
 * model and request may not. */
MODCTX_API modctx_status modctx_check_request(const modctx_context *context, const modctx_model *model,
                                              const modctx_request *request, uint32_t value_checks);

/* ------------------------------------------------------------------ model configs (ABI 2) */

/* Fills *out from a KempnerForge training config (TOML): the architecture
 * and its modalities, dim, vocab_size, max_seq_len, the image-token count,
 * the Cross-Attention blocks, the text dtype, with KempnerForge's defaults
 * and derived as it derives them (see modctx/config.hpp). out->struct_size
 * must be set by the caller (at least MODCTX_MODEL_SIZE_V1); every field it
 * covers is written (fields past it are not), struct_size is kept. A config
 * that cannot be used is MODCTX_ERR_FORMAT with a message naming the key
 * path ("train.toml: model.dim: expected an integer, found a string"); a
 * file that cannot be read is MODCTX_ERR_IO; modality names the struct
 * cannot carry (a comma in a name, or 128 bytes and more in all) are
 * MODCTX_ERR_UNSUPPORTED. On failure *out is unchanged. */
MODCTX_API modctx_status modctx_model_from_config(const char *path, modctx_model *out);

/* The same from TOML text in memory: len bytes (no NUL needed; text may be
 * NULL only when len is 0). Messages name the config "<config>". */
MODCTX_API modctx_status modctx_model_from_config_string(const char *text, size_t len, modctx_model *out);

/* The name of an architecture ("cross_attention"); NULL for unknown values. */
MODCTX_API const char *modctx_arch_name(modctx_arch arch);

/* ------------------------------------------------------------------ strategies */

/* The context the reference's strategy for arch builds from projected image
 * embeddings (B, N, D) and a text batch whose token ids have shape
 * input_ids_shape[0..1] = (B, T) and live on (input_ids_device_type,
 * input_ids_device_id) (DLPack device codes):
 *   JOINT_DECODER:   prefix_embeds, output_slice = slice(N, None, None), key_padding_mask
 *   CROSS_ATTENTION: image_features, image_mask
 *   MOT, MOMA:       as JOINT_DECODER, plus modality_ids (B, N + T) int64, 0 then 1
 * frame_mask (B, F) bool (NULL: none) yields the masks; F must divide N
 * (MODCTX_ERR_SHAPE with the reference's message). image_embeds is held
 * without copying; the masks and tags are allocated, on the frame mask's and
 * the ids' devices: where this LibTorch cannot allocate,
 * MODCTX_ERR_UNSUPPORTED. image_embeds and frame_mask are always consumed.
 * MODCTX_ARCH_TEXT has no strategy (MODCTX_ERR_INVALID_ARGUMENT). */
MODCTX_API modctx_status modctx_compose(modctx_arch arch, DLManagedTensor *image_embeds,
                                        const int64_t *input_ids_shape, int32_t input_ids_device_type,
                                        int32_t input_ids_device_id, DLManagedTensor *frame_mask,
                                        modctx_context **out);

/* ------------------------------------------------------------------ residual */

/* The residual's length without building it: N + T with prefix_embeds, S
 * with inputs_embeds (text_length ignored), else T = text_length. */
MODCTX_API modctx_status modctx_context_residual_length(const modctx_context *context, int64_t text_length,
                                                        int64_t *out);

/* The residual as the reference builds it: cat([prefix_embeds cast to the
 * text embeddings' dtype, text_embeds], dim=1). With inputs_embeds the
 * residual is inputs_embeds itself (text_embeds must then be NULL); with
 * neither, text_embeds itself. Allocates on the text embeddings' device
 * (MODCTX_ERR_UNSUPPORTED where this LibTorch cannot). text_embeds is
 * consumed; *out is a new managed tensor. */
MODCTX_API modctx_status modctx_context_compose_residual(const modctx_context *context,
                                                         DLManagedTensor *text_embeds, DLManagedTensor **out);

/* ------------------------------------------------------------------ files */

/* The size of modctx_forward_args in ABI version 1 (its fields up to has_kv_caches). */
#define MODCTX_FORWARD_ARGS_SIZE_V1 offsetof(modctx_forward_args, kv_seq_len)

/* Forward arguments saved with a context (a training job's call). A
 * versioned struct (see modctx_model). */
typedef struct modctx_forward_args {
  uint32_t struct_size;                 /* sizeof(modctx_forward_args); at least MODCTX_FORWARD_ARGS_SIZE_V1 */
  int present;                          /* load: 1 when the file holds forward arguments */
  int has_tokens;                       /* 1: token ids of shape tokens_shape[0 .. tokens_ndim) */
  int32_t tokens_ndim;
  int64_t tokens_shape[MODCTX_MAX_NDIM];
  int has_kv_caches;
  /* ABI version 2: the KV caches' state (see modctx_request), when known. */
  int64_t kv_seq_len;
  int64_t kv_capacity;
  int64_t kv_batch;
  int kv_state_present;                 /* 1: the three above hold the state (and has_kv_caches is 1) */
} modctx_forward_args;

/* Saves a context (and forward arguments when forward is not NULL and
 * forward->present) as a safetensors file, valid for any safetensors reader:
 * tensor names are the field names; the output slice and the forward
 * arguments are JSON text in the metadata ("modctx.output_slice",
 * "modctx.forward"). With forward->kv_state_present (when struct_size covers
 * it), the KV caches' state is saved too. Written to a temporary file,
 * flushed, then renamed over path. Only CPU tensors with data can be saved
 * (MODCTX_ERR_UNSUPPORTED); a file that cannot be written is MODCTX_ERR_IO. */
MODCTX_API modctx_status modctx_context_save_safetensors(const modctx_context *context, const char *path,
                                                         const modctx_forward_args *forward);

/* Loads a safetensors file zero-copy: the file is mapped (privately) and the
 * context's tensors view the mapping, which lives until the last tensor
 * goes. The whole header is validated first; a malformed or hostile file is
 * MODCTX_ERR_FORMAT (a valid dtype LibTorch cannot hold: _UNSUPPORTED; an
 * unreadable path: _IO), never a crash or a read outside the file. Then the
 * construction checks run (the reference's statuses and messages). forward
 * (may be NULL: not wanted) receives the saved forward arguments;
 * forward->struct_size must be set; the fields it covers are written (the KV
 * caches' state from ABI version 2 on). */
MODCTX_API modctx_status modctx_context_load_safetensors(const char *path, modctx_context **out,
                                                 modctx_forward_args *forward);

/* The same from bytes in memory (a socket, a cache). The bytes are copied
 * once into memory the context owns, so data may be freed after the call. */
MODCTX_API modctx_status modctx_context_load_safetensors_from_memory(const void *data, size_t size, modctx_context **out,
                                                             modctx_forward_args *forward);

/* ------------------------------------------------------------------ errors and versions */

/* This thread's last failure message; "" when none. Never NULL. Valid until
 * this thread's next failing call into modctx. */
MODCTX_API const char *modctx_last_error(void);

/* The status's identifier, e.g. "MODCTX_ERR_UNSUPPORTED"; unknown values
 * give "MODCTX_ERR_UNKNOWN". Never NULL. */
MODCTX_API const char *modctx_status_name(modctx_status status);

/* Whose fault a status is (ABI 2): MODCTX_CLASS_OK for MODCTX_OK,
 * MODCTX_CLASS_REQUEST for the request's (the statuses marked R in
 * modctx_status: a server answers 400), MODCTX_CLASS_SERVER for the server's
 * (marked S, and unknown values: a server answers 500). */
MODCTX_API modctx_status_class modctx_status_class_of(modctx_status status);

/* The field's name, e.g. "prefix_embeds"; unknown values give NULL. */
MODCTX_API const char *modctx_field_name(modctx_field field);

/* "MAJOR.MINOR.PATCH" */
MODCTX_API const char *modctx_version(void);

/* MODCTX_ABI_VERSION of the library loaded. */
MODCTX_API uint32_t modctx_abi_version(void);

/* ------------------------------------------------------------------ dlopen table */

/* Every function above, for dlopen users: one dlsym("modctx_get_api").
 * Append-only: entries are never removed or reordered; a table for ABI
 * version N is a prefix of the table for N + 1. A program built for version
 * N reads only its prefix: check struct_size (or served_abi_version) before
 * using an entry of a later version. */
typedef struct modctx_api {
  uint32_t served_abi_version; /* the ABI version this table was served for */
  uint32_t struct_size; /* sizeof(struct modctx_api) of the library */
  /* ABI version 1 */
  modctx_status (*builder_new)(modctx_builder **out);
  void (*builder_free)(modctx_builder *builder);
  modctx_status (*builder_set_dlpack)(modctx_builder *builder, modctx_field field, DLManagedTensor *tensor);
  modctx_status (*builder_set_dlpack_versioned)(modctx_builder *builder, modctx_field field,
                                                DLManagedTensorVersioned *tensor);
  modctx_status (*builder_clear)(modctx_builder *builder, modctx_field field);
  modctx_status (*builder_set_output_slice)(modctx_builder *builder, const modctx_slice *slice);
  modctx_status (*builder_build)(const modctx_builder *builder, modctx_context **out);
  void (*context_free)(modctx_context *context);
  modctx_status (*context_has)(const modctx_context *context, modctx_field field, int *out);
  modctx_status (*context_get_dlpack)(const modctx_context *context, modctx_field field, DLManagedTensor **out);
  modctx_status (*context_get_dlpack_versioned)(const modctx_context *context, modctx_field field,
                                                DLManagedTensorVersioned **out);
  modctx_status (*context_get_output_slice)(const modctx_context *context, int *has, modctx_slice *out);
  modctx_status (*context_describe)(const modctx_context *context, char *buf, size_t cap, size_t *len);
  modctx_status (*check_forward)(const modctx_context *context, int has_tokens, int has_kv_caches);
  modctx_status (*slice_indices)(const modctx_slice *slice, int64_t length, int64_t *start, int64_t *stop,
                                 int64_t *step, int64_t *count);
  const char *(*last_error)(void);
  const char *(*status_name)(modctx_status status);
  const char *(*version)(void);
  uint32_t (*abi_version)(void);
  modctx_status (*builder_new_from_context)(const modctx_context *context, modctx_builder **out);
  modctx_status (*builder_set_tensor)(modctx_builder *builder, modctx_field field, const modctx_tensor_desc *tensor);
  modctx_status (*context_retain)(modctx_context *context, modctx_context **out);
  modctx_status (*context_apply_output_slice)(const modctx_context *context, DLManagedTensor *hidden,
                                              DLManagedTensor **out);
  const char *(*field_name)(modctx_field field);
  modctx_status (*check_model)(const modctx_context *context, const modctx_model *model, const int64_t *tokens_shape,
                         int32_t tokens_ndim, int has_kv_caches, uint32_t value_checks);
  const char *(*arch_name)(modctx_arch arch);
  modctx_status (*compose)(modctx_arch arch, DLManagedTensor *image_embeds, const int64_t *input_ids_shape,
                           int32_t input_ids_device_type, int32_t input_ids_device_id, DLManagedTensor *frame_mask,
                           modctx_context **out);
  modctx_status (*context_residual_length)(const modctx_context *context, int64_t text_length, int64_t *out);
  modctx_status (*context_compose_residual)(const modctx_context *context, DLManagedTensor *text_embeds,
                                            DLManagedTensor **out);
  modctx_status (*context_save_safetensors)(const modctx_context *context, const char *path,
                                            const modctx_forward_args *forward);
  modctx_status (*context_load_safetensors)(const char *path, modctx_context **out, modctx_forward_args *forward);
  modctx_status (*context_load_safetensors_from_memory)(const void *data, size_t size, modctx_context **out,
                                                modctx_forward_args *forward);
  /* ABI version 2 */
  modctx_status_class (*status_class_of)(modctx_status status);
  modctx_status (*check_request)(const modctx_context *context, const modctx_model *model,
                                 const modctx_request *request, uint32_t value_checks);
  modctx_status (*model_from_config)(const char *path, modctx_model *out);
  modctx_status (*model_from_config_string)(const char *text, size_t len, modctx_model *out);
} modctx_api;

/* The table for abi_version (1 ... modctx_abi_version()), or NULL when this
 * library is older than the caller (then modctx_last_error() says so). Every
 * version served gets the same table (the newest), whose prefix is the
 * requested version's table. */
MODCTX_API const modctx_api *modctx_get_api(uint32_t abi_version);

/* The type of modctx_get_api, for dlsym. */
typedef const modctx_api *(*modctx_get_api_fn)(uint32_t abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MODCTX_H */
