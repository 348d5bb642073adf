// KempnerForge's TOML training configs -> ModelSpec (modctx/config.hpp).
//
// Three steps, each refusing with Code::format:
//   1. limits, before parsing: at most kMaxConfigBytes; then prescan():
//      nesting at most kMaxDepth levels, and no non-ASCII character where
//      toml++ 3.3 would misread it (prescan says why toml++ needs both);
//   2. toml++ parses (header-only, compiled into the core: no library to
//      load, libmodctx.so still needs only c10 and the C/C++ runtime);
//   3. the sections a request depends on are read as KempnerForge's loader
//      and model builder read them, section by section in its order
//      ([model], [train], [vision_encoder], [adapter], [vlm], [video]), each
//      key by the same three rules (unknown key, type, value), then the
//      rules across sections, and the spec is derived.
// Inside, a refusal is a Refusal thrown with a message that starts with the
// key path; read_model_config adds the source, once.
#include "modctx/config.hpp"

#include "printable.hpp"

// toml++ 3.3 asserts a precondition that input can break: "[=]" (a table
// header whose first character starts no key) reaches parse_key, whose code
// then refuses it with a parse error, but only after a TOML_ASSERT_ASSUME:
// an abort with assertions on, __builtin_assume (undefined behaviour under
// clang) with NDEBUG. Fixed upstream after 3.3 (marzer/tomlplusplus#301).
// So its assertions are no-ops here, in every build: NDEBUG is lifted while
// the header is read (there it only selects the assertion macros and
// pure/const attributes).
#pragma push_macro("NDEBUG")
#undef NDEBUG
#define TOML_ASSERT(expr) static_assert(true)
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0  // parsing only: no printers compiled in
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>
#include <new>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace modctx {

namespace {

constexpr size_t kMaxConfigBytes = size_t{16} << 20;
constexpr int kMaxDepth = 32;

struct Refusal {
  std::string message;
};

[[noreturn]] void refuse(std::string message) { throw Refusal{std::move(message)}; }

// ---------------------------------------------------------------- printing

std::string in_quotes(std::string_view s) { return "\"" + printable(s, true) + "\""; }

// A key as a path component: bare where TOML allows it bare, else quoted.
std::string key_name(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  return bare ? std::string(key) : in_quotes(key);
}

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? key_name(key) : parent + "." + key_name(key);
}

// ["image", "text"]
std::string quoted_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + in_quotes(names[i]);
  return out + "]";
}

