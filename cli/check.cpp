// One input checked (see check.hpp).
#include "check.hpp"

#include <new>
#include <utility>

#include "input.hpp"
#include "modctx/modctx.hpp"

namespace modctx::cli {

namespace {

// The loader's messages start with the input's name: the multi-file output
// gives the name once, at the start of the line.
std::string without_name(const std::string& message, const std::string& name) {
  const std::string prefix = name + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
}

Description read_description(const std::string& name, bool from_walk, const CheckOptions& options) {
  const Document doc = read_document(name, from_walk);
  Description description;
  if (doc.format == Document::Format::safetensors) {
    LoadedContext loaded = doc.bytes ? load_safetensors_from_memory(doc.bytes->data(), doc.bytes->size(), doc.bytes, name)
                                     : load_safetensors(name);
    description.fields = std::move(loaded.fields);
    description.forward = std::move(loaded.forward);
    if (options.forward) description.forward = options.forward;
  } else {
    description = parse_description(*doc.bytes, options.forward);
  }
  if (options.model) {
    description.model = options.model;
    if (!description.forward)
      throw DescriptionError("/forward", "a model check needs the forward arguments, and " + name +
                                             " has none (give them with --forward)");
  }
  return description;
}

}  // namespace

Verdict verdict_for(const std::string& name, bool from_walk, const CheckOptions& options) {
  Description description;
  try {
    description = read_description(name, from_walk, options);
  } catch (const InputError& e) {
    return unreadable(e.code(), e.what(), e.diagnostic());
  } catch (const DescriptionError& e) {
    const std::string message = (e.path().empty() ? "" : e.path() + ": ") + e.what();
    return unreadable(Code::format, message, name + ": " + message);
  } catch (const Error& e) {
    // The safetensors loader's: FORMAT, UNSUPPORTED or IO.
    return unreadable(e.code(), without_name(e.what(), name),
                      std::string(e.what()) + " (" + code_name(e.code()) + ")");
  } catch (const std::bad_alloc&) {
    // Under a memory limit smaller than what the input needs (a JSON document
    // may take 64 MiB): this input is unreadable here, the others still run.
    const std::string message = "out of memory while reading it (a JSON document may take up to 64 MiB)";
    return unreadable(Code::out_of_memory, message, name + ": " + message);
  }
  ModalityContext context;
  Status status = ModalityContext::make(std::move(description.fields), &context);
  if (!status.ok()) return invalid(status);
  if (description.model) {
    ValueChecks values;
    values.modality_ids_range = values.token_ids_range = options.values;
    status = validate_model(&context, *description.model, ModelForward::of(*description.forward), values);
  } else if (description.forward) {
    status = validate_forward(context.facts(), description.forward->args());
  }
  if (!status.ok()) return invalid(status);
  if (options.values && !description.model) {
    const std::string message = "--values needs a model (a \"model\" section, --model or --config)";
    return unreadable(Code::invalid_argument, message, name + ": " + message);
  }
  Verdict v;
  v.describe = context.describe();
  return v;
}

}  // namespace modctx::cli
