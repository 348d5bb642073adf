// Checking a context against a model (modctx/model.hpp): the reference's
// forward- and model-time checks in its order, then modctx's own.
#include <algorithm>
#include <limits>

#include "modctx/forward.hpp"
#include "modctx/model.hpp"
#include "modctx/tensor.hpp"

namespace modctx {

namespace {

Status shape_error(std::string message) { return Status::failure(Code::shape, std::move(message)); }

Status inputs_embeds_rank_error(const at::Tensor& ie) {
  return shape_error(field_ref(Field::inputs_embeds) + " must have shape (B, S, D), got " + shape_tuple(ie.sizes()));
}

// Which fields each architecture consumes (bit i: Field i).
unsigned used_fields(Arch arch) {
  constexpr unsigned IE = 1u << static_cast<int>(Field::inputs_embeds);
  constexpr unsigned PE = 1u << static_cast<int>(Field::prefix_embeds);
  constexpr unsigned IF = 1u << static_cast<int>(Field::image_features);
  constexpr unsigned IM = 1u << static_cast<int>(Field::image_mask);
  constexpr unsigned MI = 1u << static_cast<int>(Field::modality_ids);
  constexpr unsigned KPM = 1u << static_cast<int>(Field::key_padding_mask);
  switch (arch) {
    case Arch::text: return IE | KPM;
    case Arch::joint_decoder: return IE | PE | KPM;
    case Arch::cross_attention: return IE | IF | IM | KPM;
    case Arch::mot:
    case Arch::moma: return IE | PE | MI | KPM;
  }
  return 0;
}

Status validate_spec(const ModelSpec& m) {
  auto bad = [](const std::string& problem) { return Status::failure(Code::invalid_argument, "model: " + problem); };
  const int arch = static_cast<int>(m.arch);
  if (arch < 0 || arch >= kArchCount) return bad("unknown architecture " + std::to_string(arch));
  if (m.hidden_size <= 0) return bad("hidden_size must be > 0, got " + std::to_string(m.hidden_size));
  if (m.num_modalities < 1) return bad("num_modalities must be >= 1, got " + std::to_string(m.num_modalities));
  if (m.num_image_tokens && *m.num_image_tokens < 0)
    return bad("num_image_tokens must be >= 0, got " + std::to_string(*m.num_image_tokens));
  if (m.text_dtype && !at::isFloatingType(*m.text_dtype))
    return bad("text_dtype must be a floating point type, got " + torch_dtype_name(*m.text_dtype));
  if (m.vocab_size && *m.vocab_size <= 0) return bad("vocab_size must be > 0, got " + std::to_string(*m.vocab_size));
  if (m.max_seq_len && *m.max_seq_len <= 0)
    return bad("max_seq_len must be > 0, got " + std::to_string(*m.max_seq_len));
  if (m.cross_attention_blocks && *m.cross_attention_blocks < 0)
    return bad("cross_attention_blocks must be >= 0, got " + std::to_string(*m.cross_attention_blocks));
  if (!m.modality_names.empty() && static_cast<int64_t>(m.modality_names.size()) != m.num_modalities)
    return bad(std::to_string(m.modality_names.size()) + " modality names for num_modalities " +
               std::to_string(m.num_modalities));
  return Status::success();
}

// A KV cache state that cannot exist is the caller's mistake, not the request's.
Status validate_kv_state(const KvCacheState& kv) {
  auto bad = [](const std::string& problem) {
    return Status::failure(Code::invalid_argument, "forward: kv_caches " + problem);
  };
  if (kv.seq_len < 0) return bad("seq_len must be >= 0, got " + std::to_string(kv.seq_len));
  if (kv.capacity < 0) return bad("capacity must be >= 0, got " + std::to_string(kv.capacity));
  if (kv.batch < 0) return bad("batch must be >= 0, got " + std::to_string(kv.batch));
  if (kv.seq_len > kv.capacity)
    return bad("seq_len " + std::to_string(kv.seq_len) + " is past its capacity " + std::to_string(kv.capacity));
  return Status::success();
}

// The last dim is the model's hidden size D.
Status validate_hidden(const at::Tensor& t, Field f, int64_t hidden) {
  if (t.size(2) == hidden) return Status::success();
  return shape_error(field_ref(f) + " hidden size " + std::to_string(t.size(2)) +
                     " does not match the model's hidden_size " + std::to_string(hidden));
}

// A tensor of the residual's shape (B, N + T): modality_ids, key_padding_mask,
// doc_ids. `name()` makes its name for the message only.
template <class Name>
Status validate_residual_shape(const at::Tensor& t, Name&& name, at::IntArrayRef residual) {
  if (t.sizes() == residual) return Status::success();
  return shape_error(name() + " shape " + shape_tuple(t.sizes()) + " does not match residual shape " +
                     shape_tuple(residual));
}

auto ref_of(Field f) {
  return [f] { return field_ref(f); };
}

// (B, S, D) with the expected batch and hidden size.
Status validate_bsd(const at::Tensor& t, Field f, const char* dims, int64_t batch, const char* batch_source,
                 int64_t hidden) {
  if (t.dim() != 3) return shape_error(field_ref(f) + " must have shape " + dims + ", got " + shape_tuple(t.sizes()));
  if (t.size(0) != batch)
    return shape_error(field_ref(f) + " batch size " + std::to_string(t.size(0)) + " does not match the batch size " +
                       std::to_string(batch) + " of " + batch_source);
  return validate_hidden(t, f, hidden);
}

Status validate_dtypes(const ModalityContext& c, const ModelSpec& model) {
  for (Field f : {Field::inputs_embeds, Field::prefix_embeds, Field::image_features}) {
    if (c.has(f) && !at::isFloatingType(c.get(f).scalar_type()))
      return Status::failure(Code::dtype, field_ref(f) + ".dtype must be a floating point type, got " +
                                              torch_dtype_name(c.get(f).scalar_type()));
  }
  for (Field f : {Field::image_mask, Field::key_padding_mask}) {
    if (c.has(f) && c.get(f).scalar_type() != at::kBool)
      return Status::failure(Code::dtype,
                             field_ref(f) + ".dtype must be torch.bool, got " + torch_dtype_name(c.get(f).scalar_type()));
  }
  if (model.text_dtype && c.has(Field::inputs_embeds) && c.inputs_embeds().scalar_type() != *model.text_dtype)
    return Status::failure(Code::dtype, field_ref(Field::inputs_embeds) + ".dtype must be " +
                                            torch_dtype_name(*model.text_dtype) + " (the model's text dtype), got " +
                                            torch_dtype_name(c.inputs_embeds().scalar_type()));
  return Status::success();
}

// One device for every tensor of the request: the fields in their order,
// then the token ids and doc_ids (the embedding's output is concatenated
// with the prefix, masks are combined with it). Names are made only for a
// message: this runs per request.
Status validate_devices(const ModalityContext& c, const ModelForward& forward) {
  struct Named {
    const at::Tensor* tensor;
    int field;  // a Field, or -1: "tokens", -2: "doc_ids"
  };
  auto name = [](int field) {
    return field >= 0 ? field_ref(static_cast<Field>(field)) : std::string(field == -1 ? "tokens" : "doc_ids");
  };
  Named all[kFieldCount + 2];
  int n = 0;
  for (int i = 0; i < kFieldCount; ++i)
    if (c.has(static_cast<Field>(i))) all[n++] = {&c.get(static_cast<Field>(i)), i};
  if (forward.tokens) all[n++] = {forward.tokens, -1};
  if (forward.doc_ids) all[n++] = {forward.doc_ids, -2};
  for (int i = 1; i < n; ++i) {
    if (all[i].tensor->device() == all[0].tensor->device()) continue;
    return Status::failure(Code::device, name(all[i].field) + " is on " + all[i].tensor->device().str() + ", but " +
                                             name(all[0].field) + " is on " + all[0].tensor->device().str());
  }
  return Status::success();
}

// Values are read on the host only: modctx's core never runs device code.
template <class Name>
Status validate_readable(const at::Tensor& t, Name&& name) {
  if (!t.is_cpu())
    return Status::failure(Code::unsupported, name() + " is on " + t.device().str() +
                                                  ", which this LibTorch cannot read; its values were not checked");
  if (!t.has_storage() || t.storage().data() == nullptr)
    return Status::failure(Code::unsupported,
                           name() + " holds no data (a metadata-only tensor); its values were not checked");
  return Status::success();
}

struct ValueRange {
  int64_t low = std::numeric_limits<int64_t>::max();
  int64_t high = std::numeric_limits<int64_t>::min();
};

// The smallest and largest value of a CPU tensor with data. Contiguous
// int64 and int32 (token ids as tokenizers hand them over) take a plain
// loop the compiler vectorises; anything else walks its strides.
template <class T>
ValueRange range_of_contiguous(const T* v, int64_t n) {
  T low = std::numeric_limits<T>::max(), high = std::numeric_limits<T>::min();
  for (int64_t i = 0; i < n; ++i) {
    low = v[i] < low ? v[i] : low;
    high = v[i] > high ? v[i] : high;
  }
  return {static_cast<int64_t>(low), static_cast<int64_t>(high)};
}

ValueRange range_of(const at::Tensor& t) {
  if (t.is_contiguous() && !t.is_conj() && !t.is_neg()) {
    if (t.scalar_type() == at::kLong) return range_of_contiguous(static_cast<const int64_t*>(t.data_ptr()), t.numel());
    if (t.scalar_type() == at::kInt) return range_of_contiguous(static_cast<const int32_t*>(t.data_ptr()), t.numel());
  }
  ValueRange r;
  for_each_value_as<int64_t>(t, [&](int64_t v) {
    r.low = std::min(r.low, v);
    r.high = std::max(r.high, v);
  });
  return r;
}

// nn.Embedding's rows: an id outside [0, vocab_size) is an IndexError on the
// CPU and a device-side assert (the process dies) on a GPU.
Status validate_token_id_values(const at::Tensor& tokens, int64_t vocab_size) {
  if (tokens.numel() == 0) return Status::success();
  Status s = validate_readable(tokens, [] { return std::string("tokens"); });
  if (!s.ok()) return s;
  const ValueRange r = range_of(tokens);
  if (r.low >= 0 && r.high < vocab_size) return Status::success();
  return Status::failure(Code::value, "tokens values must be in [0, " + std::to_string(vocab_size) +
                                          ") (the model's vocab_size), found " +
                                          std::to_string(r.low < 0 ? r.low : r.high));
}

// Python's repr of a str (the names are identifiers in practice).
std::string python_repr(const std::string& text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\\' || ch == '\'') out += '\\';
    out += ch;
  }
  return out + "'";
}

