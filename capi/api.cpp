// The C ABI's entry points: argument checks, ownership, and the dlopen table.
// Every function that answers with a status runs its body through entry()
// (entry.hpp): nothing it does can throw past it.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlpack_codes.hpp"
#include "dlpack_view.hpp"
#include "entry.hpp"
#include "modctx.h"
#include "modctx/config.hpp"
#include "modctx/modctx.hpp"
#include "tensor_export.hpp"
#include "tensor_import.hpp"

using modctx::capi::Call;
using modctx::capi::covers;
using modctx::capi::entry;
using modctx::capi::PendingRelease;
using modctx::capi::rank_problem;
using modctx::capi::set_error;
using modctx::capi::struct_size_problem;

// The C and C++ code lists are one list.
#define MODCTX_SAME_CODE(c, cpp) static_assert(static_cast<int>(c) == static_cast<int>(modctx::Code::cpp), #c)
MODCTX_SAME_CODE(MODCTX_OK, ok);
MODCTX_SAME_CODE(MODCTX_ERR_INVALID_ARGUMENT, invalid_argument);
MODCTX_SAME_CODE(MODCTX_ERR_ROUTES, routes);
MODCTX_SAME_CODE(MODCTX_ERR_IMAGE_MASK, image_mask);
MODCTX_SAME_CODE(MODCTX_ERR_MODALITY_IDS, modality_ids);
MODCTX_SAME_CODE(MODCTX_ERR_KEY_PADDING_MASK, key_padding_mask);
MODCTX_SAME_CODE(MODCTX_ERR_FORWARD_INPUTS, forward_inputs);
MODCTX_SAME_CODE(MODCTX_ERR_KV_CACHE, kv_cache);
MODCTX_SAME_CODE(MODCTX_ERR_DTYPE, dtype);
MODCTX_SAME_CODE(MODCTX_ERR_SHAPE, shape);
MODCTX_SAME_CODE(MODCTX_ERR_DEVICE, device);
MODCTX_SAME_CODE(MODCTX_ERR_MISSING_FIELD, missing_field);
MODCTX_SAME_CODE(MODCTX_ERR_UNSUPPORTED, unsupported);
MODCTX_SAME_CODE(MODCTX_ERR_OUT_OF_MEMORY, out_of_memory);
MODCTX_SAME_CODE(MODCTX_ERR_INTERNAL, internal);
MODCTX_SAME_CODE(MODCTX_ERR_SLICE, slice);
MODCTX_SAME_CODE(MODCTX_ERR_UNUSED_FIELD, unused_field);
MODCTX_SAME_CODE(MODCTX_ERR_VALUE, value);
MODCTX_SAME_CODE(MODCTX_ERR_FORMAT, format);
MODCTX_SAME_CODE(MODCTX_ERR_IO, io);
MODCTX_SAME_CODE(MODCTX_ERR_LENGTH, length);
static_assert(MODCTX_CLASS_OK == static_cast<int>(modctx::StatusClass::ok) &&
                  MODCTX_CLASS_REQUEST == static_cast<int>(modctx::StatusClass::request) &&
                  MODCTX_CLASS_SERVER == static_cast<int>(modctx::StatusClass::server),
              "status class lists differ");
// Each versioned struct's version-2 fields start where its version-1 struct
// ended (no field in its tail padding, which an older caller leaves unset).
static_assert(MODCTX_MODEL_SIZE_V1 % alignof(modctx_model) == 0, "modctx_model grew inside its padding");
static_assert(MODCTX_FORWARD_ARGS_SIZE_V1 % alignof(modctx_forward_args) == 0,
              "modctx_forward_args grew inside its padding");
static_assert(MODCTX_FIELD_COUNT == modctx::kFieldCount, "field lists differ");
static_assert(MODCTX_ARCH_TEXT == static_cast<int>(modctx::Arch::text) &&
                  MODCTX_ARCH_JOINT_DECODER == static_cast<int>(modctx::Arch::joint_decoder) &&
                  MODCTX_ARCH_CROSS_ATTENTION == static_cast<int>(modctx::Arch::cross_attention) &&
                  MODCTX_ARCH_MOT == static_cast<int>(modctx::Arch::mot) &&
                  MODCTX_ARCH_MOMA == static_cast<int>(modctx::Arch::moma),
              "architecture lists differ");
static_assert(sizeof(modctx_status) == sizeof(int) && sizeof(modctx_field) == sizeof(int), "enums are int-sized");
static_assert(MODCTX_MAX_NDIM == modctx::kMaxDims, "the C ABI's and the core's rank limits differ");

namespace modctx::capi {

// One field of a builder or a context: a foreign tensor not yet made into an
// at::Tensor (what the builder's setters hand in), or a LibTorch tensor
// (contexts from compose, files, or fields made by the C++ core).
struct Slot {
  std::shared_ptr<const ForeignTensor> foreign;
  at::Tensor tensor;

