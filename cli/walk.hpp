// The paths of `modctx check PATH...` turned into the list of inputs to check,
// in a deterministic order.
//
// A directory is walked recursively for names ending in ".json" or
// ".safetensors"; the entries of each directory in byte order of their
// names, depth first. Symbolic links are followed, to files and to
// directories, but a directory is never entered twice: one that leads back
// to a directory being walked (a symbolic link loop) is reported, one
// already walked through another path is skipped. What cannot be listed or
// followed is reported, never dropped. Any other path (a file, "-", a FIFO,
// a device) is checked as given, whatever its name.
#pragma once

#include <string>
#include <vector>

#include "verdict.hpp"

namespace modctx::cli {

struct Target {
  std::string path;         // as given, or DIR/NAME for what a walk found
  bool from_walk = false;   // found in a directory: only a regular file is read
  bool has_problem = false; // reported as `problem`, never read
  Verdict problem;
};

std::vector<Target> expand_paths(const std::vector<std::string>& paths);

}  // namespace modctx::cli