// Python's repr of a tuple / list of str: ('image', 'text'), ['image', 'text'].
std::string python_sequence(const std::vector<std::string>& names, bool tuple) {
  std::string out = tuple ? "(" : "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + python_repr(names[i]);
  if (tuple && names.size() == 1) out += ",";
  return out + (tuple ? ")" : "]");
}

std::vector<std::string> modality_names(const ModelSpec& m) {
  if (!m.modality_names.empty()) return m.modality_names;
  if (m.num_modalities == 2) return {"image", "text"};
  return {};
}

// MoMa's own message (MoMaFFN.forward) when the names are known: it counts
// the positions no modality group takes. modctx's otherwise.
Status validate_modality_id_values(const at::Tensor& ids, const ModelSpec& model) {
  if (ids.numel() == 0) return Status::success();
  Status s = validate_readable(ids, ref_of(Field::modality_ids));
  if (!s.ok()) return s;
  const int64_t n = model.num_modalities;
  const ValueRange r = range_of(ids);
  if (r.low >= 0 && r.high < n) return Status::success();
  const std::vector<std::string> names = modality_names(model);
  if (model.arch == Arch::moma && !names.empty()) {
    int64_t outside = 0;
    for_each_value_as<int64_t>(ids, [&](int64_t v) { outside += (v < 0 || v >= n) ? 1 : 0; });
    return Status::failure(Code::value, "MoMaFFN.forward: modality_ids contains out-of-range values; " +
                                            std::to_string(outside) + " of " + std::to_string(ids.numel()) +
                                            " positions did not match any modality (allowed values: 0.." +
                                            std::to_string(n - 1) + " for modalities " +
                                            python_sequence(names, true) + ")");
  }
  return Status::failure(Code::value, field_ref(Field::modality_ids) + " values must be in [0, " +
                                          std::to_string(n) + "), found " + std::to_string(r.low < 0 ? r.low : r.high));
}