std::string line_column(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {  // one column per UTF-8 code point, as toml++ counts
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// ---------------------------------------------------------------- limits

// What toml++ must not be given, found before parsing: where and why.
struct ScanProblem {
  size_t offset;
  std::string what;
};

// Two kinds of text are refused before toml++ sees them.
//
// Nesting deeper than `limit` levels. toml++ bounds the nesting of arrays
// and inline tables (256), but not the tables that dotted keys (a.b.c = 1)
// and headers ([a.b.c]) create, and it frees its tree recursively: a header
// of 100 000 names overflows the stack. The scan follows TOML only as far as
// depth needs: strings and comments are skipped, each name of a key or
// header is a level, each array a level, an inline table's keys count from
// the table. A header may also pass through arrays of tables (after [[a]],
// [a.b] is a level deeper than its names), so each [[...]] header seen so
// far may add a level to a later header. It counts at least the depth
// toml++ builds up to any point, so toml++ never frees a tree deeper than
// the limit, even on a parse error; it is not a validator (toml++ is).
//
// Non-ASCII characters where toml++ 3.3 asks whether a character is
// whitespace: its generated is_non_ascii_horizontal_whitespace reaches
// __builtin_unreachable for most of U+00A1..U+0499 (Latin, Greek,
// Cyrillic), U+2D6E..U+3167 and U+FB06..U+FEFE, which is undefined
// behaviour. It asks outside strings and comments, where TOML allows ASCII
// only (so these are malformed TOML anyway; past a malformed number's quote
// or bracket too, which open nothing for it), and in a multi-line basic
// string right after a backslash (an escape, or a line-ending backslash and
// the whitespace and newlines it skips: valid TOML, refused all the same).
std::optional<ScanProblem> prescan(std::string_view s, int limit) {
  const size_t n = s.size();
  const auto ascii = [&](size_t i) { return static_cast<unsigned char>(s[i]) < 0x80; };
  std::optional<ScanProblem> problem;
  // The index of a string's last character (the closing quote; before the
  // newline or at the end when it is not closed: toml++ refuses those).
  // toml++ reads a multi-line string wherever it reads a string, keys
  // included (and then refuses it there).
  auto skip_string = [&](size_t i) {
    const char q = s[i];
    const bool escapes = q == '"';
    if (i + 2 < n && s[i + 1] == q && s[i + 2] == q) {
      for (size_t j = i + 3; j < n; ++j) {
        if (escapes && s[j] == '\\') {
          size_t k = j + 1;
          while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n')) ++k;
          if (k < n && !ascii(k)) {
            problem = ScanProblem{k, "a non-ASCII character right after a backslash in a multi-line string "
                                     "(modctx's TOML parser, toml++ 3.3, misreads it there: write it as \\uXXXX)"};
            return n;
          }
          j = k > j + 1 ? k - 1 : j + 1;  // past a line-ending backslash's whitespace, or the escaped character
        } else if (s[j] == q && j + 2 < n && s[j + 1] == q && s[j + 2] == q) {
          j += 2;
          for (int extra = 0; extra < 2 && j + 1 < n && s[j + 1] == q; ++extra) ++j;  // """a"""" is a"
          return j;
        }
      }
      return n - 1;
    }
    size_t j = i + 1;
    for (; j < n && s[j] != '\n'; ++j) {
      if (escapes && s[j] == '\\' && j + 1 < n && s[j + 1] != '\n') ++j;
      else if (s[j] == q) return j;
    }
    return j - 1;
  };

  enum class Mode { key, header, value };
  struct Open {
    bool inline_table;
    int depth;  // the level of the array or inline table itself
  };
  std::vector<Open> open;
  Mode mode = Mode::key;
  int header = 0;           // levels of the current [header]
  int array_headers = 0;    // [[...]] headers so far
  bool array_header = false;
  int base = 0;             // key mode: the level of the table the key is in
  int names = 1;            // key and header mode: names so far
  bool key_begun = false;   // key mode: a name started (a '[' is then not a header)
  int depth = 0;            // value mode: the level of the value
  // Value mode: no value character yet (after "=", "[" or ","). A quote
  // starts a string, and "[" or "{" an array or table, only there:
  // elsewhere toml++ reads them as part of a malformed scalar, looking on
  // past them (up to 127 characters, to a space, ",", "]", "}" or "#").
  bool value_start = false;
  auto start_key = [&](int table_level) {
    mode = Mode::key;
    base = table_level;
    names = 1;
    key_begun = false;
  };
  auto header_levels = [&] { return names + std::min(names, array_headers + (array_header ? 1 : 0)); };
  auto too_deep = [&](size_t i) {
    return ScanProblem{i, "tables and arrays nested deeper than " + std::to_string(limit) + " levels"};
  };
  auto close = [&] {
    depth = open.back().depth;
    open.pop_back();
    mode = Mode::value;
    value_start = false;
  };

  const size_t bom = s.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a UTF-8 byte order mark, which toml++ skips
  for (size_t i = bom; i < n; ++i) {
    const char c = s[i];
    if (c == '#') {
      while (i + 1 < n && s[i + 1] != '\n') ++i;
      continue;
    }
    if (c == '\n') {
      if (open.empty()) start_key(header);
      continue;
    }
    if ((c == '"' || c == '\'') && (mode != Mode::value || value_start)) {
      i = skip_string(i);
      if (problem) return problem;
      key_begun = true;
      value_start = false;
      continue;
    }
    if (!ascii(i))
      return ScanProblem{i, "malformed TOML: a non-ASCII character outside a string or comment"};
    switch (mode) {
      case Mode::header:
        if (c == '.') {
          ++names;
          if (header_levels() > limit) return too_deep(i);
        } else if (c == ']') {
          header = header_levels();
          if (array_header) ++array_headers;
          array_header = false;
          mode = Mode::value;  // the rest of the line: "]" of [[...]], a comment
          value_start = false;
          depth = header;
        }
        break;
      case Mode::key:
        if (c == '.') {
          ++names;
          if (base + names > limit) return too_deep(i);
        } else if (c == '=') {
          depth = base + names;
          if (depth > limit) return too_deep(i);
          mode = Mode::value;
          value_start = true;
        } else if (c == '[' && !key_begun && open.empty()) {
          mode = Mode::header;
          names = 1;
          array_header = i + 1 < n && s[i + 1] == '[';
          if (array_header) ++i;
          if (header_levels() > limit) return too_deep(i);
        } else if (c == '}' && !open.empty() && open.back().inline_table) {
          close();
        } else if (c != ' ' && c != '\t' && c != '\r') {
          key_begun = true;
        }
        break;
      case Mode::value:
        if (c == '[' && value_start) {
          if (depth + 1 > limit) return too_deep(i);
          open.push_back({false, depth});
          ++depth;
          value_start = true;
        } else if (c == '{' && value_start) {
          open.push_back({true, depth});
          start_key(depth);
        } else if (c == ',' && !open.empty()) {
          if (open.back().inline_table) start_key(open.back().depth);
          else depth = open.back().depth + 1;
          value_start = true;
        } else if ((c == ']' || c == '}') && !open.empty() && open.back().inline_table == (c == '}')) {
          close();
        } else if (c != ' ' && c != '\t' && c != '\r') {
          value_start = false;
        }
        break;
    }
  }
  return std::nullopt;
}

std::string too_large_message() {
  return "larger than 16 MiB (a config may have at most " + std::to_string(kMaxConfigBytes) + " bytes)";
}

// ---------------------------------------------------------------- the three rules

// What a key must hold. `number` is a float or an integer; `integers` a
// table of integers.
enum class Kind { integer, number, string, boolean, strings, array, table, integers };

const char* kind_name(Kind kind) {
  static const char* const names[] = {"an integer", "a number", "a string", "a boolean", "an array of strings",
                                      "an array", "a table", "a table of integers"};
  return names[static_cast<int>(kind)];
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    default: return "a date-time";  // node_type::date_time: a parsed value is never none
  }
}

// The type rule: "<path>: expected an integer, found a string".
void expect(const std::string& path, const toml::node& node, Kind kind) {
  auto wrong = [&](const std::string& where, const toml::node& found, Kind wanted) {
    refuse(where + ": expected " + kind_name(wanted) + ", found " + type_name(found));
  };
  bool ok = false;
  switch (kind) {
    case Kind::integer: ok = node.is_integer(); break;
    case Kind::number: ok = node.is_integer() || node.is_floating_point(); break;
    case Kind::string: ok = node.is_string(); break;
    case Kind::boolean: ok = node.is_boolean(); break;
    case Kind::array: ok = node.is_array(); break;
    case Kind::table: ok = node.is_table(); break;
    case Kind::strings:
      ok = node.is_array();
      if (ok) {
        const toml::array& a = *node.as_array();
        for (size_t i = 0; i < a.size(); ++i)
          if (!a[i].is_string()) wrong(path + "[" + std::to_string(i) + "]", a[i], Kind::string);
      }
      break;
    case Kind::integers:
      ok = node.is_table();
      if (ok)
        for (auto&& [key, value] : *node.as_table())
          if (!value.is_integer()) wrong(join_path(path, key.str()), value, Kind::integer);
      break;
  }
  if (!ok) wrong(path, node, kind);
}

struct KeySpec {
  std::string_view name;
  Kind kind;
};
using KeySpecs = std::vector<KeySpec>;

// One table of the config, as KempnerForge's dataclass for it declares it.
class Section {
 public:
  Section(const toml::table* table, std::string path) : table_(table), path_(std::move(path)) {}

  bool present() const { return table_ != nullptr; }
  std::string key_path(std::string_view key) const { return join_path(path_, key); }
  const toml::node* get(std::string_view key) const { return table_ ? table_->get(key) : nullptr; }

  // The unknown-key rule, then the type rule on every key given: the first
  // unknown key (in key order) is refused, naming the valid ones in order;
  // then the first value of the wrong type, in `keys`' order. `noun` and
  // `note` word the first: "model.dimm: unknown key (valid keys: ...)".
  void check(const KeySpecs& keys, const std::string& noun = "key", const std::string& note = "") const {
    if (!table_) return;
    for (const auto& entry : *table_) {
      const std::string_view key = entry.first.str();
      const bool known = std::any_of(keys.begin(), keys.end(), [&](const KeySpec& k) { return k.name == key; });
      if (known) continue;
      std::vector<std::string_view> names;
      for (const KeySpec& k : keys) names.push_back(k.name);
      std::sort(names.begin(), names.end());
      std::string valid;
      for (size_t i = 0; i < names.size(); ++i) valid += (i ? ", " : "") + key_name(names[i]);
      refuse(key_path(key) + ": unknown " + noun + note + " (valid " + noun + "s: " + valid + ")");
    }
    for (const KeySpec& k : keys)
      if (const toml::node* node = get(k.name)) expect(key_path(k.name), *node, k.kind);
  }

  // Values, after check(): the key's, or `fallback` (KempnerForge's default)
  // when the key is not given.
  int64_t integer(std::string_view key, int64_t fallback) const {
    const toml::node* node = get(key);
    return node ? node->as_integer()->get() : fallback;
  }
  std::string string(std::string_view key, std::string fallback) const {
    const toml::node* node = get(key);
    return node ? node->as_string()->get() : fallback;
  }
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback) const {
    const toml::node* node = get(key);
    if (!node) return fallback;
    std::vector<std::string> out;
    for (const toml::node& item : *node->as_array()) out.push_back(item.as_string()->get());
    return out;
  }

 private:
  const toml::table* table_;
  std::string path_;
};