  bool is_set() const { return foreign || tensor.defined(); }
  at::ScalarType dtype() const { return foreign ? foreign->dtype : tensor.scalar_type(); }
  at::Tensor make() const { return foreign ? ForeignTensor::make_tensor(foreign) : tensor; }
};

using Slots = std::array<Slot, modctx::kFieldCount>;
using ForeignPtr = std::shared_ptr<const ForeignTensor>;

// What the construction and forward checks read: no tensor is made.
modctx::ContextFacts facts_of(const Slots& slots, const std::optional<modctx::Slice>& output_slice) {
  modctx::ContextFacts facts;
  for (size_t i = 0; i < slots.size(); ++i) facts.present[i] = slots[i].is_set();
  const Slot& ids = slots[static_cast<size_t>(modctx::Field::modality_ids)];
  if (ids.is_set()) facts.modality_ids_dtype = ids.dtype();
  facts.output_slice = output_slice;
  return facts;
}

}  // namespace modctx::capi

struct modctx_builder {
  modctx::capi::Slots slots;
  std::optional<modctx::Slice> output_slice;
};

// Immutable once built; shared by reference count (modctx_context_retain).
// The C++ ModalityContext (its at::Tensors) is made on first use, once: the
// construction and forward checks, has, the output slice and its view read
// only `facts`, so a request that only builds and checks never makes a tensor.
struct modctx_context {
  std::atomic<int64_t> references{1};
  modctx::capi::Slots slots;
  modctx::ContextFacts facts;  // the output slice included

  // The context as the C++ core's ModalityContext. Thread-safe; may throw
  // (bad_alloc), in which case a later call tries again. A mutex, not
  // std::call_once: libstdc++ before GCC 14 can hang in call_once after an
  // exception on some targets (AArch64, POWER).
  const modctx::ModalityContext& value() const {
    if (!made_.load(std::memory_order_acquire)) {
      const std::lock_guard<std::mutex> lock(making_);
      if (!made_.load(std::memory_order_relaxed)) {
        modctx::ContextFields fields;
        for (size_t i = 0; i < slots.size(); ++i) fields.tensors[i] = slots[i].make();
        fields.output_slice = facts.output_slice;
        // The construction checks passed when this context was built.
        (void)modctx::ModalityContext::make(std::move(fields), &value_);
        made_.store(true, std::memory_order_release);
      }
    }
    return value_;
  }

  // A context around a ModalityContext the core made (compose, files).
  static std::unique_ptr<modctx_context> of(modctx::ModalityContext value) {
    auto context = std::make_unique<modctx_context>();
    for (size_t i = 0; i < context->slots.size(); ++i)
      context->slots[i].tensor = value.get(static_cast<modctx::Field>(i));
    context->facts = value.facts();
    context->value_ = std::move(value);
    context->made_.store(true, std::memory_order_release);
    return context;
  }

 private:
  mutable std::mutex making_;
  mutable std::atomic<bool> made_{false};
  mutable modctx::ModalityContext value_;  // written once, under making_, before made_
};

namespace {

bool valid_field(modctx_field f) { return static_cast<int>(f) >= 0 && static_cast<int>(f) < MODCTX_FIELD_COUNT; }

modctx::Field to_field(modctx_field f) { return static_cast<modctx::Field>(f); }

modctx_status to_result(const modctx::Status& s) { return s.ok() ? MODCTX_OK : set_error(s); }

// Shared by the three setters: checks the builder and field, then imports.
template <class Import>
modctx_status set_field(const Call& call, modctx_builder* builder, modctx_field field, bool tensor_given,
                        Import&& import) {
  if (!builder) return call.null_argument("builder");
  if (!valid_field(field)) return call.unknown_field(field);
  if (!tensor_given) return call.null_argument("tensor");
  modctx::capi::Slot slot;
  const modctx::Status s = import(modctx::field_name(to_field(field)), &slot.foreign);
  if (!s.ok()) return set_error(s);
  builder->slots[static_cast<size_t>(field)] = std::move(slot);
  return MODCTX_OK;
}

constexpr uint32_t kAllSliceFlags = MODCTX_SLICE_HAS_START | MODCTX_SLICE_HAS_STOP | MODCTX_SLICE_HAS_STEP;

// A modctx_slice as a Slice; unknown flag bits are an error.
modctx_status read_slice(const Call& call, const modctx_slice& s, modctx::Slice* out) {
  if (s.flags & ~kAllSliceFlags) {
    char bits[16];
    std::snprintf(bits, sizeof bits, "%x", s.flags & ~kAllSliceFlags);
    return call.invalid_argument(std::string("unknown slice flags 0x") + bits);
  }
  if (s.flags & MODCTX_SLICE_HAS_START) out->start = s.start;
  if (s.flags & MODCTX_SLICE_HAS_STOP) out->stop = s.stop;
  if (s.flags & MODCTX_SLICE_HAS_STEP) out->step = s.step;
  return MODCTX_OK;
}

// An argument rule's verdict (entry.hpp): "" is fine.
modctx_status to_result(const Call& call, const std::string& problem) {
  return problem.empty() ? MODCTX_OK : call.invalid_argument(problem);
}

}  // namespace