// nn.Embedding takes int64 or int32 indices.
Status validate_token_dtype(const at::Tensor& tokens) {
  const at::ScalarType t = tokens.scalar_type();
  if (t == at::kLong || t == at::kInt) return Status::success();
  return Status::failure(Code::dtype, "tokens.dtype must be torch.int64 or torch.int32 (nn.Embedding's indices), got " +
                                          torch_dtype_name(t));
}

// MoT's blocks take exactly the streams "image" and "text" (MoTBlock.forward's check).
Status validate_mot_streams(const ModelSpec& model) {
  const auto& given = model.modality_names;
  if (given.empty()) return Status::success();
  if (given.size() == 2 && given[0] != given[1] && (given[0] == "image" || given[0] == "text") &&
      (given[1] == "image" || given[1] == "text"))
    return Status::success();  // without copying: this runs per request
  std::vector<std::string> names = given;  // any other list differs from the streams
  std::sort(names.begin(), names.end());
  const std::vector<std::string> streams = {"image", "text"};
  return Status::failure(Code::shape, "MoTBlock.forward: streams keys " + python_sequence(streams, false) +
                                          " do not match construction-time modalities " +
                                          python_sequence(names, false));
}

// What the forward's positions and KV caches must allow (see model.hpp, step 6).
struct Positions {
  int64_t batch = 0;
  const char* batch_source = nullptr;
  int64_t residual = 0;  // N + T (or S)
};

