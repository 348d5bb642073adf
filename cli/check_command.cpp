// `modctx check PATH...`: options, then every input in order (see check.hpp
// for one input, walk.hpp for paths, report.hpp for the output).
#include "check_command.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "check.hpp"
#include "input.hpp"
#include "modctx/config.hpp"
#include "report.hpp"
#include "walk.hpp"

namespace modctx::cli {

const char* const kCheckUsage =
    "usage: modctx check [--values] [--model JSON | --config FILE] [--forward ARGS] [--format text|json]\n"
    "                    [--verbose] PATH...\n"
    "                    check the contexts in the files (JSON or safetensors; \"-\": standard input)\n"
    "                    and directories (walked for *.json and *.safetensors) given\n";

namespace {

const char* const kCheckHelp =
    "\n"
    "Options (they apply to every file):\n"
    "  --values          also run the checks that read tensor values (token ids in\n"
    "                    [0, vocab_size), modality_ids in [0, num_modalities)); they need a\n"
    "                    model (a \"model\" section, --model or --config) and tensors with data\n"
    "                    (\"values\" in a JSON description, or a safetensors file)\n"
    "  --model JSON      check against this model, e.g. '{\"arch\": \"mot\", \"hidden_size\": 4096}'\n"
    "                    (replaces a file's \"model\" section; needs forward arguments)\n"
    "  --config FILE     check against the model a KempnerForge TOML training config builds\n"
    "                    (its architecture, dim, vocab_size, max_seq_len, image tokens,\n"
    "                    modalities); replaces a file's \"model\" section, as --model does\n"
    "  --forward ARGS    the forward arguments, replacing a file's own (its \"forward\" section,\n"
    "                    or those a safetensors file saved): tokens=2,24 | tokens=none,kv_caches |\n"
    "                    kv_caches=false | the JSON of a \"forward\" section, such as\n"
    "                    '{\"tokens\": [2, 24], \"kv_caches\": {\"seq_len\": 37, \"capacity\": 1024,\n"
    "                    \"batch\": 2}}'\n"
    "  --format json     one JSON object per line per file: path, status (valid, invalid,\n"
    "                    unreadable), code, message, and describe for a valid context; a name\n"
    "                    that is not UTF-8 has U+FFFD for each bad byte, its bytes in path_bytes\n"
    "                    (base64)\n"
    "  --verbose, -v     text output: a \"PATH: OK\" line for valid files too\n"
    "  --                the arguments after it are paths, even if they start with \"-\"\n"
    "\n"
    "One file (or \"-\"): \"OK\" and the context's description, or the failed check's code and\n"
    "its message on two lines; for unreadable input, a message on standard error.\n"
    "Several paths, or a directory: a line \"PATH: CODE: message\" for each file that is not\n"
    "valid, then \"N checked: V valid, I invalid, U unreadable\"; progress on standard error\n"
    "when it is a terminal and the run lasts more than a second. A directory is walked\n"
    "recursively, in byte order of names, following symbolic links; a link that leads back\n"
    "into the walk (a loop), a directory that cannot be listed, a FIFO or a device found in\n"
    "a walk are reported as unreadable, never followed or read. A path that does not exist\n"
    "among several is a usage error (nothing is checked), and so is finding no file to check.\n"
    "\n"
    "Limits: a JSON document at most 64 MiB (enforced while reading: /dev/zero on standard\n"
    "input stops there), nested at most 32 levels, each key once per object (a duplicate key\n"
    "is an error naming its JSON path); a safetensors header at most 100 MB; a safetensors\n"
    "file on standard input or a FIFO at most its header and 1 GiB of tensor data (a file\n"
    "given by path is read up to 64 MiB and mapped beyond). A FIFO named on the command line\n"
    "is read as a stream (e.g. <(cat ctx.json)); character and block devices and sockets\n"
    "are refused.\n"
    "\n"
    "Exit status: 0 every context valid, 1 at least one invalid and none unreadable, 2 any\n"
    "unreadable, or a usage error.\n";

// "does not exist" for a path among several: ENOENT or ENOTDIR.
bool missing(const std::string& path, int* err) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return false;
  *err = errno;
  return errno == ENOENT || errno == ENOTDIR;
}

}  // namespace