MODCTX_API modctx_status modctx_builder_new(modctx_builder** out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    *out = new modctx_builder();
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_builder_new_from_context(const modctx_context* context, modctx_builder** out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!context) return call.null_argument("context");
    *out = new modctx_builder{context->slots, context->facts.output_slice};
    return MODCTX_OK;
  });
}

MODCTX_API void modctx_builder_free(modctx_builder* builder) {
  // Destroying tensors runs foreign deleters; nothing may escape.
  try {
    delete builder;
  } catch (...) {
  }
}

MODCTX_API modctx_status modctx_builder_set_dlpack(modctx_builder* builder, modctx_field field,
                                                   DLManagedTensor* tensor) {
  PendingRelease owner = PendingRelease::of(tensor);
  return entry(__func__, [&](const Call& call) {
    return set_field(call, builder, field, tensor != nullptr, [&](const char* what, modctx::capi::ForeignPtr* out) {
      return modctx::capi::import_dlpack(tensor->dl_tensor, what, owner, out);
    });
  });
}

MODCTX_API modctx_status modctx_builder_set_dlpack_versioned(modctx_builder* builder, modctx_field field,
                                                             DLManagedTensorVersioned* tensor) {
  PendingRelease owner = PendingRelease::of(tensor);
  return entry(__func__, [&](const Call& call) {
    return set_field(call, builder, field, tensor != nullptr, [&](const char* what, modctx::capi::ForeignPtr* out) {
      return modctx::capi::import_dlpack_versioned(*tensor, what, owner, out);
    });
  });
}

MODCTX_API modctx_status modctx_builder_set_tensor(modctx_builder* builder, modctx_field field,
                                                   const modctx_tensor_desc* tensor) {
  PendingRelease owner = PendingRelease::of(tensor);
  return entry(__func__, [&](const Call& call) {
    return set_field(call, builder, field, tensor != nullptr, [&](const char* what, modctx::capi::ForeignPtr* out) {
      return modctx::capi::import_desc(*tensor, what, owner, out);
    });
  });
}

MODCTX_API modctx_status modctx_builder_clear(modctx_builder* builder, modctx_field field) {
  return entry(__func__, [&](const Call& call) {
    if (!builder) return call.null_argument("builder");
    if (!valid_field(field)) return call.unknown_field(field);
    builder->slots[static_cast<size_t>(field)] = modctx::capi::Slot();
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_builder_set_output_slice(modctx_builder* builder, const modctx_slice* slice) {
  return entry(__func__, [&](const Call& call) {
    if (!builder) return call.null_argument("builder");
    if (!slice) {
      builder->output_slice.reset();
      return MODCTX_OK;
    }
    modctx::Slice read;
    const modctx_status st = read_slice(call, *slice, &read);
    if (st == MODCTX_OK) builder->output_slice = read;
    return st;
  });
}

MODCTX_API modctx_status modctx_builder_build(const modctx_builder* builder, modctx_context** out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!builder) return call.null_argument("builder");
    // Check first, then share the fields (reference counts) with the context.
    modctx::ContextFacts facts = modctx::capi::facts_of(builder->slots, builder->output_slice);
    const modctx::Status s = modctx::validate_construction(facts);
    if (!s.ok()) return set_error(s);
    auto* context = new modctx_context();
    context->slots = builder->slots;
    context->facts = std::move(facts);
    *out = context;
    return MODCTX_OK;
  });
}

MODCTX_API void modctx_context_free(modctx_context* context) {
  if (!context) return;
  if (context->references.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  try {
    delete context;
  } catch (...) {
  }
}

MODCTX_API modctx_status modctx_context_retain(modctx_context* context, modctx_context** out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!context) return call.null_argument("context");
    context->references.fetch_add(1, std::memory_order_relaxed);
    *out = context;
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_has(const modctx_context* context, modctx_field field, int* out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = 0;
    if (!context) return call.null_argument("context");
    if (!valid_field(field)) return call.unknown_field(field);
    *out = context->facts.has(to_field(field)) ? 1 : 0;
    return MODCTX_OK;
  });
}

namespace {

template <class Managed, class Export>
modctx_status get_field(const char* function, const modctx_context* context, modctx_field field, Managed** out,
                        Export&& export_fn) {
  return entry(function, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!context) return call.null_argument("context");
    if (!valid_field(field)) return call.unknown_field(field);
    if (!context->facts.has(to_field(field)))
      return set_error(MODCTX_ERR_MISSING_FIELD,
                       std::string(function) + ": " + modctx::field_ref(to_field(field)) + " is not set");
    return to_result(export_fn(context->value().get(to_field(field)), out));
  });
}

}  // namespace