// The value rules, each worded once.
void require_positive(const std::string& path, int64_t value) {
  if (value <= 0) refuse(path + " must be positive, got " + std::to_string(value));
}
void require_non_negative(const std::string& path, int64_t value) {
  if (value < 0) refuse(path + " must be non-negative, got " + std::to_string(value));
}
void require_one_of(const std::string& path, const std::string& value, const std::vector<std::string>& options) {
  if (std::find(options.begin(), options.end(), value) != options.end()) return;
  std::string list;
  for (size_t i = 0; i < options.size(); ++i) list += (i ? ", " : "") + in_quotes(options[i]);
  refuse(path + " must be one of " + list + ", got " + in_quotes(value));
}
void require_divisible(const std::string& path, int64_t value, const std::string& divisor_path, int64_t divisor) {
  if (value % divisor != 0)
    refuse(path + " (" + std::to_string(value) + ") must be divisible by " + divisor_path + " (" +
           std::to_string(divisor) + ")");
}

// ---------------------------------------------------------------- the sections

// The top level (KempnerForge's JobConfig): the sections read below, and the
// ones a request does not depend on, accepted unread.
const KeySpecs& sections() {
  static const KeySpecs keys = {
      {"model", Kind::table}, {"train", Kind::table}, {"optimizer", Kind::table}, {"scheduler", Kind::table},
      {"data", Kind::table}, {"eval", Kind::table}, {"distributed", Kind::table}, {"checkpoint", Kind::table},
      {"metrics", Kind::table}, {"profiling", Kind::table}, {"vision_encoder", Kind::table}, {"adapter", Kind::table},
      {"vlm", Kind::table}, {"video", Kind::table},
  };
  return keys;
}

