// Text from outside (a file's bytes, a parser's message about them) made safe
// to print in a message: the core's internal helper for the JSON and TOML
// readers.
#pragma once

#include <string>
#include <string_view>

namespace modctx {

// Bytes outside printable ASCII as \xNN; with `quoting`, quotes and
// backslashes escaped too (for text printed between quotes).
std::string printable(std::string_view text, bool quoting = false);

}  // namespace modctx