std::string count_of(int64_t n, const char* thing) {
  return std::to_string(n) + " " + thing + (n == 1 ? "" : "s");
}

// MoT splits the residual at the model's image-token count (the prefix's
// length when the model does not give one) and counts each modality's
// positions from 0; each stream is viewed as (B, S_m, heads, head_dim), so
// neither may be empty.
Status validate_mot_streams_length(const ModelSpec& model, const ModalityContext& c, const Positions& p) {
  int64_t image = 0;
  if (model.num_image_tokens)
    image = *model.num_image_tokens;
  else if (c.has(Field::prefix_embeds))
    image = c.prefix_embeds().size(1);
  else
    return Status::success();  // the split is unknown
  const int64_t text = p.residual - image;
  if (image < 1 || text < 1)
    return shape_error("MoT splits the residual at " + count_of(image, "image token") +
                       " and needs at least one position in each stream, but the residual has " +
                       count_of(p.residual, "position"));
  if (!model.max_seq_len) return Status::success();
  const int64_t limit = *model.max_seq_len;
  for (const auto& [name, length] : {std::pair<const char*, int64_t>{"image", image}, {"text", text}}) {
    if (length > limit)
      return Status::failure(Code::length, std::string("MoT ") + name + " stream of " + count_of(length, "position") +
                                               " exceeds the model's max_seq_len " + std::to_string(limit) +
                                               " (each modality counts its positions from 0)");
  }
  return Status::success();
}

// The RoPE table is sliced at [start, start + S): past its end the
// rotation fails to broadcast (or, for one row, broadcasts silently).
Status validate_length(const ModelSpec& model, const ModalityContext& c, const ModelForward& forward,
                       const Positions& p) {
  if (model.arch == Arch::mot) return validate_mot_streams_length(model, c, p);
  if (!model.max_seq_len) return Status::success();
  const int64_t limit = *model.max_seq_len;
  const int64_t start = forward.kv_cache ? forward.kv_cache->seq_len : 0;
  if (start <= limit && p.residual <= limit - start) return Status::success();
  const std::string rope = "the model's max_seq_len " + std::to_string(limit) + " (the length of its RoPE table)";
  if (start == 0) return Status::failure(Code::length, "sequence of " + count_of(p.residual, "position") + " exceeds " + rope);
  return Status::failure(Code::length, "KV caches at position " + std::to_string(start) + " plus " +
                                           count_of(p.residual, "new position") + " exceed " + rope);
}

Status validate_first_block(const ModalityContext& c, const ModelSpec& model, const ModelForward& forward,
                            const Positions& p) {
  // Attention views its projections as (B, S, heads, head_dim) with a -1:
  // a (B, S) or empty residual cannot be reshaped.
  if (c.has(Field::inputs_embeds) && c.inputs_embeds().dim() != 3) return inputs_embeds_rank_error(c.inputs_embeds());
  if (p.batch < 1) return shape_error(std::string(p.batch_source) + " has batch size 0; the model needs at least 1");
  if (p.residual < 1) return shape_error("the residual has 0 positions; the model needs at least 1");
  // The image tokens the model's encoder makes (modctx's own check; the
  // field a model does not use is left to the unused-field check).
  if (model.num_image_tokens) {
    const Field image_field = model.arch == Arch::cross_attention ? Field::image_features : Field::prefix_embeds;
    if ((used_fields(model.arch) & (1u << static_cast<int>(image_field))) && c.has(image_field) &&
        c.get(image_field).size(1) != *model.num_image_tokens)
      return shape_error(field_ref(image_field) + " has " + std::to_string(c.get(image_field).size(1)) +
                         " image tokens, but the model's num_image_tokens is " +
                         std::to_string(*model.num_image_tokens));
  }
  return validate_length(model, c, forward, p);
}