// [model] (ModelConfig).
const KeySpecs& model_keys() {
  static const KeySpecs keys = {
      {"dim", Kind::integer}, {"n_layers", Kind::integer}, {"n_heads", Kind::integer}, {"n_kv_heads", Kind::integer},
      {"vocab_size", Kind::integer}, {"ffn_dim_multiplier", Kind::number}, {"ffn_hidden_dim", Kind::integer},
      {"norm_type", Kind::string}, {"norm_eps", Kind::number}, {"activation", Kind::string},
      {"max_seq_len", Kind::integer}, {"rope_theta", Kind::number}, {"tie_embeddings", Kind::boolean},
      {"qk_norm", Kind::boolean}, {"init_std", Kind::number}, {"model_type", Kind::string},
      {"sdpa_backend", Kind::string}, {"num_experts", Kind::integer}, {"moe_top_k", Kind::integer},
      {"moe_frequency", Kind::integer}, {"moe_router", Kind::string}, {"moe_shared_experts", Kind::integer},
      {"moe_aux_loss_weight", Kind::number}, {"moe_capacity_factor", Kind::number},
      {"moe_sequence_aux_loss_weight", Kind::number}, {"moe_gradient_scale", Kind::boolean},
      {"moe_bias_schedule", Kind::string}, {"moe_packed_experts", Kind::boolean},
      {"moe_expert_ffn_multiplier", Kind::number}, {"moe_router_z_loss_weight", Kind::number},
  };
  return keys;
}

// [train] (TrainConfig).
const KeySpecs& train_keys() {
  static const KeySpecs keys = {
      {"batch_size", Kind::integer}, {"seq_len", Kind::integer}, {"max_steps", Kind::integer},
      {"grad_accum_steps", Kind::integer}, {"grad_clip_norm", Kind::number}, {"seed", Kind::integer},
      {"data_seed", Kind::integer}, {"compile_model", Kind::boolean}, {"mixed_precision", Kind::string},
      {"activation_checkpointing", Kind::string}, {"loss_fn", Kind::string}, {"z_loss_weight", Kind::number},
      {"ce_chunk_size", Kind::integer}, {"shutdown_timeout_sec", Kind::number},
      {"nccl_health_check_interval", Kind::integer},
  };
  return keys;
}

// [vision_encoder] (VisionEncoderConfig).
const KeySpecs& vision_keys() {
  static const KeySpecs keys = {
      {"type", Kind::string}, {"path", Kind::string}, {"feature_dim", Kind::integer}, {"num_tokens", Kind::integer},
  };
  return keys;
}