int check_command(int argc, char** argv) {
  const auto started = std::chrono::steady_clock::now();
  std::ios::sync_with_stdio(false);  // standard output fully buffered: one write per many lines
  CheckOptions options;
  Format format = Format::text;
  bool verbose = false, paths_only = false;
  std::optional<std::string> model_option;  // "--model" or "--config", once given
  std::optional<std::string> config_path;
  std::vector<std::string> paths;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (paths_only || arg.size() < 2 || arg[0] != '-') {
      paths.push_back(arg);
      continue;
    }
    if (arg == "--") {
      paths_only = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << kCheckUsage << kCheckHelp;
      return 0;
    }
    if (arg == "--values") {
      options.values = true;
      continue;
    }
    if (arg == "--verbose" || arg == "-v") {
      verbose = true;
      continue;
    }
    // Options with a value: "--model JSON" or "--model=JSON".
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg.erase(eq);
    } else if (arg == "--model" || arg == "--config" || arg == "--forward" || arg == "--format") {
      if (i + 1 >= argc) return print_usage_error("check: " + arg + " needs a value", kCheckUsage);
      value = argv[++i];
    }
    if (arg == "--model" || arg == "--config") {
      // One model: the two together are a contradiction, not a replacement.
      if (model_option && *model_option != arg)
        return print_usage_error("check: give --model or --config, not both", kCheckUsage);
      model_option = arg;
    }
    if (arg == "--config") {
      config_path = value;  // read once the command line is known to be usable
      continue;
    }
    try {
      if (arg == "--model") options.model = parse_model_option(value);
      else if (arg == "--forward") options.forward = parse_forward_option(value);
      else if (arg == "--format" && (value == "text" || value == "json")) format = value == "json" ? Format::json : Format::text;
      else if (arg == "--format") return print_usage_error("check: --format is text or json, not \"" + value + "\"", kCheckUsage);
      else return print_usage_error("check: unknown option " + arg, kCheckUsage);
    } catch (const DescriptionError& e) {
      std::cerr << "modctx: " << e.path() << ": " << e.what() << '\n';
      return kExitUnusable;
    }
  }
  if (paths.empty()) return print_usage_error("check needs a PATH (\"-\" for standard input)", kCheckUsage);
  size_t stdin_count = 0;
  bool any_missing = false;
  for (const std::string& path : paths) {
    int err = 0;
    if (path == "-") ++stdin_count;
    else if (paths.size() > 1 && missing(path, &err)) {
      std::cerr << "modctx: check: " << path << ": " << std::strerror(err) << '\n';
      any_missing = true;
    }
  }
  if (any_missing) return print_usage_error("check: nothing was checked", kCheckUsage);
  if (stdin_count > 1) return print_usage_error("check: \"-\" (standard input) given more than once", kCheckUsage);
  if (config_path) {
    // Read once for every file; unreadable as a description is (exit 2).
    ModelSpec model;
    const Status status = read_model_config_file(*config_path, &model);
    if (!status.ok()) {
      std::cerr << "modctx: " << status.message << " (" << code_name(status.code) << ")\n";
      return kExitUnusable;
    }
    options.model = std::move(model);
  }

  const std::vector<Target> targets = expand_paths(paths);
  if (format == Format::text && paths.size() == 1 && targets.size() == 1 && !targets[0].from_walk) {
    // One file: the output of the one-file checker, unchanged.
    const Verdict verdict = verdict_for(targets[0].path, false, options);
    print_single(verdict);
    std::cout.flush();
    return exit_status(verdict.outcome);
  }
  if (targets.empty()) {
    std::string list;
    for (const std::string& path : paths) list += (list.empty() ? "" : ", ") + path;
    std::cerr << "modctx: check: no .json or .safetensors file in " << list << '\n';
    return kExitUnusable;
  }
  Report report(format, verbose, targets.size(), started);
  for (const Target& t : targets)
    report.add(t.path, t.has_problem ? t.problem : verdict_for(t.path, t.from_walk, options));
  return report.finish();
}

}  // namespace modctx::cli