MODCTX_API modctx_status modctx_context_get_dlpack(const modctx_context* context, modctx_field field,
                                                   DLManagedTensor** out) {
  return get_field(__func__, context, field, out, [](const at::Tensor& t, DLManagedTensor** o) {
    return modctx::capi::export_dlpack(t, o);
  });
}

MODCTX_API modctx_status modctx_context_get_dlpack_versioned(const modctx_context* context, modctx_field field,
                                                             DLManagedTensorVersioned** out) {
  return get_field(__func__, context, field, out, [](const at::Tensor& t, DLManagedTensorVersioned** o) {
    return modctx::capi::export_dlpack_versioned(t, o);
  });
}

MODCTX_API modctx_status modctx_context_get_output_slice(const modctx_context* context, int* has,
                                                         modctx_slice* out) {
  return entry(__func__, [&](const Call& call) {
    if (!has) return call.null_argument("has");
    *has = 0;
    if (!out) return call.null_argument("out");
    std::memset(out, 0, sizeof *out);
    if (!context) return call.null_argument("context");
    const auto& slice = context->facts.output_slice;
    if (!slice) return MODCTX_OK;
    *has = 1;
    if (slice->start) out->start = *slice->start, out->flags |= MODCTX_SLICE_HAS_START;
    if (slice->stop) out->stop = *slice->stop, out->flags |= MODCTX_SLICE_HAS_STOP;
    if (slice->step) out->step = *slice->step, out->flags |= MODCTX_SLICE_HAS_STEP;
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_describe(const modctx_context* context, char* buf, size_t cap,
                                                 size_t* len) {
  return entry(__func__, [&](const Call& call) {
    if (len) *len = 0;
    if (!buf && cap) return call.null_argument("buf (with cap > 0)");
    if (buf && cap) buf[0] = '\0';
    if (!context) return call.null_argument("context");
    const std::string text = context->value().describe();
    if (cap) {
      const size_t n = text.size() < cap - 1 ? text.size() : cap - 1;
      std::memcpy(buf, text.data(), n);
      buf[n] = '\0';
    }
    if (len) *len = text.size();
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_check_forward(const modctx_context* context, int has_tokens, int has_kv_caches) {
  return entry(__func__, [&](const Call&) {
    static const modctx::ContextFacts kEmpty;
    return to_result(modctx::validate_forward(context ? context->facts : kEmpty,
                                              modctx::ForwardArgs{has_tokens != 0, has_kv_caches != 0}));
  });
}

MODCTX_API modctx_status modctx_slice_indices(const modctx_slice* slice, int64_t length, int64_t* start,
                                              int64_t* stop, int64_t* step, int64_t* count) {
  return entry(__func__, [&](const Call& call) {
    if (!slice) return call.null_argument("slice");
    if (!start || !stop || !step || !count) return call.null_argument("an output pointer");
    modctx::Slice read;
    const modctx_status st = read_slice(call, *slice, &read);
    if (st != MODCTX_OK) return st;
    modctx::Slice::Indices r{};
    const char* error = nullptr;
    if (!read.try_indices(length, &r, &error)) return modctx::capi::set_error_static(MODCTX_ERR_SLICE, error);
    *start = r.start;
    *stop = r.stop;
    *step = r.step;
    *count = r.count;
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_apply_output_slice(const modctx_context* context, DLManagedTensor* hidden,
                                                           DLManagedTensor** out) {
  PendingRelease owner = PendingRelease::of(hidden);
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!context) return call.null_argument("context");
    if (!hidden) return call.null_argument("hidden");
    return to_result(modctx::capi::slice_dlpack(hidden->dl_tensor, context->facts.output_slice, "hidden", owner, out));
  });
}

namespace {

constexpr size_t kModalitiesSize = sizeof(modctx_model::modalities);

// model->modalities ("image,text") as names; "" is none.
modctx_status read_modalities(const Call& call, const char (&text)[kModalitiesSize], std::vector<std::string>* out) {
  const char* end = static_cast<const char*>(std::memchr(text, '\0', kModalitiesSize));
  if (!end) return call.invalid_argument("model->modalities is not NUL-terminated within its 128 bytes");
  if (end == text) return MODCTX_OK;
  const std::string names(text, end);
  for (size_t start = 0;;) {
    const size_t comma = std::min(names.find(',', start), names.size());
    if (comma == start) return call.invalid_argument("model->modalities \"" + names + "\" has an empty name");
    out->push_back(names.substr(start, comma - start));
    if (comma == names.size()) return MODCTX_OK;
    start = comma + 1;
  }
}

// modctx_model -> ModelSpec. A version-1 struct (struct_size up to
// text_dtype) is read as a model without what a config adds.
modctx_status read_model(const Call& call, const modctx_model* m, modctx::ModelSpec* out) {
  if (!m) return call.null_argument("model");
  const modctx_status size = to_result(
      call, struct_size_problem("model->struct_size", m->struct_size, MODCTX_MODEL_SIZE_V1, "modctx_model"));
  if (size != MODCTX_OK) return size;
  out->arch = static_cast<modctx::Arch>(m->arch);
  out->hidden_size = m->hidden_size;
  if (m->num_image_tokens >= 0) out->num_image_tokens = m->num_image_tokens;
  if (m->text_dtype >= 0) {
    at::ScalarType dtype{};
    if (!modctx::dtype_from_code(m->text_dtype, &dtype))
      return call.invalid_argument("unknown modctx_dtype " + std::to_string(m->text_dtype) + " in model->text_dtype");
    out->text_dtype = dtype;
  }
  if (covers(*m, &modctx_model::vocab_size) && m->vocab_size > 0) out->vocab_size = m->vocab_size;
  if (covers(*m, &modctx_model::max_seq_len) && m->max_seq_len > 0) out->max_seq_len = m->max_seq_len;
  if (covers(*m, &modctx_model::cross_attention_blocks) && m->cross_attention_blocks != 0)
    out->cross_attention_blocks = std::max<int64_t>(m->cross_attention_blocks, 0);  // < 0: none
  // The default pair, as every shipped VLM config names it, is read as no
  // names (which mean ("image", "text")): nothing to allocate per request.
  if (covers(*m, &modctx_model::modalities) &&
      !((m->num_modalities == 0 || m->num_modalities == 2) &&
        std::strncmp(m->modalities, "image,text", sizeof m->modalities) == 0)) {
    const modctx_status st = read_modalities(call, m->modalities, &out->modality_names);
    if (st != MODCTX_OK) return st;
  }
  // 0: as many as the names, else the default.
  if (m->num_modalities != 0)
    out->num_modalities = m->num_modalities;
  else if (!out->modality_names.empty())
    out->num_modalities = static_cast<int64_t>(out->modality_names.size());
  return MODCTX_OK;
}

// The value checks a caller may ask for; other bits are refused.
constexpr uint32_t kKnownValueChecks = MODCTX_CHECK_MODALITY_ID_VALUES | MODCTX_CHECK_TOKEN_ID_VALUES;

modctx_status read_value_checks(const Call& call, uint32_t bits, modctx::ValueChecks* out) {
  if (bits & ~kKnownValueChecks) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%x", bits & ~kKnownValueChecks);
    return call.invalid_argument(std::string("unknown value_checks bits 0x") + hex);
  }
  out->modality_ids_range = (bits & MODCTX_CHECK_MODALITY_ID_VALUES) != 0;
  out->token_ids_range = (bits & MODCTX_CHECK_TOKEN_ID_VALUES) != 0;
  return MODCTX_OK;
}

}  // namespace

MODCTX_API modctx_status modctx_check_model(const modctx_context* context, const modctx_model* model,
                                            const int64_t* tokens_shape, int32_t tokens_ndim, int has_kv_caches,
                                            uint32_t value_checks) {
  return entry(__func__, [&](const Call& call) {
    modctx::ModelSpec spec;
    modctx::ValueChecks values;
    modctx_status st = read_model(call, model, &spec);
    if (st == MODCTX_OK && tokens_shape) st = to_result(call, rank_problem("tokens_ndim", tokens_ndim));
    if (st == MODCTX_OK) st = read_value_checks(call, value_checks, &values);
    if (st != MODCTX_OK) return st;
    modctx::ModelForward forward;
    forward.has_tokens = tokens_shape != nullptr;
    if (tokens_shape) forward.tokens_shape = at::IntArrayRef(tokens_shape, static_cast<size_t>(tokens_ndim));
    forward.has_kv_caches = has_kv_caches != 0;
    return to_result(modctx::validate_model(context ? &context->value() : nullptr, spec, forward, values));
  });
}

namespace {

// modctx_request -> ModelForward; the borrowed tensors land in *tokens and
// *doc_ids, which `out` points at (they live as long as the call).
modctx_status read_request(const Call& call, const modctx_request* r, at::Tensor* tokens, at::Tensor* doc_ids,
                           modctx::ModelForward* out) {
  if (!r) return call.null_argument("request");
  const modctx_status size = to_result(
      call, struct_size_problem("request->struct_size", r->struct_size, sizeof(modctx_request), "modctx_request"));
  if (size != MODCTX_OK) return size;
  const int kv = static_cast<int>(r->kv_caches);
  if (kv != MODCTX_KV_NONE && kv != MODCTX_KV_GIVEN && kv != MODCTX_KV_STATE)
    return call.invalid_argument("request->kv_caches " + std::to_string(kv) +
                                 " is not MODCTX_KV_NONE (0), MODCTX_KV_GIVEN (1) or MODCTX_KV_STATE (2)");
  modctx::Status s;
  if (r->tokens) s = modctx::capi::import_borrowed(*r->tokens, "tokens", tokens);
  if (s.ok() && r->doc_ids) s = modctx::capi::import_borrowed(*r->doc_ids, "doc_ids", doc_ids);
  if (!s.ok()) return set_error(s);
  // The tensors imply has_tokens and the token shape (ModelForward's rule).
  if (r->tokens) out->tokens = tokens;
  if (r->doc_ids) out->doc_ids = doc_ids;
  out->has_kv_caches = kv != MODCTX_KV_NONE;
  if (kv == MODCTX_KV_STATE) out->kv_cache = modctx::KvCacheState{r->kv_seq_len, r->kv_capacity, r->kv_batch};
  return MODCTX_OK;
}

}  // namespace

MODCTX_API modctx_status modctx_check_request(const modctx_context* context, const modctx_model* model,
                                              const modctx_request* request, uint32_t value_checks) {
  return entry(__func__, [&](const Call& call) {
    modctx::ModelSpec spec;
    modctx::ValueChecks values;
    modctx::ModelForward forward;
    at::Tensor tokens, doc_ids;
    modctx_status st = read_model(call, model, &spec);
    if (st == MODCTX_OK) st = read_request(call, request, &tokens, &doc_ids, &forward);
    if (st == MODCTX_OK) st = read_value_checks(call, value_checks, &values);
    if (st != MODCTX_OK) return st;
    return to_result(modctx::validate_model(context ? &context->value() : nullptr, spec, forward, values));
  });
}

namespace {

// A ModelSpec into the caller's struct: every field its struct_size covers.
// The only failure comes before the first write: on failure *out is unchanged.
modctx_status write_model(const Call& call, const modctx::ModelSpec& spec, modctx_model* out) {
  std::string names;
  for (const std::string& name : spec.modality_names) {
    if (name.find(',') != std::string::npos)
      return call.fail(MODCTX_ERR_UNSUPPORTED, "the modality name \"" + name + "\" holds a comma " +
                                                   "(modctx_model.modalities separates names with commas)");
    names += (names.empty() ? "" : ",") + name;
  }
  if (names.size() >= kModalitiesSize)
    return call.fail(MODCTX_ERR_UNSUPPORTED, "the modality names \"" + names + "\" do not fit " +
                                                 "modctx_model.modalities (" + std::to_string(kModalitiesSize - 1) +
                                                 " bytes)");
  out->arch = static_cast<modctx_arch>(spec.arch);
  out->hidden_size = spec.hidden_size;
  out->num_modalities = spec.num_modalities;
  out->num_image_tokens = spec.num_image_tokens.value_or(-1);
  out->text_dtype = spec.text_dtype ? modctx::dtype_code(*spec.text_dtype) : -1;
  if (covers(*out, &modctx_model::vocab_size)) out->vocab_size = spec.vocab_size.value_or(0);
  if (covers(*out, &modctx_model::max_seq_len)) out->max_seq_len = spec.max_seq_len.value_or(0);
  if (covers(*out, &modctx_model::cross_attention_blocks)) {
    const auto& blocks = spec.cross_attention_blocks;
    out->cross_attention_blocks = !blocks ? 0 : *blocks > 0 ? *blocks : -1;  // -1: none fires
  }
  if (covers(*out, &modctx_model::modalities)) {
    std::memset(out->modalities, 0, sizeof out->modalities);
    std::memcpy(out->modalities, names.data(), names.size());
  }
  return MODCTX_OK;
}

template <class Read>
modctx_status model_from_config(const Call& call, modctx_model* out, Read&& read) {
  if (!out) return call.null_argument("out");
  const modctx_status size = to_result(
      call, struct_size_problem("out->struct_size", out->struct_size, MODCTX_MODEL_SIZE_V1, "modctx_model"));
  if (size != MODCTX_OK) return size;
  modctx::ModelSpec spec;
  const modctx::Status s = read(&spec);
  if (!s.ok()) return set_error(s);
  return write_model(call, spec, out);
}

}  // namespace

MODCTX_API modctx_status modctx_model_from_config(const char* path, modctx_model* out) {
  return entry(__func__, [&](const Call& call) {
    if (!path) return call.null_argument("path");
    return model_from_config(call, out, [&](modctx::ModelSpec* spec) {
      return modctx::read_model_config_file(path, spec);
    });
  });
}

MODCTX_API modctx_status modctx_model_from_config_string(const char* text, size_t len, modctx_model* out) {
  return entry(__func__, [&](const Call& call) {
    if (!text && len) return call.null_argument("text (with len > 0)");
    return model_from_config(call, out, [&](modctx::ModelSpec* spec) {
      return modctx::read_model_config(std::string_view(text ? text : "", len), "<config>", spec);
    });
  });
}

MODCTX_API const char* modctx_arch_name(modctx_arch arch) {
  const int a = static_cast<int>(arch);
  return a >= 0 && a <= MODCTX_ARCH_MOMA ? modctx::arch_name(static_cast<modctx::Arch>(arch)) : nullptr;
}

MODCTX_API modctx_status modctx_compose(modctx_arch arch, DLManagedTensor* image_embeds,
                                        const int64_t* input_ids_shape, int32_t input_ids_device_type,
                                        int32_t input_ids_device_id, DLManagedTensor* frame_mask,
                                        modctx_context** out) {
  PendingRelease image_owner = PendingRelease::of(image_embeds);
  PendingRelease mask_owner = PendingRelease::of(frame_mask);
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!image_embeds) return call.null_argument("image_embeds");
    if (!input_ids_shape) return call.null_argument("input_ids_shape");
    modctx::StrategyInputs in;
    modctx::Status s = modctx::capi::device_from_dlpack(input_ids_device_type, input_ids_device_id, "input_ids",
                                                        &in.input_ids_device);
    if (s.ok()) s = modctx::capi::import_dlpack(image_embeds->dl_tensor, "image_embeds", image_owner, &in.image_embeds);
    if (s.ok() && frame_mask)
      s = modctx::capi::import_dlpack(frame_mask->dl_tensor, "frame_mask", mask_owner, &in.frame_mask);
    if (!s.ok()) return set_error(s);
    in.input_ids_shape = at::IntArrayRef(input_ids_shape, 2);
    *out = modctx_context::of(modctx::cpu_only::compose(static_cast<modctx::Arch>(arch), in)).release();
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_residual_length(const modctx_context* context, int64_t text_length,
                                                        int64_t* out) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = 0;
    if (!context) return call.null_argument("context");
    *out = modctx::residual_length(context->value(), text_length);
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_compose_residual(const modctx_context* context, DLManagedTensor* text_embeds,
                                                         DLManagedTensor** out) {
  PendingRelease owner = PendingRelease::of(text_embeds);
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!context) return call.null_argument("context");
    at::Tensor text;
    if (text_embeds) {
      const modctx::Status s = modctx::capi::import_dlpack(text_embeds->dl_tensor, "text_embeds", owner, &text);
      if (!s.ok()) return set_error(s);
    }
    const at::Tensor residual = modctx::cpu_only::compose_residual(context->value(), text);
    return to_result(modctx::capi::export_dlpack(residual, out));
  });
}

namespace {

// NULL (no forward arguments) is fine.
modctx_status validate_forward_args_size(const Call& call, const modctx_forward_args* f) {
  if (!f) return MODCTX_OK;
  return to_result(call, struct_size_problem("forward->struct_size", f->struct_size, MODCTX_FORWARD_ARGS_SIZE_V1,
                                             "modctx_forward_args"));
}

// Builds the context from loaded fields (construction checks) and reports
// the saved forward arguments.
modctx_status finish_load(modctx::LoadedContext loaded, modctx_context** out, modctx_forward_args* forward) {
  modctx::ModalityContext value;
  const modctx::Status s = modctx::ModalityContext::make(std::move(loaded.fields), &value);
  if (!s.ok()) return set_error(s);
  auto context = modctx_context::of(std::move(value));
  if (forward) {
    // Only the bytes the caller's struct has (an older caller's ends earlier).
    const uint32_t size = forward->struct_size;
    std::memset(forward, 0, std::min<size_t>(size, sizeof *forward));
    forward->struct_size = size;
    if (loaded.forward) {
      forward->present = 1;
      forward->has_kv_caches = loaded.forward->kv_caches ? 1 : 0;
      if (loaded.forward->tokens) {
        // The loader keeps shapes within kMaxDims == MODCTX_MAX_NDIM.
        forward->has_tokens = 1;
        forward->tokens_ndim = static_cast<int32_t>(loaded.forward->tokens->size());
        std::copy(loaded.forward->tokens->begin(), loaded.forward->tokens->end(), forward->tokens_shape);
      }
      const auto& kv = loaded.forward->kv_cache;
      if (kv && covers(*forward, &modctx_forward_args::kv_state_present)) {
        forward->kv_seq_len = kv->seq_len;
        forward->kv_capacity = kv->capacity;
        forward->kv_batch = kv->batch;
        forward->kv_state_present = 1;
      }
    }
  }
  *out = context.release();
  return MODCTX_OK;
}

}  // namespace

MODCTX_API modctx_status modctx_context_save_safetensors(const modctx_context* context, const char* path,
                                                         const modctx_forward_args* forward) {
  return entry(__func__, [&](const Call& call) {
    if (!context) return call.null_argument("context");
    if (!path) return call.null_argument("path");
    std::optional<modctx::ForwardRecord> saved;
    if (forward) {
      modctx_status st = validate_forward_args_size(call, forward);
      if (st == MODCTX_OK && forward->present && forward->has_tokens)
        st = to_result(call, rank_problem("forward->tokens_ndim", forward->tokens_ndim));
      if (st != MODCTX_OK) return st;
      if (forward->present) {
        saved.emplace();
        saved->kv_caches = forward->has_kv_caches != 0;
        if (forward->has_tokens)
          saved->tokens.emplace(forward->tokens_shape, forward->tokens_shape + forward->tokens_ndim);
        if (covers(*forward, &modctx_forward_args::kv_state_present) && forward->kv_state_present) {
          saved->kv_caches = true;  // a state implies caches
          saved->kv_cache = modctx::KvCacheState{forward->kv_seq_len, forward->kv_capacity, forward->kv_batch};
        }
      }
    }
    modctx::save_safetensors(path, context->value(), saved);
    return MODCTX_OK;
  });
}

MODCTX_API modctx_status modctx_context_load_safetensors(const char* path, modctx_context** out,
                                                         modctx_forward_args* forward) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!path) return call.null_argument("path");
    const modctx_status st = validate_forward_args_size(call, forward);
    if (st != MODCTX_OK) return st;
    return finish_load(modctx::load_safetensors(path), out, forward);
  });
}