// [adapter] (AdapterConfig).
const KeySpecs& adapter_keys() {
  static const KeySpecs keys = {
      {"type", Kind::string}, {"hidden_dim", Kind::integer}, {"activation", Kind::string},
      {"pool_window", Kind::integer}, {"pool_heads", Kind::integer},
  };
  return keys;
}

// [vlm]: VLMConfig's keys, and each architecture's own (its subclass').
const KeySpecs& vlm_keys() {
  static const KeySpecs keys = {
      {"arch", Kind::string}, {"max_text_len", Kind::integer}, {"freeze", Kind::array},
      {"freeze_schedule", Kind::array}, {"module_patterns", Kind::table},
  };
  return keys;
}
const KeySpecs& cross_attention_keys() {
  static const KeySpecs keys = {
      {"cross_attention_every_n_layers", Kind::integer}, {"cross_attention_n_heads", Kind::integer},
      {"cross_attention_n_kv_heads", Kind::integer},
  };
  return keys;
}
const KeySpecs& mot_keys() {
  static const KeySpecs keys = {
      {"mot_modalities", Kind::strings}, {"mot_image_n_heads", Kind::integer},
      {"mot_image_n_kv_heads", Kind::integer}, {"mot_warm_start_from_text", Kind::boolean},
      {"mot_warm_start_path", Kind::string},
  };
  return keys;
}
const KeySpecs& moma_keys() {
  static const KeySpecs keys = {
      {"moma_modalities", Kind::strings}, {"moma_experts_per_modality", Kind::integers},
      {"moma_capacity_factor", Kind::number}, {"moma_gumbel_noise", Kind::boolean},
  };
  return keys;
}

// [video] (VideoConfig).
const KeySpecs& video_keys() {
  static const KeySpecs keys = {
      {"data_root", Kind::string}, {"dataset_type", Kind::string}, {"dataset_name", Kind::string},
      {"sampling_policy", Kind::string}, {"split", Kind::string}, {"max_samples", Kind::integer},
      {"max_frames", Kind::integer}, {"min_frames", Kind::integer}, {"fps", Kind::number},
      {"frame_size", Kind::integer}, {"prompt", Kind::string},
  };
  return keys;
}

struct ModelNumbers {
  int64_t dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len;
};

ModelNumbers read_model(const Section& s) {
  s.check(model_keys());
  ModelNumbers m{};
  m.dim = s.integer("dim", 4096);
  m.n_layers = s.integer("n_layers", 32);
  m.n_heads = s.integer("n_heads", 32);
  // Unset: 32, not n_heads. KempnerForge resolves it (None -> n_heads) in
  // its default ModelConfig, whose n_heads is 32, and a file's [model]
  // without the key keeps that resolved value.
  const bool kv_given = s.get("n_kv_heads") != nullptr;
  m.n_kv_heads = s.integer("n_kv_heads", 32);
  m.vocab_size = s.integer("vocab_size", 32000);
  m.max_seq_len = s.integer("max_seq_len", 2048);
  require_positive(s.key_path("dim"), m.dim);
  require_positive(s.key_path("n_layers"), m.n_layers);
  require_positive(s.key_path("n_heads"), m.n_heads);
  require_positive(s.key_path("vocab_size"), m.vocab_size);
  require_positive(s.key_path("n_kv_heads"), m.n_kv_heads);
  require_divisible(s.key_path("dim"), m.dim, s.key_path("n_heads"), m.n_heads);
  require_divisible(s.key_path("n_heads"), m.n_heads,
                    kv_given ? s.key_path("n_kv_heads") : s.key_path("n_kv_heads") + ", unset so KempnerForge's default",
                    m.n_kv_heads);
  require_positive(s.key_path("max_seq_len"), m.max_seq_len);  // the RoPE table's length
  return m;
}

// The dtype the training script casts the model to (TrainConfig.param_dtype):
// bf16 when the config leaves mixed_precision out, as KempnerForge's default.
at::ScalarType read_train(const Section& s) {
  s.check(train_keys());
  const std::string precision = s.string("mixed_precision", "bf16");
  require_one_of(s.key_path("mixed_precision"), precision, {"bf16", "fp16", "fp32", "fp8"});
  if (precision == "fp16") return at::kHalf;
  if (precision == "fp32") return at::kFloat;
  return at::kBFloat16;  // bf16, and fp8 (FP8 compute over bf16 weights)
}

struct Encoder {
  std::string type;
  int64_t num_tokens;
};

