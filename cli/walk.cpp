// Directory walking for `modctx check PATH...` (see walk.hpp).
#include "walk.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "input.hpp"

namespace modctx::cli {

namespace {

using DirId = std::pair<dev_t, ino_t>;

struct Walker {
  std::vector<Target>* out;
  std::set<DirId> walked;                           // every directory entered
  std::vector<std::pair<DirId, std::string>> chain;  // the directories being walked, outermost first

  void report(const std::string& path, Code code, const std::string& message) {
    out->push_back(Target{path, true, true, unreadable(code, message, path + ": " + message)});
  }

  void walk(const std::string& path, const struct stat& st) {
    const DirId id{st.st_dev, st.st_ino};
    for (const auto& [ancestor, ancestor_path] : chain) {
      if (ancestor == id) {
        report(path, Code::io, "symbolic link loop: leads back to " + ancestor_path + "; not followed");
        return;
      }
    }
    if (!walked.insert(id).second) return;  // already walked under another name
    DIR* dir = ::opendir(path.c_str());
    if (!dir) {
      report(path, Code::io, std::string("cannot list the directory: ") + std::strerror(errno));
      return;
    }
    std::vector<std::pair<std::string, unsigned char>> entries;
    errno = 0;
    while (const dirent* e = ::readdir(dir)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      entries.emplace_back(e->d_name, e->d_type);
      errno = 0;
    }
    const int err = errno;
    ::closedir(dir);
    if (err != 0) report(path, Code::io, std::string("cannot list the directory: ") + std::strerror(err));
    std::sort(entries.begin(), entries.end());
    chain.emplace_back(id, path);
    const std::string prefix = path.back() == '/' ? path : path + "/";
    for (const auto& [name, type] : entries) {
      const std::string child = prefix + name;
      const bool wanted = is_context_name(name);
      if (type == DT_REG) {
        if (wanted) add(child);
        continue;
      }
      if (type != DT_DIR && type != DT_LNK && type != DT_UNKNOWN) {
        if (wanted) add(child);  // a FIFO, device or socket: reported by its kind, not read
        continue;
      }
      struct stat child_st {};
      if (::stat(child.c_str(), &child_st) != 0) {
        // A dangling link or a loop of links: reported when it has a
        // context's name (the reader says why) or is a loop.
        if (wanted) add(child);
        else if (errno == ELOOP) report(child, Code::io, std::string("symbolic link loop: ") + std::strerror(ELOOP));
        continue;
      }
      if (S_ISDIR(child_st.st_mode)) walk(child, child_st);
      else if (wanted) add(child);
    }
    chain.pop_back();
  }

  void add(const std::string& path) { out->push_back(Target{path, true, false, {}}); }
};

}  // namespace

std::vector<Target> expand_paths(const std::vector<std::string>& paths) {
  std::vector<Target> targets;
  Walker walker{&targets, {}, {}};
  for (const std::string& path : paths) {
    struct stat st {};
    if (path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      walker.walk(path, st);
    } else {
      targets.push_back(Target{path, false, false, {}});
    }
  }
  return targets;
}

}  // namespace modctx::cli