MODCTX_API modctx_status modctx_context_load_safetensors_from_memory(const void* data, size_t size,
                                                                     modctx_context** out,
                                                                     modctx_forward_args* forward) {
  return entry(__func__, [&](const Call& call) {
    if (!out) return call.null_argument("out");
    *out = nullptr;
    if (!data && size) return call.null_argument("data (with size > 0)");
    const modctx_status st = validate_forward_args_size(call, forward);
    if (st != MODCTX_OK) return st;
    // One copy into memory the tensors own: the caller's buffer may go.
    auto bytes = std::make_shared<std::string>(static_cast<const char*>(data), size);
    const void* base = bytes->data();
    return finish_load(modctx::load_safetensors_from_memory(base, size, std::move(bytes), "<memory>"), out, forward);
  });
}

MODCTX_API const char* modctx_status_name(modctx_status status) {
  return modctx::code_name(static_cast<modctx::Code>(status));
}

MODCTX_API modctx_status_class modctx_status_class_of(modctx_status status) {
  return static_cast<modctx_status_class>(modctx::status_class(static_cast<modctx::Code>(status)));
}

MODCTX_API const char* modctx_field_name(modctx_field field) {
  return valid_field(field) ? modctx::field_name(to_field(field)) : nullptr;
}

MODCTX_API const char* modctx_version(void) { return MODCTX_VERSION_STRING; }

