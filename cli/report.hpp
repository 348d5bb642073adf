// What `modctx check` prints: the one-file output, the line per file and the
// summary of many, JSON lines, and the progress line on a terminal.
//
// JSON lines (--format json): one object per input, in the order checked:
//   {"path": "ctx/a.json", "status": "valid", "code": null, "message": null, "describe": "ModalityContext(...)"}
//   {"path": "ctx/b.json", "status": "invalid", "code": "MODCTX_ERR_ROUTES", "message": "ModalityContext: ..."}
//   {"path": "ctx/c.json", "status": "unreadable", "code": "MODCTX_ERR_FORMAT", "message": "/fields: ..."}
// A name that is not valid UTF-8 (Linux names are bytes) is written with
// each invalid byte replaced by U+FFFD, and the exact bytes are added as
// "path_bytes" (base64), after "path": every JSON parser reads the line, and
// the name can be recovered exactly. Messages are written the same way
// (without a bytes field).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "verdict.hpp"

namespace modctx::cli {

enum class Format { text, json };

// The one-file text output: "OK" and the description, or the code and the
// message on standard output, or "modctx: ..." on standard error.
void print_single(const Verdict& verdict);

// "modctx: MESSAGE" and the usage on standard error; returns kExitUnusable.
int print_usage_error(const std::string& message, const std::string& usage);

// One JSON line for an input (with its newline).
std::string json_line(const std::string& path, const Verdict& verdict);

// "a.json: MODCTX_ERR_ROUTES: ModalityContext: ..." (with its newline);
// "a.json: OK" for a valid one.
std::string text_line(const std::string& path, const Verdict& verdict);

// Many inputs: a line per input (text: only those not valid, unless
// verbose), the summary line "N checked: V valid, I invalid, U unreadable"
// (text only), a progress line on standard error while it is a terminal and
// the run has lasted more than a second.
class Report {
 public:
  using Clock = std::chrono::steady_clock;
  Report(Format format, bool verbose, size_t total, Clock::time_point started);
  void add(const std::string& path, const Verdict& verdict);
  // Prints the summary; returns the exit status over all inputs.
  int finish();

 private:
  void progress();
  void clear_progress();

  Format format_;
  bool verbose_;
  size_t total_, valid_ = 0, invalid_ = 0, unreadable_ = 0;
  bool tty_;         // standard error is a terminal: progress
  bool stdout_tty_;  // standard output is one too: clear the progress before a result line
  bool progress_shown_ = false;
  Clock::time_point started_, last_progress_;
};

}  // namespace modctx::cli
