#include "apps/input_files.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace bitlane::cli {
namespace {

InputFile listed(const std::string& path, const struct stat& s) {
  const bool regular = S_ISREG(s.st_mode) && s.st_size >= 0;
  return {path, regular ? static_cast<uint64_t>(s.st_size) : kUnknownSize, regular};
}

struct Walker {
  InputWalk out;
  std::vector<std::pair<dev_t, ino_t>> stack;  // folders on the current path

  void walk(const std::string& dir, const struct stat& st) {
    const auto id = std::make_pair(st.st_dev, st.st_ino);
    if (std::find(stack.begin(), stack.end(), id) != stack.end()) {
      out.problems.push_back(dir + ": symlink loop (leads back to a folder being walked); not followed");
      return;
    }
    DIR* d = opendir(dir.c_str());
    if (!d) {
      out.problems.push_back(dir + ": cannot read folder (" + std::strerror(errno) + ")");
      return;
    }
    std::vector<std::pair<std::string, unsigned char>> names;  // and d_type
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n, e->d_type);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    stack.push_back(id);
    for (const auto& [n, type] : names) {
      const std::string path = dir + (dir.back() == '/' ? "" : "/") + n;
      // A regular file by its directory entry needs no stat(): its size is
      // found when it is read (FileBatchReader). Folders, symlinks and
      // entries of unknown type are looked up.
      if (type == DT_REG) {
        if (has_image_extension(path)) out.files.push_back({path, kUnknownSize, true});
        else ++out.skipped;
        continue;
      }
      struct stat s {};
      if (stat(path.c_str(), &s) != 0) {
        out.problems.push_back(path + ": " + (errno == ELOOP ? "symlink loop" : std::strerror(errno)));
        continue;
      }
      if (S_ISDIR(s.st_mode)) {
        walk(path, s);
      } else if (has_image_extension(path)) {
        out.files.push_back(listed(path, s));
      } else {
        ++out.skipped;
      }
    }
    stack.pop_back();
  }
};

}  // namespace

bool has_image_extension(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {"png", "jpg", "jpeg", "bmp", "pgm", "ppm", "pnm"})
    if (ext == e) return true;
  return false;
}

InputFile listed_file(const std::string& path) {
  struct stat s {};
  return stat(path.c_str(), &s) == 0 ? listed(path, s) : InputFile{path};
}

InputWalk collect_inputs(const std::vector<std::string>& args) {
  Walker w;
  for (const std::string& a : args) {
    struct stat s {};
    if (stat(a.c_str(), &s) != 0) {
      w.out.problems.push_back(a + ": " + (errno == ELOOP ? "symlink loop" : std::strerror(errno)));
      continue;
    }
    if (S_ISDIR(s.st_mode))
      w.walk(a, s);
    else
      w.out.files.push_back(listed(a, s));  // named explicitly: always tried
  }
  return std::move(w.out);
}

}  // namespace bitlane::cli
