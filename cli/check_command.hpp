// `modctx check`: its options, and the run over every path given.
#pragma once

namespace modctx::cli {

// The usage lines of `modctx check` (also in `modctx --help`).
extern const char* const kCheckUsage;

// argv: the arguments after "check". Returns the exit status.
int check_command(int argc, char** argv);

}  // namespace modctx::cli
