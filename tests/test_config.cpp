// Reading KempnerForge's TOML configs (include/modctx/config.hpp): what each
// architecture derives, upstream's defaults, every refusal with its exact
// message, and hostile configs. The configs are modctx's own
// (tests/configs/, MODCTX_TEST_CONFIGS) or written inline.
#include "catch_with_torch.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "modctx/config.hpp"

using modctx::Arch;
using modctx::Code;
using modctx::ModelSpec;
using modctx::Status;

namespace {

const std::string kConfigs = MODCTX_TEST_CONFIGS;

ModelSpec load_file(const std::string& name) {
  ModelSpec spec;
  const Status s = modctx::read_model_config_file(kConfigs + "/" + name, &spec);
  INFO(s.message);
  REQUIRE(s.ok());
  return spec;
}

ModelSpec load(const std::string& text) {
  ModelSpec spec;
  const Status s = modctx::read_model_config(text, "<config>", &spec);
  INFO(s.message);
  REQUIRE(s.ok());
  return spec;
}

// The message of a refused config ("<config>: " and all), its code format.
std::string refused(const std::string& text) {
  ModelSpec spec;
  spec.hidden_size = 12345;
  const Status s = modctx::read_model_config(text, "<config>", &spec);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code == Code::format);
  CHECK(spec.hidden_size == 12345);  // untouched
  return s.message;
}