Status validate_kv_caches(const ModalityContext& c, const ModelForward& forward, const Positions& p) {
  if (const auto& kv = forward.kv_cache) {
    if (p.residual > kv->capacity - kv->seq_len)
      return Status::failure(Code::kv_cache, "kv_caches hold " + std::to_string(kv->seq_len) + " of " +
                                                 count_of(kv->capacity, "position") + "; " +
                                                 count_of(p.residual, "new position") +
                                                 (p.residual == 1 ? " does" : " do") + " not fit");
    if (kv->batch != p.batch)
      return Status::failure(Code::kv_cache, "kv_caches have batch size " + std::to_string(kv->batch) +
                                                 ", but " + p.batch_source + " has batch size " +
                                                 std::to_string(p.batch));
  }
  // Attention.forward's assert: its explicit mask would be built for a
  // full sequence, not a cached decode step.
  if (c.has(Field::key_padding_mask) || forward.doc_ids)
    return Status::failure(Code::kv_cache,
                           "doc_ids / key_padding_mask are not supported with kv_cache decode (would build an "
                           "incorrect causal mask).");
  return Status::success();
}

}  // namespace

Status validate_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                      ValueChecks values) {
  static const ModalityContext kEmpty;
  const ModalityContext& c = context ? *context : kEmpty;

  // 1. The model, and the KV caches' state.
  Status s = validate_spec(model);
  if (!s.ok()) return s;
  if (forward.kv_cache) {
    s = validate_kv_state(*forward.kv_cache);
    if (!s.ok()) return s;
  }
  const bool has_tokens = forward.has_tokens || forward.tokens;
  const at::IntArrayRef tokens_shape = forward.tokens ? forward.tokens->sizes() : forward.tokens_shape;
  const bool has_kv_caches = forward.has_kv_caches || forward.kv_cache;

  // 2. The reference's forward-time checks.
  s = validate_forward(c.facts(), ForwardArgs{has_tokens, has_kv_caches});
  if (!s.ok()) return s;

  // 3. The embedding's indices.
  if (forward.tokens) {
    s = validate_token_dtype(*forward.tokens);
    if (!s.ok()) return s;
  }

  // 4. The residual h must be buildable: embedding(tokens) or inputs_embeds,
  //    then cat([prefix, h], dim=1).
  const int64_t hidden = model.hidden_size;
  Positions p;
  if (has_tokens) {
    if (tokens_shape.size() != 2)
      return shape_error("tokens must have shape (B, T), got " + shape_tuple(tokens_shape));
    if (tokens_shape[0] < 0 || tokens_shape[1] < 0)  // a shape typed in, not a tensor's
      return shape_error("tokens must have sizes >= 0, got " + shape_tuple(tokens_shape));
    p.batch = tokens_shape[0];
    p.residual = tokens_shape[1];
    p.batch_source = "tokens";
  } else {  // validate_forward guarantees inputs_embeds here
    // The reference reads h.shape[1] first; the hidden dim only matters at
    // the first block (step 6).
    const at::Tensor& ie = c.inputs_embeds();
    if (ie.dim() < 2) return inputs_embeds_rank_error(ie);
    p.batch = ie.size(0);
    p.residual = ie.size(1);
    p.batch_source = "modality.inputs_embeds";
  }
  if (c.has(Field::prefix_embeds)) {
    s = validate_bsd(c.prefix_embeds(), Field::prefix_embeds, "(B, N, D)", p.batch, p.batch_source, hidden);
    if (!s.ok()) return s;
    if (__builtin_add_overflow(p.residual, c.prefix_embeds().size(1), &p.residual))
      return shape_error("the residual's length overflows: " + std::to_string(c.prefix_embeds().size(1)) +
                         " image tokens and " + std::to_string(tokens_shape.empty() ? 0 : tokens_shape.back()) +
                         " text tokens");
  }
  const int64_t residual[2] = {p.batch, p.residual};

  // 5. The reference's model-time checks.
  if (model.arch == Arch::mot || model.arch == Arch::moma) {
    const bool mot = model.arch == Arch::mot;
    if (!c.has(Field::modality_ids))
      return Status::failure(Code::missing_field,
                             std::string(mot ? "MoT" : "MoMa") +
                                 " model requires modality.modality_ids (got None). Build the ModalityContext via " +
                                 (mot ? "MoTStrategy" : "MoMaStrategy") + " or set modality_ids explicitly.");
    s = validate_residual_shape(c.modality_ids(), ref_of(Field::modality_ids), residual);
    if (!s.ok()) return s;
    if (mot) {
      s = validate_mot_streams(model);
      if (!s.ok()) return s;
    }
  }

  // 6. What the first block needs: a (B, S, D) residual with at least one
  //    sample and position, the model's image tokens, positions its RoPE
  //    table covers, room in the KV caches.
  s = validate_first_block(c, model, forward, p);
  if (!s.ok()) return s;
  if (has_kv_caches) {
    s = validate_kv_caches(c, forward, p);
    if (!s.ok()) return s;
  }

  // 7. The rest of the reference's forward: a Cross-Attention block fires
  //    after the first block's cadence, the output slice comes last.
  const bool cross_attention_fires = model.cross_attention_blocks.value_or(1) > 0;
  if (model.arch == Arch::cross_attention && cross_attention_fires && !c.has(Field::image_features))
    return Status::failure(Code::missing_field,
                           "Cross-Attention block fired but modality.image_features is None. Cross-Attention models "
                           "require image_features in the ModalityContext.");
  if (c.output_slice()) {
    s = c.output_slice()->validate_step();
    if (!s.ok()) return s;
  }

  // 8a. Fields and arguments the architecture does not use (the reference
  //     ignores them silently).
  const unsigned used = used_fields(model.arch);
  for (int i = 0; i < kFieldCount; ++i) {
    if (c.has(static_cast<Field>(i)) && !(used & (1u << i)))
      return Status::failure(Code::unused_field, field_ref(static_cast<Field>(i)) + " is not used by a " +
                                                     arch_name(model.arch) + " model");
  }
  if (forward.doc_ids && model.arch == Arch::mot)  // MoT's blocks take no doc_ids
    return Status::failure(Code::unused_field, std::string("doc_ids is not used by a ") + arch_name(model.arch) +
                                                   " model");

  // 8b. Shapes, with B, T, N and D bound across the fields.
  if (c.has(Field::inputs_embeds)) {
    s = validate_hidden(c.inputs_embeds(), Field::inputs_embeds, hidden);
    if (!s.ok()) return s;
  }
  if (c.has(Field::image_features)) {
    const at::Tensor& f = c.image_features();
    s = validate_bsd(f, Field::image_features, "(B, N, D)", p.batch, p.batch_source, hidden);
    if (!s.ok()) return s;
    if (c.has(Field::image_mask) && c.image_mask().sizes() != f.sizes().slice(0, 2))
      return shape_error(field_ref(Field::image_mask) + " shape " + shape_tuple(c.image_mask().sizes()) +
                         " does not match image_features tokens " + shape_tuple(f.sizes().slice(0, 2)));
  }
  if (c.has(Field::key_padding_mask)) {
    s = validate_residual_shape(c.key_padding_mask(), ref_of(Field::key_padding_mask), residual);
    if (!s.ok()) return s;
  }
  if (forward.doc_ids) {
    s = validate_residual_shape(*forward.doc_ids, [] { return std::string("doc_ids"); }, residual);
    if (!s.ok()) return s;
  }

  // 8c, 8d. Dtypes, then devices.
  s = validate_dtypes(c, model);
  if (!s.ok()) return s;
  s = validate_devices(c, forward);
  if (!s.ok()) return s;

  // 9. Value checks, asked for by name.
  if (values.token_ids_range && has_tokens && model.vocab_size) {
    if (!forward.tokens)
      return Status::failure(Code::unsupported, "tokens are given as a shape only; their values were not checked");
    s = validate_token_id_values(*forward.tokens, *model.vocab_size);
    if (!s.ok()) return s;
  }
  if (values.modality_ids_range && c.has(Field::modality_ids))
    return validate_modality_id_values(c.modality_ids(), model);
  return Status::success();
}

void check_model(const ModalityContext* context, const ModelSpec& model, const ModelForward& forward,
                 ValueChecks values) {
  throw_if_failed(validate_model(context, model, forward, values));
}

}  // namespace modctx