Encoder read_vision_encoder(const Section& s) {
  s.check(vision_keys());
  Encoder e{s.string("type", "random"), s.integer("num_tokens", 0)};
  require_one_of(s.key_path("type"), e.type, {"random", "siglip2", "clip"});
  require_non_negative(s.key_path("feature_dim"), s.integer("feature_dim", 0));
  require_non_negative(s.key_path("num_tokens"), e.num_tokens);
  return e;
}

struct Adapter {
  std::string type;
  int64_t pool_window;
};

Adapter read_adapter(const Section& s) {
  s.check(adapter_keys());
  Adapter a{s.string("type", "mlp_2layer"), s.integer("pool_window", 2)};
  require_one_of(s.key_path("type"), a.type, {"mlp_2layer", "linear", "avgpool", "attentional_pool"});
  require_positive(s.key_path("pool_window"), a.pool_window);
  return a;
}

struct Vlm {
  Arch arch = Arch::joint_decoder;
  int64_t max_text_len = 512;
  int64_t cross_attention_every_n_layers = 4;
  int64_t mot_image_n_heads = 0;  // 0: as many as the text's
  int64_t mot_image_n_kv_heads = 0;
  std::vector<std::string> modalities;  // MoT and MoMa
};

// A modality list (MoT's and MoMa's, each checked as its config class does).
void check_modalities(const std::string& path, const std::vector<std::string>& names) {
  if (names.size() < 2) refuse(path + " must have at least 2 entries, got " + quoted_list(names));
  for (const char* needed : {"text", "image"})
    if (std::find(names.begin(), names.end(), needed) == names.end())
      refuse(path + " must include " + in_quotes(needed) + ", got " + quoted_list(names));
  for (size_t i = 0; i < names.size(); ++i)
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
        names.begin() + static_cast<std::ptrdiff_t>(i))
      refuse(path + " must not contain duplicates, got " + quoted_list(names));
}

Vlm read_vlm(const Section& s) {
  Vlm v;
  // The architecture first: it decides which keys the section may hold.
  const std::string arch_path = s.key_path("arch");
  if (const toml::node* arch = s.get("arch")) expect(arch_path, *arch, Kind::string);
  const std::string arch = s.string("arch", "joint_decoder");
  require_one_of(arch_path, arch, {"joint_decoder", "cross_attention", "mot", "moma"});
  parse_arch(arch, &v.arch);
  KeySpecs keys = vlm_keys();
  const KeySpecs& own = v.arch == Arch::cross_attention ? cross_attention_keys()
                        : v.arch == Arch::mot           ? mot_keys()
                        : v.arch == Arch::moma          ? moma_keys()
                                                        : KeySpecs{};
  keys.insert(keys.end(), own.begin(), own.end());
  s.check(keys, "key", " for " + arch_path + " " + in_quotes(arch));

  v.max_text_len = s.integer("max_text_len", 512);
  require_positive(s.key_path("max_text_len"), v.max_text_len);
  if (v.arch == Arch::cross_attention) {
    v.cross_attention_every_n_layers = s.integer("cross_attention_every_n_layers", 4);
    require_positive(s.key_path("cross_attention_every_n_layers"), v.cross_attention_every_n_layers);
  } else if (v.arch == Arch::mot) {
    v.modalities = s.strings("mot_modalities", {"image", "text"});
    check_modalities(s.key_path("mot_modalities"), v.modalities);
    v.mot_image_n_heads = s.integer("mot_image_n_heads", 0);
    v.mot_image_n_kv_heads = s.integer("mot_image_n_kv_heads", 0);
    require_non_negative(s.key_path("mot_image_n_heads"), v.mot_image_n_heads);
    require_non_negative(s.key_path("mot_image_n_kv_heads"), v.mot_image_n_kv_heads);
  } else if (v.arch == Arch::moma) {
    v.modalities = s.strings("moma_modalities", {"image", "text"});
    check_modalities(s.key_path("moma_modalities"), v.modalities);
    // Expert groups: one per modality, none for another.
    const std::string experts_path = s.key_path("moma_experts_per_modality");
    std::map<std::string, int64_t> experts = {{"image", 4}, {"text", 4}};
    if (const toml::node* node = s.get("moma_experts_per_modality")) {
      KeySpecs modality_keys;
      for (const std::string& m : v.modalities) modality_keys.push_back({m, Kind::integer});
      Section(node->as_table(), experts_path).check(modality_keys);
      experts.clear();
      for (auto&& [key, value] : *node->as_table()) experts[std::string(key.str())] = value.as_integer()->get();
    }
    for (const std::string& m : v.modalities)
      if (!experts.count(m))
        refuse(experts_path + " must have an entry for each of " + s.key_path("moma_modalities") + ", missing " +
               in_quotes(m));
    for (const auto& [m, count] : experts) require_positive(join_path(experts_path, m), count);
  }
  return v;
}