// A valid VLM config around `vlm` (the [vlm] table's body) and `extra`
// sections: 256-wide, 64 random image tokens, max_seq_len 1024.
std::string vlm_config(const std::string& vlm, const std::string& extra = "") {
  return "[model]\ndim = 256\nn_layers = 8\nn_heads = 4\nn_kv_heads = 4\nmax_seq_len = 1024\n"
         "[vision_encoder]\nnum_tokens = 64\n"
         "[vlm]\n" +
         vlm + "\n" + extra;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/modctx-config-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    path = tmpl;
    size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      REQUIRE(n > 0);
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

// ---------------------------------------------------------------- architectures

TEST_CASE("config: a text model", "[config]") {
  const ModelSpec m = load_file("text.toml");
  CHECK(m.arch == Arch::text);
  CHECK(m.hidden_size == 512);
  CHECK(m.vocab_size == 50257);
  CHECK(m.max_seq_len == 1024);
  CHECK_FALSE(m.num_image_tokens.has_value());
  CHECK_FALSE(m.cross_attention_blocks.has_value());
  CHECK(m.num_modalities == 2);
  CHECK(m.modality_names.empty());
  CHECK(m.text_dtype == at::kHalf);
}

TEST_CASE("config: Joint-Decoder, the RoPE table filled exactly", "[config]") {
  const ModelSpec m = load_file("joint_decoder.toml");
  CHECK(m.arch == Arch::joint_decoder);
  CHECK(m.hidden_size == 256);
  CHECK(m.vocab_size == 1000);
  CHECK(m.max_seq_len == 512);
  CHECK(m.num_image_tokens == 64);
  CHECK(m.text_dtype == at::kBFloat16);
  CHECK(m.modality_names.empty());
}

TEST_CASE("config: Cross-Attention keeps image tokens out of the residual", "[config]") {
  const ModelSpec m = load_file("cross_attention.toml");
  CHECK(m.arch == Arch::cross_attention);
  CHECK(m.num_image_tokens == 256);   // image_features' tokens
  CHECK(m.max_seq_len == 300);        // 300 text tokens, no image tokens
  CHECK(m.cross_attention_blocks == 2);  // 10 layers / every 4
  CHECK(m.text_dtype == at::kBFloat16);  // [train] leaves mixed_precision to its default
}

TEST_CASE("config: MoT with three modalities", "[config]") {
  const ModelSpec m = load_file("mot.toml");
  CHECK(m.arch == Arch::mot);
  CHECK(m.num_image_tokens == 100);
  CHECK(m.num_modalities == 3);
  CHECK(m.modality_names == std::vector<std::string>{"image", "text", "audio"});
  CHECK(m.max_seq_len == 640);
}

TEST_CASE("config: MoMa with its experts table", "[config]") {
  const ModelSpec m = load_file("moma.toml");
  CHECK(m.arch == Arch::moma);
  CHECK(m.num_image_tokens == 144);  // a projection adapter keeps them all
  CHECK(m.num_modalities == 2);
  CHECK(m.modality_names == std::vector<std::string>{"text", "image"});
}

TEST_CASE("config: a pooled video clip: 8 frames x 49 tokens", "[config]") {
  const ModelSpec m = load_file("video.toml");
  CHECK(m.arch == Arch::joint_decoder);
  CHECK(m.hidden_size == 1024);
  CHECK(m.num_image_tokens == 392);
  CHECK(m.text_dtype == at::kBFloat16);  // fp8 computes over bf16 weights
}

// ---------------------------------------------------------------- defaults

TEST_CASE("config: upstream's defaults", "[config]") {
  SECTION("an empty config is the default text model") {
    const ModelSpec m = load("");
    CHECK(m.arch == Arch::text);
    CHECK(m.hidden_size == 4096);
    CHECK(m.vocab_size == 32000);
    CHECK(m.max_seq_len == 2048);
    CHECK(m.text_dtype == at::kBFloat16);  // TrainConfig's mixed_precision "bf16"
  }
  SECTION("[vlm] alone: Joint-Decoder, the random encoder's 16 tokens, a projection adapter") {
    const ModelSpec m = load("[vision_encoder]\n[vlm]\n");
    CHECK(m.arch == Arch::joint_decoder);
    CHECK(m.num_image_tokens == 16);
  }
  SECTION("Cross-Attention: 32 layers, a block every 4") {
    CHECK(load("[vision_encoder]\n[vlm]\narch = \"cross_attention\"\n").cross_attention_blocks == 8);
  }
  SECTION("Cross-Attention with a cadence above the layer count has no block") {
    CHECK(load(vlm_config("arch = \"cross_attention\"\ncross_attention_every_n_layers = 9")).cross_attention_blocks == 0);
  }
  SECTION("MoT and MoMa: image and text, MoMa 4 experts each") {
    for (const char* arch : {"mot", "moma"}) {
      const ModelSpec m = load(std::string("[vision_encoder]\n[vlm]\narch = \"") + arch + "\"\n");
      CHECK(m.modality_names == std::vector<std::string>{"image", "text"});
      CHECK(m.num_modalities == 2);
    }
  }
  SECTION("[video]: 16 frames") {
    CHECK(load("[vision_encoder]\n[vlm]\n[video]\n").num_image_tokens == 256);
  }
  SECTION("n_kv_heads unset is 32, KempnerForge's default's, whatever n_heads is") {
    CHECK(load("[model]\ndim = 4096\nn_heads = 64\n").hidden_size == 4096);
    CHECK(load("[model]\ndim = 4096\n").hidden_size == 4096);
    CHECK(refused("[model]\ndim = 12\nn_heads = 3\n") ==
          "<config>: model.n_heads (3) must be divisible by model.n_kv_heads, unset so KempnerForge's default (32)");
    CHECK(refused("[model]\ndim = 4096\nn_heads = 64\n[vision_encoder]\n[vlm]\narch = \"mot\"\nmot_image_n_kv_heads = 16\n") ==
          "<config>: vlm.mot_image_n_kv_heads (16) must equal model.n_kv_heads (32): MoT runs one attention over all "
          "modalities");
  }
}

TEST_CASE("config: the text dtype", "[config]") {
  CHECK(load("[train]\nmixed_precision = \"bf16\"").text_dtype == at::kBFloat16);
  CHECK(load("[train]\nmixed_precision = \"fp8\"").text_dtype == at::kBFloat16);
  CHECK(load("[train]\nmixed_precision = \"fp16\"").text_dtype == at::kHalf);
  CHECK(load("[train]\nmixed_precision = \"fp32\"").text_dtype == at::kFloat);
  CHECK(load("[train]\nbatch_size = 2").text_dtype == at::kBFloat16);
}

// ---------------------------------------------------------------- pooling

TEST_CASE("config: pooling adapters", "[config]") {
  auto pooled = [](int64_t tokens, const std::string& type, int64_t window) {
    return load("[vision_encoder]\nnum_tokens = " + std::to_string(tokens) + "\n[adapter]\ntype = \"" + type +
                "\"\npool_window = " + std::to_string(window) + "\n[vlm]\n")
        .num_image_tokens.value();
  };
  CHECK(pooled(196, "avgpool", 2) == 49);   // 14x14 -> 7x7
  CHECK(pooled(196, "avgpool", 3) == 25);   // ceil edges: 14 / 3 -> 5
  CHECK(pooled(225, "avgpool", 2) == 64);   // 15 / 2 -> 8
  CHECK(pooled(729, "avgpool", 3) == 81);   // 27x27 -> 9x9
  CHECK(pooled(196, "avgpool", 20) == 1);   // a window wider than the grid
  CHECK(pooled(196, "attentional_pool", 2) == 49);
  CHECK(pooled(196, "attentional_pool", 7) == 4);
  CHECK(pooled(50, "linear", 3) == 50);     // projection adapters keep the count
  CHECK(pooled(50, "mlp_2layer", 3) == 50);
  CHECK(load("[adapter]\ntype = \"avgpool\"\n[vision_encoder]\n[vlm]\n").num_image_tokens == 4);  // 16 -> 2x2

  CHECK(refused("[vision_encoder]\nnum_tokens = 50\n[adapter]\ntype = \"avgpool\"\n[vlm]\n") ==
        "<config>: vision_encoder.num_tokens (50) must be a perfect square for adapter.type \"avgpool\" (it pools "
        "the encoder's square patch grid)");
  CHECK(refused("[vision_encoder]\nnum_tokens = 196\n[adapter]\ntype = \"attentional_pool\"\npool_window = 3\n[vlm]\n") ==
        "<config>: adapter.pool_window (3) must divide the side of the 14x14 patch grid (vision_encoder.num_tokens "
        "196) for adapter.type \"attentional_pool\", which pools no ragged edges");
}

// ---------------------------------------------------------------- the RoPE budget

TEST_CASE("config: image tokens + max_text_len within max_seq_len, both ways", "[config]") {
  const std::string video = "[vision_encoder]\ntype = \"siglip2\"\nnum_tokens = 196\n[adapter]\ntype = \"avgpool\"\n"
                            "[vlm]\nmax_text_len = 64\n[video]\nmax_frames = 8\n[model]\nmax_seq_len = ";
  CHECK(load(video + "456").num_image_tokens == 392);
  CHECK(refused(video + "455") ==
        "<config>: model.max_seq_len (455) must be at least the residual's image tokens (392) + vlm.max_text_len "
        "(64) = 456");
  // Cross-Attention: none of the image tokens count.
  CHECK(load(vlm_config("arch = \"cross_attention\"\nmax_text_len = 1024")).num_image_tokens == 64);
  CHECK(refused(vlm_config("arch = \"cross_attention\"\nmax_text_len = 1025")) ==
        "<config>: model.max_seq_len (1024) must be at least the residual's image tokens (0) + vlm.max_text_len "
        "(1025) = 1025");
  CHECK(refused(vlm_config("arch = \"mot\"\nmax_text_len = 961")) ==
        "<config>: model.max_seq_len (1024) must be at least the residual's image tokens (64) + vlm.max_text_len "
        "(961) = 1025");
}

// ---------------------------------------------------------------- refusals

TEST_CASE("config: malformed TOML gives the line and column", "[config]") {
  CHECK(refused("[model]\ndim = = 1\n") ==
        "<config>: line 2, column 7: malformed TOML: Error while parsing value: could not determine value type");
  CHECK(refused("[model\n") ==
        "<config>: line 1, column 7: malformed TOML: Error while parsing table header: expected ']', saw '\\n'");
  CHECK(refused("[model]\ndim = 1\ndim = 2\n") ==
        "<config>: line 3, column 7: malformed TOML: Error while parsing key-value pair: cannot redefine existing "
        "integer 'dim'");
}

TEST_CASE("config: unknown sections and keys, with the valid ones", "[config]") {
  CHECK(refused("[modle]\n") ==
        "<config>: modle: unknown section (valid sections: adapter, checkpoint, data, distributed, eval, metrics, "
        "model, optimizer, profiling, scheduler, train, video, vision_encoder, vlm)");
  CHECK(refused("[vision_encoder]\ntype = \"random\"\nnum_token = 4\n") ==
        "<config>: vision_encoder.num_token: unknown key (valid keys: feature_dim, num_tokens, path, type)");
  CHECK(refused("[adapter]\nwindow = 2\n") ==
        "<config>: adapter.window: unknown key (valid keys: activation, hidden_dim, pool_heads, pool_window, type)");
  CHECK(refused("[model]\ndimm = 4\n").rfind("<config>: model.dimm: unknown key (valid keys: activation, dim, ", 0) == 0);
  CHECK(refused("[train]\nprecision = \"bf16\"\n").rfind("<config>: train.precision: unknown key (valid keys: ", 0) == 0);
  CHECK(refused("[video]\nframes = 8\n").rfind("<config>: video.frames: unknown key (valid keys: data_root, ", 0) == 0);
  // [vlm]'s keys depend on its architecture.
  CHECK(refused(vlm_config("arch = \"mot\"\ncross_attention_every_n_layers = 2")) ==
        "<config>: vlm.cross_attention_every_n_layers: unknown key for vlm.arch \"mot\" (valid keys: arch, freeze, "
        "freeze_schedule, max_text_len, module_patterns, mot_image_n_heads, mot_image_n_kv_heads, mot_modalities, "
        "mot_warm_start_from_text, mot_warm_start_path)");
  CHECK(refused(vlm_config("mot_modalities = [\"image\", \"text\"]")) ==
        "<config>: vlm.mot_modalities: unknown key for vlm.arch \"joint_decoder\" (valid keys: arch, freeze, "
        "freeze_schedule, max_text_len, module_patterns)");
  CHECK(refused(vlm_config("arch = \"moma\"", "[vlm.moma_experts_per_modality]\nimage = 1\ntext = 1\naudio = 1\n")) ==
        "<config>: vlm.moma_experts_per_modality.audio: unknown key (valid keys: image, text)");
  // Names that are not bare keys are quoted, their bytes printable.
  CHECK(refused(std::string("[model]\n\"a.b\\u0000\\\"\" = 1\n")).rfind(
            "<config>: model.\"a.b\\x00\\\"\": unknown key (valid keys: ", 0) == 0);
  // Sections a request does not need are not read past their names.
  CHECK(load("[optimizer]\nanything = [1, {x = 2}]\n[metrics]\n[profiling]\n[checkpoint]\n[distributed]\n"
             "[eval]\n[scheduler]\n[data]\n")
            .arch == Arch::text);
}

TEST_CASE("config: wrong types", "[config]") {
  CHECK(refused("[model]\ndim = \"4096\"\n") == "<config>: model.dim: expected an integer, found a string");
  CHECK(refused("[model]\ndim = 4096.0\n") == "<config>: model.dim: expected an integer, found a float");
  CHECK(refused("[model]\nrope_theta = \"1e4\"\n") == "<config>: model.rope_theta: expected a number, found a string");
  CHECK(refused("[model]\ntie_embeddings = 1\n") == "<config>: model.tie_embeddings: expected a boolean, found an integer");
  CHECK(refused("[train]\nmixed_precision = 16\n") ==
        "<config>: train.mixed_precision: expected a string, found an integer");
  CHECK(refused("model = 5\n") == "<config>: model: expected a table, found an integer");
  CHECK(refused("[[vlm]]\n") == "<config>: vlm: expected a table, found an array");
  CHECK(refused("[optimizer]\n[data]\n[[eval]]\n") == "<config>: eval: expected a table, found an array");
  CHECK(refused("[vision_encoder]\nnum_tokens = 1979-05-27\n") ==
        "<config>: vision_encoder.num_tokens: expected an integer, found a date");
  CHECK(refused("[vision_encoder]\nnum_tokens = 07:32:00\n") ==
        "<config>: vision_encoder.num_tokens: expected an integer, found a time");
  CHECK(refused("[vision_encoder]\nnum_tokens = 1979-05-27T07:32:00Z\n") ==
        "<config>: vision_encoder.num_tokens: expected an integer, found a date-time");
  CHECK(refused("[vision_encoder]\ntype = true\n") == "<config>: vision_encoder.type: expected a string, found a boolean");
  CHECK(refused(vlm_config("arch = 3")) == "<config>: vlm.arch: expected a string, found an integer");
  CHECK(refused(vlm_config("arch = \"mot\"\nmot_modalities = \"image,text\"")) ==
        "<config>: vlm.mot_modalities: expected an array of strings, found a string");
  CHECK(refused(vlm_config("arch = \"mot\"\nmot_modalities = [\"image\", 2]")) ==
        "<config>: vlm.mot_modalities[1]: expected a string, found an integer");
  CHECK(refused(vlm_config("arch = \"moma\"\nmoma_experts_per_modality = 4")) ==
        "<config>: vlm.moma_experts_per_modality: expected a table of integers, found an integer");
  CHECK(refused(vlm_config("arch = \"moma\"", "[vlm.moma_experts_per_modality]\nimage = 2.5\ntext = 1\n")) ==
        "<config>: vlm.moma_experts_per_modality.image: expected an integer, found a float");
  CHECK(refused(vlm_config("freeze = {module = \"adapter\"}")) ==
        "<config>: vlm.freeze: expected an array, found a table");
}

TEST_CASE("config: impossible values", "[config]") {
  CHECK(refused("[model]\ndim = -1\n") == "<config>: model.dim must be positive, got -1");
  CHECK(refused("[model]\nn_layers = 0\n") == "<config>: model.n_layers must be positive, got 0");
  CHECK(refused("[model]\nn_heads = -4\n") == "<config>: model.n_heads must be positive, got -4");
  CHECK(refused("[model]\nvocab_size = 0\n") == "<config>: model.vocab_size must be positive, got 0");
  CHECK(refused("[model]\nn_kv_heads = 0\n") == "<config>: model.n_kv_heads must be positive, got 0");
  CHECK(refused("[model]\nmax_seq_len = 0\n") == "<config>: model.max_seq_len must be positive, got 0");
  CHECK(refused("[model]\ndim = 250\nn_heads = 4\n") ==
        "<config>: model.dim (250) must be divisible by model.n_heads (4)");
  CHECK(refused("[model]\ndim = 256\nn_heads = 4\nn_kv_heads = 3\n") ==
        "<config>: model.n_heads (4) must be divisible by model.n_kv_heads (3)");
  CHECK(refused("[train]\nmixed_precision = \"fp4\"\n") ==
        "<config>: train.mixed_precision must be one of \"bf16\", \"fp16\", \"fp32\", \"fp8\", got \"fp4\"");

  CHECK(refused("[vision_encoder]\ntype = \"dino\"\n") ==
        "<config>: vision_encoder.type must be one of \"random\", \"siglip2\", \"clip\", got \"dino\"");
  CHECK(refused("[vision_encoder]\nfeature_dim = -1\n") ==
        "<config>: vision_encoder.feature_dim must be non-negative, got -1");
  CHECK(refused("[vision_encoder]\nnum_tokens = -16\n") ==
        "<config>: vision_encoder.num_tokens must be non-negative, got -16");
  CHECK(refused("[adapter]\ntype = \"perceiver\"\n") ==
        "<config>: adapter.type must be one of \"mlp_2layer\", \"linear\", \"avgpool\", \"attentional_pool\", got "
        "\"perceiver\"");
  CHECK(refused("[adapter]\npool_window = 0\n") == "<config>: adapter.pool_window must be positive, got 0");

  CHECK(refused(vlm_config("arch = \"perceiver\"")) ==
        "<config>: vlm.arch must be one of \"joint_decoder\", \"cross_attention\", \"mot\", \"moma\", got "
        "\"perceiver\"");
  CHECK(refused(vlm_config("arch = \"text\"")) ==
        "<config>: vlm.arch must be one of \"joint_decoder\", \"cross_attention\", \"mot\", \"moma\", got \"text\"");
  CHECK(refused(vlm_config("max_text_len = 0")) == "<config>: vlm.max_text_len must be positive, got 0");
  CHECK(refused(vlm_config("arch = \"cross_attention\"\ncross_attention_every_n_layers = 0")) ==
        "<config>: vlm.cross_attention_every_n_layers must be positive, got 0");

  CHECK(refused("[video]\nmax_frames = 0\nmin_frames = 1\n[vision_encoder]\n[vlm]\n") ==
        "<config>: video.max_frames must be positive, got 0");
  CHECK(refused("[video]\nmin_frames = 0\n[vision_encoder]\n[vlm]\n") ==
        "<config>: video.min_frames must be positive, got 0");
  CHECK(refused("[video]\nmax_frames = 2\n[vision_encoder]\n[vlm]\n") ==
        "<config>: video.min_frames (4) must be <= video.max_frames (2)");
}

TEST_CASE("config: modalities and experts", "[config]") {
  for (const std::string arch : {"mot", "moma"}) {
    const std::string key = "vlm." + arch + "_modalities";
    auto with = [&](const std::string& list) {
      return refused(vlm_config("arch = \"" + arch + "\"\n" + arch + "_modalities = " + list));
    };
    CHECK(with("[\"image\"]") == "<config>: " + key + " must have at least 2 entries, got [\"image\"]");
    CHECK(with("[]") == "<config>: " + key + " must have at least 2 entries, got []");
    CHECK(with("[\"image\", \"audio\"]") == "<config>: " + key + " must include \"text\", got [\"image\", \"audio\"]");
    CHECK(with("[\"text\", \"audio\"]") == "<config>: " + key + " must include \"image\", got [\"text\", \"audio\"]");
    CHECK(with("[\"image\", \"text\", \"image\"]") ==
          "<config>: " + key + " must not contain duplicates, got [\"image\", \"text\", \"image\"]");
  }
  CHECK(refused(vlm_config("arch = \"moma\"\nmoma_modalities = [\"image\", \"text\", \"audio\"]")) ==
        "<config>: vlm.moma_experts_per_modality must have an entry for each of vlm.moma_modalities, missing "
        "\"audio\"");
  CHECK(refused(vlm_config("arch = \"moma\"", "[vlm.moma_experts_per_modality]\nimage = 2\n")) ==
        "<config>: vlm.moma_experts_per_modality must have an entry for each of vlm.moma_modalities, missing "
        "\"text\"");
  CHECK(refused(vlm_config("arch = \"moma\"", "[vlm.moma_experts_per_modality]\nimage = 2\ntext = 0\n")) ==
        "<config>: vlm.moma_experts_per_modality.text must be positive, got 0");
  CHECK(load(vlm_config("arch = \"moma\"\nmoma_modalities = [\"image\", \"text\", \"audio\"]",
                        "[vlm.moma_experts_per_modality]\naudio = 1\nimage = 2\ntext = 3\n"))
            .num_modalities == 3);
}

TEST_CASE("config: MoT's image heads equal the text's", "[config]") {
  CHECK(load(vlm_config("arch = \"mot\"\nmot_image_n_heads = 4\nmot_image_n_kv_heads = 4")).arch == Arch::mot);
  CHECK(refused(vlm_config("arch = \"mot\"\nmot_image_n_heads = 8")) ==
        "<config>: vlm.mot_image_n_heads (8) must equal model.n_heads (4): MoT runs one attention over all modalities");
  CHECK(refused(vlm_config("arch = \"mot\"\nmot_image_n_kv_heads = 2")) ==
        "<config>: vlm.mot_image_n_kv_heads (2) must equal model.n_kv_heads (4): MoT runs one attention over all "
        "modalities");
  CHECK(refused(vlm_config("arch = \"mot\"\nmot_image_n_heads = -1")) ==
        "<config>: vlm.mot_image_n_heads must be non-negative, got -1");
}

TEST_CASE("config: rules across sections", "[config]") {
  CHECK(refused("[vlm]\n") ==
        "<config>: vision_encoder: missing (a config with [vlm] needs a [vision_encoder] section)");
  CHECK(refused("[vision_encoder]\n[video]\n") ==
        "<config>: vlm: missing (a config with [video] needs a [vlm] section: video runs through the VLM)");
  for (const std::string type : {"siglip2", "clip"})
    CHECK(refused("[vision_encoder]\ntype = \"" + type + "\"\npath = \"x\"\n[vlm]\n") ==
          "<config>: vision_encoder.num_tokens must be given for vision_encoder.type \"" + type +
              "\": a Hugging Face encoder's token count comes from its weights, which a config check does not load; "
              "set vision_encoder.num_tokens to the encoder's patch count (e.g. 196 for a 224-pixel, patch-16 model)");
  // Without [vlm] the encoder is not used: nothing to know.
  CHECK(load("[vision_encoder]\ntype = \"siglip2\"\n").arch == Arch::text);
}

// ---------------------------------------------------------------- hostile configs

TEST_CASE("config: huge numbers never overflow", "[config][hostile]") {
  const std::string max = "9223372036854775807";
  CHECK(refused("[video]\nmax_frames = " + max + "\n[vision_encoder]\nnum_tokens = 196\n[adapter]\ntype = \"avgpool\"\n"
                "[vlm]\narch = \"cross_attention\"\n") ==
        "<config>: video.max_frames (" + max + ") x 49 image tokens per frame is more image tokens than a 64-bit "
        "count holds");
  // The biggest count a frame can have, pooled: 3037000499^2 is the largest square in int64.
  CHECK(load("[model]\nmax_seq_len = " + max + "\n[vision_encoder]\nnum_tokens = 9223372030926249001\n[adapter]\n"
             "type = \"avgpool\"\npool_window = 1\n[vlm]\n")
            .num_image_tokens == 9223372030926249001);
  CHECK(refused("[vision_encoder]\nnum_tokens = " + max + "\n[adapter]\ntype = \"avgpool\"\n[vlm]\n") ==
        "<config>: vision_encoder.num_tokens (" + max + ") must be a perfect square for adapter.type \"avgpool\" (it "
        "pools the encoder's square patch grid)");
  // image tokens + max_text_len past int64.
  CHECK(refused("[model]\nmax_seq_len = " + max + "\n[vision_encoder]\nnum_tokens = " + max + "\n[vlm]\n"
                "max_text_len = " + max + "\n") ==
        "<config>: model.max_seq_len (" + max + ") must be at least the residual's image tokens (" + max +
            ") + vlm.max_text_len (" + max + ") = 18446744073709551614");
  CHECK(refused("[model]\ndim = 9223372036854775808\n") ==
        "<config>: line 2, column 26: malformed TOML: Error while parsing decimal integer: '9223372036854775808' is "
        "not representable in 64 bits");
  CHECK(refused("[model]\ndim = -9223372036854775808\nn_heads = -1\n") ==
        "<config>: model.dim must be positive, got -9223372036854775808");
  CHECK(load("[model]\ndim = " + max + "\nn_heads = 1\nn_kv_heads = 1\nn_layers = " + max + "\nvocab_size = " + max +
             "\nmax_seq_len = " + max + "\n")
            .hidden_size == INT64_MAX);
  CHECK(load("[model]\nn_layers = " + max + "\n[vision_encoder]\n[vlm]\narch = \"cross_attention\"\n"
             "cross_attention_every_n_layers = 1\n")
            .cross_attention_blocks == INT64_MAX);
}

TEST_CASE("config: nesting is bounded before parsing", "[config][hostile]") {
  const std::string too_deep = "tables and arrays nested deeper than 32 levels";
  auto header = [](size_t names) { return "[" + repeat("a.", names - 1) + "a]\n"; };
  // 32 levels are read (and refused as an unknown section); 33 are not parsed.
  CHECK(refused(header(31) + "b = 1\n").rfind("<config>: a: unknown section", 0) == 0);
  CHECK(refused(header(32) + "b = 1\n") == "<config>: line 2, column 3: " + too_deep);
  CHECK(refused(header(33)) == "<config>: line 1, column 65: " + too_deep);
  // A header of 100 000 names, a dotted key of as many, arrays and inline
  // tables 100 000 deep: refused, no stack overflow.
  CHECK(refused(header(100000)) == "<config>: line 1, column 65: " + too_deep);
  CHECK(refused(repeat("a.", 100000) + "a = 1\n") == "<config>: line 1, column 64: " + too_deep);
  CHECK(refused("x = " + repeat("[", 100000)) == "<config>: line 1, column 36: " + too_deep);
  CHECK(refused("x = " + repeat("[", 100000) + repeat("]", 100000)) == "<config>: line 1, column 36: " + too_deep);
  CHECK(refused("x = " + repeat("{a = ", 100000)) == "<config>: line 1, column 163: " + too_deep);
  // Each "[{a = " is two levels: the 16th's key is level 33.
  CHECK(refused("x = " + repeat("[{a = ", 100000)) == "<config>: line 1, column 99: " + too_deep);
  // Quoted names' dots are not separators: the 31st separator makes level 33.
  CHECK(refused("[model]\n" + repeat("\"q.q\".", 40) + "x = 1\n") == "<config>: line 2, column 186: " + too_deep);
  // After [[a]], [a.b] is a level deeper than its names: arrays of tables count.
  CHECK(refused(repeat("[[" + repeat("a.", 15) + "a]]\n", 1) + "[" + repeat("a.", 15) + "a]\nb = 1\n")
            .rfind("<config>: line 2", 0) == 0);
  // Empty inline tables; strings left open (toml++ refuses them).
  CHECK(load("[optimizer]\nx = {}\ny = [{}, {a = {}}]\n").arch == Arch::text);
  CHECK(refused("[optimizer]\nx = \"\"\"" + repeat("[", 100)).find("malformed TOML") != std::string::npos);
  CHECK(refused("[optimizer]\nx = \"" + repeat("[", 100)).find("malformed TOML") != std::string::npos);
  // Strings and comments hide brackets and dots.
  CHECK(load("[optimizer]\nx = \"" + repeat("[a.", 100) + "\"\ny = '''" + repeat("{[.", 100) + "'''\n# " +
             repeat("[[.", 100) + "\nz = \"\"\"\\\"\"\"" + repeat("[", 100) + "\"\"\"\n")
            .arch == Arch::text);
  // A parse error past a deep (allowed) prefix frees it without trouble.
  CHECK(refused(header(31) + "b = = 1\n").find("malformed TOML") != std::string::npos);
}

TEST_CASE("config: table headers toml++ 3.3 asserts on are parse errors", "[config][hostile]") {
  // A header's first character that starts no key: toml++ 3.3 aborts on its
  // own assertion here unless modctx turns its assertions off.
  const std::string no_key = "malformed TOML: Error while parsing key: expected bare key starting character or "
                             "string delimiter, saw ";
  CHECK(refused("[=]\n") == "<config>: line 1, column 2: " + no_key + "'='");
  CHECK(refused("[[[1]]]\n") == "<config>: line 1, column 3: " + no_key + "'['");
  CHECK(refused("[[=") == "<config>: line 1, column 3: " + no_key + "'='");
  CHECK(refused(std::string("[\0]", 3)) == "<config>: line 1, column 2: " + no_key + "'\\u0000'");
}

TEST_CASE("config: non-ASCII where toml++ 3.3 would misread it", "[config][hostile]") {
  // Outside strings and comments TOML is ASCII: refused before toml++ asks
  // whether "é" is whitespace (undefined behaviour in toml++ 3.3).
  const std::string outside = "malformed TOML: a non-ASCII character outside a string or comment";
  CHECK(refused("[model]\nnorm_type = \xc3\xa9\n") == "<config>: line 2, column 13: " + outside);
  CHECK(refused("D\xc6\xa6 = 1\n") == "<config>: line 1, column 2: " + outside);
  CHECK(refused("[model]\ndim = 1\xd0\x96\n") == "<config>: line 2, column 8: " + outside);
  // A quote inside a malformed scalar starts no string: toml++ reads on past it.
  CHECK(refused("x = 30t\"a\xef\xb3\xbf\"\n") == "<config>: line 1, column 10: " + outside);
  CHECK(refused("x = 1979-05-27 \"\xc3\xa9\"\n") == "<config>: line 1, column 17: " + outside);
  CHECK(refused("x = 19[\"\xc3\xa9\"]\n") == "<config>: line 1, column 9: " + outside);
  CHECK(refused("x = 19{a = \"\xc3\xa9\"}\n") == "<config>: line 1, column 13: " + outside);
  // In a multi-line basic string, right after a backslash (an escape, or
  // the line-ending backslash's skipped whitespace): valid TOML in the
  // second case, refused all the same.
  const std::string after_backslash = "a non-ASCII character right after a backslash in a multi-line string "
                                      "(modctx's TOML parser, toml++ 3.3, misreads it there: write it as \\uXXXX)";
  CHECK(refused("[data]\nx = \"\"\"a\\\xc3\xa9\"\"\"\n") == "<config>: line 2, column 10: " + after_backslash);
  CHECK(refused("\"\"\"k\\\xc3\xa9\"\"\" = 1\n") == "<config>: line 1, column 6: " + after_backslash);  // a key, even
  CHECK(refused("[data]\nx = \"\"\"a \\\n   \n  \xc3\xa9\"\"\"\n") ==
        "<config>: line 4, column 3: " + after_backslash);
  // Elsewhere in strings and comments, and as a byte order mark, non-ASCII is read.
  CHECK(load("\xef\xbb\xbf# \xc3\xa9t\xc3\xa9\n[data]\nx = \"\xc3\xa9\"\ny = '\xd0\x96'\n\"\xd0\xba\" = 1\n"
             "z = \"\"\"\xc3\xa9 \\\n  a\xc3\xa9\\\\\xc3\xa9\"\"\"\nw = \'\'\'\\\xc3\xa9\'\'\'\n")
            .arch == Arch::text);
  CHECK(load("[vision_encoder]\n[vlm]\narch = \"mot\"\nmot_modalities = [\"image\", \"text\", \"\xce\xb1\"]\n")
            .modality_names[2] == "\xce\xb1");
}

TEST_CASE("config: NUL bytes, bad UTF-8, binary garbage", "[config][hostile]") {
  CHECK(refused(std::string("[model]\ndim = 4\0", 16) + "\n") ==
        "<config>: line 2, column 8: malformed TOML: Error while parsing decimal integer: expected digit, saw "
        "'\\u0000'");
  CHECK(refused(std::string("\0", 1)).find("malformed TOML") != std::string::npos);
  CHECK(refused("[model]\nnorm_type = \"\xff\xfe\"\n").find("malformed TOML") != std::string::npos);
  CHECK(refused("\x89PNG\r\n\x1a\n").find("malformed TOML") != std::string::npos);
}

TEST_CASE("config: size limit", "[config][hostile]") {
  const std::string limit = "larger than 16 MiB (a config may have at most 16777216 bytes)";
  std::string big = "# " + std::string(17u << 20, 'x') + "\n";
  CHECK(refused(big) == "<config>: " + limit);
  const TempFile file(big);
  ModelSpec spec;
  Status s = modctx::read_model_config_file(file.path, &spec);
  CHECK(s.code == Code::format);
  CHECK(s.message == file.path + ": " + limit);
  // Exactly 16 MiB is read.
  const TempFile at_limit("#" + std::string((16u << 20) - 2, 'x') + "\n");
  s = modctx::read_model_config_file(at_limit.path, &spec);
  CHECK(s.ok());
  // A device without a size is read up to the limit, no further.
  s = modctx::read_model_config_file("/dev/zero", &spec);
  CHECK(s.code == Code::format);
  CHECK(s.message == "/dev/zero: " + limit);
}

// ---------------------------------------------------------------- files and the throwing forms

TEST_CASE("config: files", "[config]") {
  ModelSpec spec;
  Status s = modctx::read_model_config_file(kConfigs + "/no-such.toml", &spec);
  CHECK(s.code == Code::io);
  CHECK(s.message == kConfigs + "/no-such.toml: cannot open: No such file or directory");
  s = modctx::read_model_config_file(kConfigs, &spec);
  CHECK(s.code == Code::io);
  CHECK(s.message == kConfigs + ": cannot read: Is a directory");
  // The file's path names it in messages.
  const TempFile bad("[model]\ndim = 0\n");
  s = modctx::read_model_config_file(bad.path, &spec);
  CHECK(s.message == bad.path + ": model.dim must be positive, got 0");
  // A null output only checks.
  CHECK(modctx::read_model_config("[model]\ndim = 8\nn_heads = 2\nn_kv_heads = 2\n", "<config>", nullptr).ok());
}

TEST_CASE("config: throwing forms", "[config]") {
  CHECK(modctx::model_from_config("[model]\ndim = 64\nn_heads = 2\nn_kv_heads = 1\n").hidden_size == 64);
  CHECK(modctx::model_from_config_file(kConfigs + "/video.toml").num_image_tokens == 392);
  try {
    modctx::model_from_config("[model]\ndim = 0\n", "mine.toml");
    FAIL("no exception");
  } catch (const modctx::Error& e) {
    CHECK(e.code() == Code::format);
    CHECK(std::string(e.what()) == "mine.toml: model.dim must be positive, got 0");
  }
  CHECK_THROWS_AS(modctx::model_from_config_file("/nonexistent/config.toml"), modctx::Error);
}
