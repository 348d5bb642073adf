// The checker's answer for one input, whatever the output format.
#pragma once

#include <string>

#include "modctx/status.hpp"

namespace modctx::cli {

enum class Outcome {
  valid,       // exit 0
  invalid,     // a check failed: exit 1
  unreadable,  // not a usable context, or cannot be checked as asked: exit 2
};

struct Verdict {
  Outcome outcome = Outcome::valid;
  Code code = Code::ok;     // the failed check's code, or why the input is unreadable
  std::string message;      // the check's exact message; for unreadable input what is wrong, without the name
  std::string describe;     // valid: ModalityContext::describe()
  std::string diagnostic;   // unreadable: the one-file checker's standard-error line, after "modctx: "
};

inline Verdict invalid(const Status& status) {
  Verdict v;
  v.outcome = Outcome::invalid;
  v.code = status.code;
  v.message = status.message;
  return v;
}

inline Verdict unreadable(Code code, std::string message, std::string diagnostic) {
  Verdict v;
  v.outcome = Outcome::unreadable;
  v.code = code;
  v.message = std::move(message);
  v.diagnostic = std::move(diagnostic);
  return v;
}

// The exit statuses: every context valid; one invalid; unreadable input or
// a usage error.
constexpr int kExitValid = 0, kExitInvalid = 1, kExitUnusable = 2;

// The exit status for a verdict (and the worst over many).
inline int exit_status(Outcome outcome) {
  switch (outcome) {
    case Outcome::valid: return kExitValid;
    case Outcome::invalid: return kExitInvalid;
    default: return kExitUnusable;
  }
}

}  // namespace modctx::cli