struct Video {
  int64_t max_frames;
};

Video read_video(const Section& s) {
  s.check(video_keys());
  const int64_t max_frames = s.integer("max_frames", 16);
  const int64_t min_frames = s.integer("min_frames", 4);
  require_positive(s.key_path("min_frames"), min_frames);
  require_positive(s.key_path("max_frames"), max_frames);
  if (min_frames > max_frames)
    refuse(s.key_path("min_frames") + " (" + std::to_string(min_frames) + ") must be <= " + s.key_path("max_frames") +
           " (" + std::to_string(max_frames) + ")");
  return {max_frames};
}

// ---------------------------------------------------------------- across sections

int64_t isqrt(int64_t n) {
  auto r = static_cast<uint64_t>(std::sqrt(static_cast<double>(n)));
  const auto u = static_cast<uint64_t>(n);
  while (r * r > u) --r;
  while ((r + 1) * (r + 1) <= u) ++r;
  return static_cast<int64_t>(r);
}

// The tokens one image (frame) leaves after the adapter: a pooling adapter
// pools the encoder's square patch grid by window x window with ceil edges
// (attentional_pool: no ragged edges); a projection adapter keeps them all.
int64_t adapter_tokens(const Adapter& a, int64_t tokens) {
  const bool pools = a.type == "avgpool" || a.type == "attentional_pool";
  if (!pools) return tokens;
  const int64_t grid = isqrt(tokens);
  if (grid * grid != tokens)
    refuse("vision_encoder.num_tokens (" + std::to_string(tokens) + ") must be a perfect square for adapter.type " +
           in_quotes(a.type) + " (it pools the encoder's square patch grid)");
  if (a.type == "attentional_pool" && grid % a.pool_window != 0)
    refuse("adapter.pool_window (" + std::to_string(a.pool_window) + ") must divide the side of the " +
           std::to_string(grid) + "x" + std::to_string(grid) + " patch grid (vision_encoder.num_tokens " +
           std::to_string(tokens) + ") for adapter.type \"attentional_pool\", which pools no ragged edges");
  const int64_t side = grid / a.pool_window + (grid % a.pool_window != 0);
  return side * side;
}

ModelSpec read_config(const toml::table& root) {
  const Section top(&root, "");
  top.check(sections(), "section");
  auto section = [&](std::string_view name) {
    const toml::node* node = root.get(name);
    return Section(node ? node->as_table() : nullptr, std::string(name));
  };
  const Section vision_section = section("vision_encoder"), adapter_section = section("adapter"),
                vlm_section = section("vlm"), video_section = section("video");

  const ModelNumbers model = read_model(section("model"));
  ModelSpec spec;
  spec.arch = Arch::text;
  spec.hidden_size = model.dim;
  spec.vocab_size = model.vocab_size;
  spec.max_seq_len = model.max_seq_len;
  spec.text_dtype = read_train(section("train"));
  const Encoder encoder = read_vision_encoder(vision_section);  // [vision_encoder] defaults when absent
  const Adapter adapter = read_adapter(adapter_section);        // likewise: a VLM without [adapter] gets mlp_2layer
  const std::optional<Vlm> vlm = vlm_section.present() ? std::optional<Vlm>(read_vlm(vlm_section)) : std::nullopt;
  const int64_t frames = video_section.present() ? read_video(video_section).max_frames : 1;
  if (vlm && !vision_section.present())
    refuse("vision_encoder: missing (a config with [vlm] needs a [vision_encoder] section)");
  if (video_section.present() && !vlm)
    refuse("vlm: missing (a config with [video] needs a [vlm] section: video runs through the VLM)");
  if (!vlm) return spec;

  // The image tokens per sample: frames x the adapter's count of the
  // encoder's tokens (the training script builds the model for
  // [video].max_frames frames per clip).
  int64_t tokens = encoder.num_tokens;
  if (tokens == 0) {
    if (encoder.type != "random")
      refuse("vision_encoder.num_tokens must be given for vision_encoder.type " + in_quotes(encoder.type) +
             ": a Hugging Face encoder's token count comes from its weights, which a config check does not load; "
             "set vision_encoder.num_tokens to the encoder's patch count (e.g. 196 for a 224-pixel, patch-16 model)");
    tokens = 16;  // the "random" test encoder's own default
  }
  const int64_t per_frame = adapter_tokens(adapter, tokens);
  int64_t image_tokens = 0;
  if (__builtin_mul_overflow(frames, per_frame, &image_tokens))
    refuse("video.max_frames (" + std::to_string(frames) + ") x " + std::to_string(per_frame) +
           " image tokens per frame is more image tokens than a 64-bit count holds");

  // The residual's length at the longest text: Cross-Attention keeps image
  // tokens out of the residual. Both terms are int64, so their sum fits uint64.
  const int64_t residual_image_tokens = vlm->arch == Arch::cross_attention ? 0 : image_tokens;
  const uint64_t required = static_cast<uint64_t>(residual_image_tokens) + static_cast<uint64_t>(vlm->max_text_len);
  if (static_cast<uint64_t>(model.max_seq_len) < required)
    refuse("model.max_seq_len (" + std::to_string(model.max_seq_len) + ") must be at least the residual's image tokens (" +
           std::to_string(residual_image_tokens) + ") + vlm.max_text_len (" + std::to_string(vlm->max_text_len) +
           ") = " + std::to_string(required));

  // MoT v1 runs one attention over all modalities: equal head counts.
  if (vlm->arch == Arch::mot) {
    if (vlm->mot_image_n_heads != 0 && vlm->mot_image_n_heads != model.n_heads)
      refuse("vlm.mot_image_n_heads (" + std::to_string(vlm->mot_image_n_heads) + ") must equal model.n_heads (" +
             std::to_string(model.n_heads) + "): MoT runs one attention over all modalities");
    if (vlm->mot_image_n_kv_heads != 0 && vlm->mot_image_n_kv_heads != model.n_kv_heads)
      refuse("vlm.mot_image_n_kv_heads (" + std::to_string(vlm->mot_image_n_kv_heads) +
             ") must equal model.n_kv_heads (" + std::to_string(model.n_kv_heads) +
             "): MoT runs one attention over all modalities");
  }

  spec.arch = vlm->arch;
  spec.num_image_tokens = image_tokens;
  if (vlm->arch == Arch::cross_attention) spec.cross_attention_blocks = model.n_layers / vlm->cross_attention_every_n_layers;
  if (!vlm->modalities.empty()) {
    spec.modality_names = vlm->modalities;
    spec.num_modalities = static_cast<int64_t>(vlm->modalities.size());
  }
  return spec;
}

}  // namespace