MODCTX_API uint32_t modctx_abi_version(void) { return MODCTX_ABI_VERSION; }

MODCTX_API const modctx_api* modctx_get_api(uint32_t abi_version) {
  static const modctx_api table = {
      MODCTX_ABI_VERSION,
      sizeof(modctx_api),
      modctx_builder_new,
      modctx_builder_free,
      modctx_builder_set_dlpack,
      modctx_builder_set_dlpack_versioned,
      modctx_builder_clear,
      modctx_builder_set_output_slice,
      modctx_builder_build,
      modctx_context_free,
      modctx_context_has,
      modctx_context_get_dlpack,
      modctx_context_get_dlpack_versioned,
      modctx_context_get_output_slice,
      modctx_context_describe,
      modctx_check_forward,
      modctx_slice_indices,
      modctx_last_error,
      modctx_status_name,
      modctx_version,
      modctx_abi_version,
      modctx_builder_new_from_context,
      modctx_builder_set_tensor,
      modctx_context_retain,
      modctx_context_apply_output_slice,
      modctx_field_name,
      modctx_check_model,
      modctx_arch_name,
      modctx_compose,
      modctx_context_residual_length,
      modctx_context_compose_residual,
      modctx_context_save_safetensors,
      modctx_context_load_safetensors,
      modctx_context_load_safetensors_from_memory,
      // ABI version 2
      modctx_status_class_of,
      modctx_check_request,
      modctx_model_from_config,
      modctx_model_from_config_string,
  };
  if (abi_version == 0 || abi_version > MODCTX_ABI_VERSION) {
    char message[128];
    std::snprintf(message, sizeof message,
                  "modctx_get_api: ABI version %u is not served (this library serves 1 to %u)", abi_version,
                  MODCTX_ABI_VERSION);
    set_error(MODCTX_ERR_UNSUPPORTED, message);
    return nullptr;
  }
  return &table;
}