Status read_model_config(std::string_view text, const std::string& source, ModelSpec* out) {
  auto format = [&](const std::string& message) { return Status::failure(Code::format, source + ": " + message); };
  try {
    if (text.size() > kMaxConfigBytes) return format(too_large_message());
    if (const std::optional<ScanProblem> p = prescan(text, kMaxDepth))
      return format(line_column(text, p->offset) + ": " + p->what);
    toml::table root;
    try {
      root = toml::parse(text);
    } catch (const toml::parse_error& e) {
      return format("line " + std::to_string(e.source().begin.line) + ", column " +
                    std::to_string(e.source().begin.column) + ": malformed TOML: " + printable(e.description()));
    }
    ModelSpec spec = read_config(root);
    if (out) *out = std::move(spec);
    return Status::success();
  } catch (const Refusal& r) {
    return format(r.message);
  } catch (const std::bad_alloc&) {
    return Status::failure(Code::out_of_memory, source + ": out of memory while reading the config");
  } catch (const std::exception& e) {
    return Status::failure(Code::internal, source + ": " + e.what());
  }
}

Status read_model_config_file(const std::string& path, ModelSpec* out) {
  auto io_error = [&](const char* what, int err) {
    return Status::failure(Code::io, path + ": " + what + ": " + std::system_category().message(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", errno);
  // Read up to one byte past the limit, whatever the file claims to be
  // (a device or a FIFO has no size).
  std::string text;
  try {
    size_t used = 0;
    while (used <= kMaxConfigBytes) {
      text.resize(std::min(kMaxConfigBytes + 1, std::max<size_t>(used * 2, 64 * 1024)));
      ssize_t n;
      do n = ::read(fd, &text[used], text.size() - used);
      while (n < 0 && errno == EINTR);
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return io_error("cannot read", err);
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
    }
    text.resize(used);
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return Status::failure(Code::out_of_memory, path + ": out of memory while reading the config");
  }
  ::close(fd);
  if (text.size() > kMaxConfigBytes) return Status::failure(Code::format, path + ": " + too_large_message());
  return read_model_config(text, path, out);
}

ModelSpec model_from_config(std::string_view text, const std::string& source) {
  ModelSpec spec;
  throw_if_failed(read_model_config(text, source, &spec));
  return spec;
}

ModelSpec model_from_config_file(const std::string& path) {
  ModelSpec spec;
  throw_if_failed(read_model_config_file(path, &spec));
  return spec;
}

}  // namespace modctx
